/**
 * Every config shown in the READMEs must load: docs that users copy from must not rot.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/load.js';

function jsonConfigs(file: string): string[] {
  const text = readFileSync(new URL(`../../${file}`, import.meta.url), 'utf8');
  return [...text.matchAll(/```json\n([\s\S]*?)```/g)].map((m) => m[1]!).filter((block) => block.includes('"mode"'));
}

for (const file of ['README.md', 'README.zh-CN.md']) {
  test(`${file}: every config example loads`, async (t) => {
    const blocks = jsonConfigs(file);
    assert.ok(blocks.length >= 4, `${file} shows its config examples`);
    const dir = await mkdtemp(join(tmpdir(), 'qproxy-readme-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    for (const [i, block] of blocks.entries()) {
      const path = join(dir, `example-${i}.json`);
      await writeFile(path, block);
      assert.doesNotThrow(() => loadConfig({ path, env: {}, cwd: dir }), `example ${i} of ${file}:\n${block}`);
    }
  });
}
