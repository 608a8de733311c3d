/**
 * docs/errors.md must explain every stable error code the sources raise, so a user who meets one
 * in a log, an API answer or a record can look it up.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const SRC = fileURLToPath(new URL('../../src/', import.meta.url));

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

test('docs/errors.md lists every QP_ERR_ code used in src/', () => {
  const doc = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');
  const codes = new Set<string>();
  for (const file of sources(SRC)) {
    // Whole codes in quotes; a prefix such as 'QP_ERR_STORE_' that code completes at run time is not one.
    for (const m of readFileSync(file, 'utf8').matchAll(/['"`](QP_ERR_[A-Z0-9_]*[A-Z0-9])['"`]/g)) codes.add(m[1]!);
  }
  assert.ok(codes.size >= 50, `found the codes in src/ (${codes.size})`);
  const missing = [...codes].filter((code) => !doc.includes(`\`${code}\``)).sort();
  assert.deepEqual(missing, [], 'codes missing from docs/errors.md');
});
