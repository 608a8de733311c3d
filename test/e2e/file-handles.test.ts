/**
 * At start a node compares its file-handle limit with what its connection limits may take: below
 * it, a connection flood would leave every listener (the API's included) unable to accept, so the
 * operator is warned at start. The child runs under prlimit; nothing is raised or lowered here.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { backend, startCli, tempDir } from './helpers.js';

async function startRecord(dir: string, name: string, fileLimit: number, maxConnections?: number): Promise<string[]> {
  const downstream = await backend();
  const config = join(dir, `${name}.json`);
  await writeFile(
    config,
    JSON.stringify({
      mode: 'Record',
      node_id: name,
      http: { host: '127.0.0.1', port: 0, downstream: downstream.url, ...(maxConnections !== undefined && { limits: { max_connections: maxConnections } }) },
      api: { host: '127.0.0.1', port: 0 },
      storage: { path: join(dir, `${name}.db`) },
    }),
  );
  return (await startCli(config, { launcher: ['prlimit', `--nofile=${fileLimit}:${fileLimit}`] })).stdout;
}

test('a Record node whose file-handle limit cannot hold its connection limits warns at start; one that can does not', async () => {
  const dir = await tempDir();
  // Defaults: 4096 HTTP connections × 2 handles + 256 API + 64 = 8512.
  const short = await startRecord(dir, 'short', 1024);
  // Logged before the listeners bind, so it is out by the time the start line is.
  const warned = short.find((l) => l.includes('file-handle limit'));
  assert.ok(warned, 'a warning about the file-handle limit');
  const entry = JSON.parse(warned) as { level: number; file_handle_limit: number; file_handles_needed: number };
  assert.equal(entry.level, 40);
  assert.equal(entry.file_handle_limit, 1024);
  assert.equal(entry.file_handles_needed, 8512);

  // 300 × 2 + 256 + 64 = 920 fit in 1024.
  const fits = await startRecord(dir, 'fits', 1024, 300);
  assert.ok(fits.some((l) => l.includes('qproxy started')));
  assert.equal(fits.some((l) => l.includes('file-handle limit')), false);
});
