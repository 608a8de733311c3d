/**
 * Writes config.schema.json (repo root) from the zod config schema: `npm run schema`.
 * `--check` writes nothing and exits 1 when the file on disk is out of date (for CI).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { renderSchema } from '../src/config/json-schema.js';

const target = fileURLToPath(new URL('../config.schema.json', import.meta.url));
const text = renderSchema();

if (process.argv.includes('--check')) {
  let current = '';
  try {
    current = readFileSync(target, 'utf8');
  } catch {
    // A missing file is simply out of date.
  }
  if (current !== text) {
    process.stderr.write(`${target} is out of date: run npm run schema\n`);
    process.exit(1);
  }
  process.stdout.write(`${target} is up to date\n`);
} else {
  writeFileSync(target, text);
  process.stdout.write(`wrote ${target}\n`);
}
