/**
 * The READMEs' configuration tables must name every top-level key of the schema, so a new section
 * cannot ship undocumented (the full reference, docs/configuration.md, is generated and checked by
 * test/config).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { configSchema } from '../../src/config/schema.js';

const topLevelKeys = Object.keys(configSchema.shape).filter((k) => k !== '$schema');

for (const file of ['README.md', 'README.zh-CN.md']) {
  test(`${file}: the configuration table names every top-level key`, () => {
    const text = readFileSync(new URL(`../../${file}`, import.meta.url), 'utf8');
    const rows = text.split('\n').filter((line) => line.startsWith('| `'));
    const named = new Set(rows.flatMap((row) => [...row.split('|')[1]!.matchAll(/`([a-z_$.]+)`/g)].map((m) => m[1]!.split('.')[0]!)));
    const missing = topLevelKeys.filter((k) => !named.has(k));
    assert.deepEqual(missing, [], `top-level keys missing from ${file}'s configuration table`);
  });
}
