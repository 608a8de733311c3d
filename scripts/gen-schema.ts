/**
 * Writes config.schema.json (repo root) and docs/configuration.md from the zod config schema:
 * `npm run schema`. `--check` writes nothing and exits 1 when a file on disk is out of date.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { renderSchema } from '../src/config/json-schema.js';
import { renderConfigReference } from '../src/config/reference-doc.js';

const outputs = [
  { target: fileURLToPath(new URL('../config.schema.json', import.meta.url)), text: renderSchema() },
  { target: fileURLToPath(new URL('../docs/configuration.md', import.meta.url)), text: renderConfigReference() },
];

for (const { target, text } of outputs) {
  if (process.argv.includes('--check')) {
    let current = '';
    try {
      current = readFileSync(target, 'utf8');
    } catch {
      // A missing file is simply out of date.
    }
    if (current !== text) {
      process.stderr.write(`${target} is out of date: run npm run schema\n`);
      process.exitCode = 1;
    } else {
      process.stdout.write(`${target} is up to date\n`);
    }
  } else {
    writeFileSync(target, text);
    process.stdout.write(`wrote ${target}\n`);
  }
}
