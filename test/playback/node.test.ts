import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { join } from 'node:path';
import { test } from 'node:test';
import { pino } from 'pino';
import { loadConfig } from '../../src/config/load.js';
import { Metrics } from '../../src/metrics/metrics.js';
import { createPlayback } from '../../src/node/playback.js';
import type { ReplayRequest } from '../../src/playback/replay-params.js';
import { defer, httpRecord, json, openStore, putRecords, startBackend, tempDir, waitFor } from './helpers.js';

function get(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('the playback section has defaults for everything, and is validated like the rest of the file', async (t) => {
  const dir = await tempDir(t);
  await writeFile(join(dir, 'config.json'), JSON.stringify({ mode: 'Playback' }));
  const { config } = loadConfig({ cwd: dir, env: {} });
  const p = config.playback;
  assert.equal(p.live.enabled, undefined);
  assert.equal(p.live.delay, 5_000);
  assert.deepEqual([p.speed, p.rate, p.max_gap, p.concurrency, p.timeout], [1, 0, 10_000, 64, 30_000]);
  assert.deepEqual(p.compare.headers, ['content-type']);
  assert.deepEqual(p.safety, { rules: [], safe_methods: 'replay', unsafe_methods: 'dry_run' });
  assert.equal(p.serve.enabled, true);
  assert.equal(p.serve.forward_on_miss, false);

  await writeFile(
    join(dir, 'config.json'),
    JSON.stringify({ mode: 'Playback', playback: { speed: -1, safety: { rules: [{ method: 'POST', path: 'orders', action: 'skip' }] }, compare: { ignore: { json_paths: ['id'] } } } }),
  );
  assert.throws(() => loadConfig({ cwd: dir, env: {} }), (err: Error) => {
    assert.match(err.message, /playback\.speed/);
    assert.match(err.message, /playback\.safety\.rules\[0\]\.path|playback\.safety\.rules\.0\.path/);
    assert.match(err.message, /playback\.compare\.ignore\.json_paths/);
    return true;
  });
});

test('createPlayback: a Playback node replays live into http.downstream, serves on http, and reports status and metrics', async (t) => {
  const { store, path, dir } = await openStore(t);
  const now = Date.now();
  await putRecords(store, [httpRecord({ url: '/served', startedAt: now - 1000, resBody: '{"from":"recording"}' })]);
  const backend = await startBackend(t, (_req, _b, res) => json(res, 200, { from: 'recording' }));
  await writeFile(
    join(dir, 'config.json'),
    JSON.stringify({
      mode: 'Playback',
      node_id: 'az-b-1',
      http: { port: 0, downstream: backend.origin },
      storage: { path },
      playback: { live: { delay: '50ms' }, safety: { unsafe_methods: 'replay' } },
    }),
  );
  const { config } = loadConfig({ cwd: dir, env: {} });
  const metrics = new Metrics({ collectDefault: false });
  const handle = createPlayback(config, { store, metrics, logger: pino({ level: 'silent' }) })!;
  assert.ok(handle);
  assert.throws(() => handle.replays.list(10), { code: 'QP_ERR_REPLAY_CLOSED' });
  const addresses = await handle.start();
  defer(t, () => handle.close(1_000));
  assert.ok(addresses.http, 'the http listener serves recordings');
  assert.equal(addresses.tcp, null);

  const served = await get(addresses.http.port, '/served');
  assert.deepEqual([served.status, served.body], [200, '{"from":"recording"}']);
  assert.equal((await get(addresses.http.port, '/unknown')).status, 404);

  await putRecords(store, [httpRecord({ url: '/live', resBody: '{"from":"recording"}' })]);
  await waitFor(() => (handle.status().replayed) === 1, 'the live replay of the new record');
  await waitFor(() => handle.serveServer?.status().recordings === 2, 'the serving index to pick the new record up');
  const status = handle.status();
  assert.equal(status.matched, 1);
  assert.equal(status.mismatched, 0);
  assert.equal(status.failed, 0);
  assert.equal(status.success_rate, 1);
  assert.deepEqual(status.serve, { http: { recordings: 2, hits: 1, misses: 1, forwarded: 0 }, tcp: null, forward: null });
  assert.deepEqual(backend.seen.map((s) => s.url), ['/live']);

  const doc = handle.replays.create({ filter: { path: '/served' }, speed: 0 } satisfies ReplayRequest) as { id: string };
  await waitFor(() => (handle.replays.get(doc.id) as { state: string }).state === 'done', 'the on-demand replay');

  const text = await metrics.render();
  assert.match(text, /qproxy_playback_results_total\{protocol="http",outcome="match"\} 2/);
  assert.match(text, /qproxy_playback_served_total\{protocol="http",outcome="hit"\} 1/);
  assert.match(text, /qproxy_playback_served_total\{protocol="http",outcome="miss"\} 1/);
  assert.match(text, /qproxy_playback_success_ratio 1/);
  assert.match(text, /qproxy_playback_lateness_seconds_count [1-9]/);
});

test('createPlayback returns null on a Record node', async (t) => {
  const dir = await tempDir(t);
  await writeFile(join(dir, 'config.json'), JSON.stringify({ mode: 'Record', http: { port: 0, downstream: 'http://127.0.0.1:9' } }));
  const { config } = loadConfig({ cwd: dir, env: {} });
  const { store } = await openStore(t);
  assert.equal(createPlayback(config, { store, metrics: new Metrics({ collectDefault: false }), logger: pino({ level: 'silent' }) }), null);
});
