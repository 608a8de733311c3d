/**
 * End to end across two zones, each with its own store: a Record node's proxy records a varied
 * workload, sync carries it to a Playback node, live replay sends it to zone B's service, and the
 * success rate shows in the Playback node's `/api/status`.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { join } from 'node:path';
import { test } from 'node:test';
import { pino } from 'pino';
import { ApiServer } from '../../src/api/api-server.js';
import { loadConfig } from '../../src/config/load.js';
import { Metrics } from '../../src/metrics/metrics.js';
import { createPlayback } from '../../src/node/playback.js';
import { createSyncReceiver, createSyncSender } from '../../src/node/sync.js';
import { Store } from '../../src/store/index.js';
import { defer, tempDir, waitFor } from './helpers.js';
import { WORKLOAD, recordWorkload, startService } from './workload.js';

const silent = pino({ level: 'silent' });
const TOKEN = 'sync-secret-0123456789';

async function openStoreAt(t: Parameters<typeof defer>[0], path: string): Promise<Store> {
  const store = await Store.open({ path, retentionMs: 0, maxSizeBytes: 0, flushIntervalMs: 10, synchronous: 'normal', queueMaxRecords: 10_000, queueMaxBytes: 64 * 1024 * 1024, purgeIntervalMs: 60_000 });
  defer(t, () => store.close());
  return store;
}

function getJson(port: number, path: string): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve(JSON.parse(text) as Record<string, unknown>));
    });
    req.on('error', reject);
    req.end();
  });
}

test('Record node → sync → Playback node → live replay → success rate in /api/status', async (t) => {
  const dir = await tempDir(t);
  const zoneBService = await startService(t, { token: 'zone-b-token' });

  // Zone B: the Playback node (sync receiver, live replay into zone B's service, API).
  const storeB = await openStoreAt(t, join(dir, 'b', 'qproxy.db'));
  await writeFile(
    join(dir, 'b.json'),
    JSON.stringify({
      mode: 'Playback',
      node_id: 'az-b-1',
      http: { port: 0, downstream: zoneBService.origin },
      sync: { host: '127.0.0.1', port: 0, token: TOKEN },
      api: { port: 0 },
      storage: { path: join(dir, 'b', 'qproxy.db') },
      playback: {
        live: { delay: '100ms' },
        safety: { unsafe_methods: 'replay' },
        rewrite: { headers: { authorization: 'Bearer zone-b-token' } },
      },
    }),
  );
  const configB = loadConfig({ path: join(dir, 'b.json'), env: {} }).config;
  const metricsB = new Metrics({ collectDefault: false });
  const receiver = createSyncReceiver(configB, { store: storeB, metrics: metricsB, logger: silent })!;
  const syncAddress = await receiver.start();
  defer(t, () => receiver.close(1_000));
  const playback = createPlayback(configB, { store: storeB, metrics: metricsB, logger: silent })!;
  await playback.start();
  defer(t, () => playback.close(1_000));
  const api = new ApiServer({
    host: '127.0.0.1',
    port: 0,
    allowedHosts: [],
    records: storeB,
    status: () => ({ mode: 'Playback', playback: playback.status() }),
    metrics: metricsB,
    ready: () => true,
    logger: silent,
    replays: playback.replays,
  });
  const apiPort = (await api.listen()).port;
  defer(t, () => api.close());

  // Zone A: the Record node's store, its sync sender to zone B, and traffic through its proxy.
  const storeA = await openStoreAt(t, join(dir, 'a', 'qproxy.db'));
  await writeFile(
    join(dir, 'a.json'),
    JSON.stringify({
      mode: 'Record',
      node_id: 'az-a-1',
      http: { port: 0, downstream: 'http://127.0.0.1:9' },
      peer: { host: '127.0.0.1', port: syncAddress.port, token: TOKEN, poll_interval: '20ms' },
      storage: { path: join(dir, 'a', 'qproxy.db') },
    }),
  );
  const configA = loadConfig({ path: join(dir, 'a.json'), env: {} }).config;
  const sender = createSyncSender(configA, { store: storeA, metrics: new Metrics({ collectDefault: false }), logger: silent })!;
  await sender.start();
  defer(t, () => sender.close(1_000));
  await recordWorkload(t, storeA, await startService(t, { token: 'prod-secret' }));

  await waitFor(() => storeB.stats().count === WORKLOAD.length, 'the recordings to reach zone B');
  await waitFor(() => (playback.status().replayed) === WORKLOAD.length, 'live replay of every recording', 1500);
  const status = await getJson(apiPort, '/api/status');
  const p = status.playback as Record<string, unknown>;
  assert.equal(p.replayed, WORKLOAD.length);
  assert.equal(p.matched, WORKLOAD.length);
  assert.equal(p.mismatched, 0);
  assert.equal(p.failed, 0);
  assert.equal(p.success_rate, 1);
  assert.equal(zoneBService.seen.length, WORKLOAD.length);
  const live = await getJson(apiPort, '/api/replays/live');
  assert.equal((live.summary as { counts: { match: number } }).counts.match, WORKLOAD.length);
});
