/**
 * Issue 17, defect 3, end to end: the store files of a running Record node are deleted (and a
 * directory put in their place, so the unhealthy state lasts until it is removed). /readyz and
 * `qproxy_store_healthy` go red with the reason, the error is logged, then green once the path is
 * free again; records proxied afterwards are in the fresh file after SIGTERM.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdirSync, rmSync, rmdirSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { backend, httpRequest, poll, startCli, tempDir } from './helpers.js';

test('a Record node whose store files are deleted reports it on /readyz and the metrics, recovers, and keeps what it records afterwards', async () => {
  const dir = await tempDir();
  const { url } = await backend();
  const configPath = join(dir, 'config.json');
  const dbPath = join(dir, 'data', 'q.db');
  await writeFile(
    configPath,
    JSON.stringify({
      mode: 'Record',
      node_id: 'loss-node',
      http: { host: '127.0.0.1', port: 0, downstream: url },
      api: { host: '127.0.0.1', port: 0 },
      storage: { path: 'data/q.db', flush_interval: '20ms' },
      log: { level: 'info' },
    }),
  );
  const node = await startCli(configPath);
  const status = async (): Promise<{ records: { count: number }; storage: { healthy: boolean; lost_records: number } }> =>
    JSON.parse((await httpRequest(`${node.api}/api/status`)).body) as { records: { count: number }; storage: { healthy: boolean; lost_records: number } };

  for (let i = 0; i < 5; i++) assert.equal((await httpRequest(`${node.http}/before/${i}`)).status, 200);
  await poll(status, (s) => s.records.count === 5);
  assert.equal((await httpRequest(`${node.api}/readyz`)).status, 200);

  for (const suffix of ['', '-wal', '-shm']) rmSync(dbPath + suffix, { force: true });
  mkdirSync(dbPath);
  const red = await poll(() => httpRequest(`${node.api}/readyz`), (r) => r.status === 503);
  assert.equal(red.status, 503);
  const body = JSON.parse(red.body) as { status: string; reason: string };
  assert.equal(body.status, 'unready');
  assert.match(body.reason, /^store: another file was put at the store path/);
  assert.match((await httpRequest(`${node.api}/metrics`)).body, /^qproxy_store_healthy 0$/m);
  assert.equal((await httpRequest(`${node.api}/healthz`)).status, 200, 'liveness is not readiness');
  // The log line travels through a pipe: wait for it rather than read stdout at once.
  const loggedError = (): boolean =>
    node.stdout.some((l) => (JSON.parse(l) as { level: number; msg: string }).level >= 50 && l.includes('another file was put at the store path'));
  assert.ok(await poll(() => Promise.resolve(loggedError()), (v) => v), 'the problem is logged as an error');

  // Traffic flows on while the store is red.
  assert.equal((await httpRequest(`${node.http}/during`)).status, 200);

  rmdirSync(dbPath);
  const green = await poll(() => httpRequest(`${node.api}/readyz`), (r) => r.status === 200);
  assert.equal(green.status, 200);
  assert.match((await httpRequest(`${node.api}/metrics`)).body, /^qproxy_store_healthy 1$/m);
  const recovered = await status();
  assert.equal(recovered.storage.healthy, true);
  assert.equal(recovered.storage.lost_records, 6, 'the five records before and the one during are lost with the deleted file');
  assert.match((await httpRequest(`${node.api}/metrics`)).body, /^qproxy_store_lost_records_total 6$/m);

  for (let i = 0; i < 4; i++) assert.equal((await httpRequest(`${node.http}/after/${i}`)).status, 200);
  await poll(status, (s) => s.records.count === 4);
  node.child.kill('SIGTERM');
  const [code] = (await once(node.child, 'exit')) as [number | null];
  assert.equal(code, 0, `exit code 0 after SIGTERM; stderr: ${node.stderr.join('')}`);

  const db = new Database(dbPath, { readonly: true });
  after(() => db.close());
  const urls = (db.prepare('SELECT url FROM records ORDER BY seq').all() as Array<{ url: string }>).map((r) => r.url);
  assert.deepEqual(urls, ['/after/0', '/after/1', '/after/2', '/after/3']);
});
