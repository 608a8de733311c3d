/**
 * docs/metrics.md must name every metric a node exports, so the list users build dashboards from
 * cannot drift from the code.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Metrics } from '../../src/metrics/metrics.js';

test('docs/metrics.md lists every QProxy metric the registry exports', async () => {
  const doc = readFileSync(new URL('../../docs/metrics.md', import.meta.url), 'utf8');
  const metrics = new Metrics({ collectDefault: false });
  const names = (await metrics.registry.getMetricsAsJSON()).map((m) => m.name);
  assert.ok(names.length >= 30, `the registry holds QProxy's metrics (found ${names.length})`);
  const missing = names.filter((name) => !doc.includes(`\`${name}\``));
  assert.deepEqual(missing, [], 'metrics missing from docs/metrics.md');
});
