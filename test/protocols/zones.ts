/**
 * Two zones for the protocol tests, wired the way a deployment is: zone A's Record node (the real
 * TCP proxy built from its config, its store, its sync sender) and zone B's Playback node (sync
 * receiver, store, live replay into zone B's server, the API).
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { pino } from 'pino';
import { ApiServer } from '../../src/api/api-server.js';
import { loadConfig } from '../../src/config/load.js';
import { Metrics } from '../../src/metrics/metrics.js';
import { createPlayback, type PlaybackHandle } from '../../src/node/playback.js';
import { createSyncReceiver, createSyncSender } from '../../src/node/sync.js';
import { createTcpProxy } from '../../src/node/tcp.js';
import type { ReplayResult } from '../../src/playback/results/result.js';
import { Store } from '../../src/store/index.js';
import { defer, tempDir, waitFor } from '../playback/helpers.js';

const silent = pino({ level: 'silent' });
const TOKEN = 'sync-secret-0123456789';

async function openStoreAt(t: TestContext, path: string): Promise<Store> {
  const store = await Store.open({ path, retentionMs: 0, maxSizeBytes: 0, flushIntervalMs: 10, synchronous: 'normal', queueMaxRecords: 100_000, queueMaxBytes: 256 * 1024 * 1024, purgeIntervalMs: 60_000 });
  defer(t, () => store.close());
  return store;
}

export interface Zones {
  /** Zone A's proxy port: clients connect here. */
  proxyPort: number;
  storeA: Store;
  storeB: Store;
  playback: PlaybackHandle;
  apiPortB: number;
  /** Closed sessions recorded in zone A. */
  recorded(): number;
  /** Waits until zone A recorded `sessions` sessions in all, zone B has them, and has replayed them all. */
  settled(what: string, sessions: number): Promise<void>;
  /** Live replay results of one status. */
  results(status: string): ReplayResult[];
}

export interface ZoneOptions {
  protocol: 'postgres' | 'redis' | 'mysql';
  /** Zone A's server ("127.0.0.1:port"). */
  source: string;
  /** Zone B's server. */
  target: string;
  /** playback section extras for zone B (auth, ignore). */
  playbackTcp?: Record<string, unknown>;
}

export async function startZones(t: TestContext, o: ZoneOptions): Promise<Zones> {
  const dir = await tempDir(t);
  const pathB = join(dir, 'b', 'qproxy.db');
  const storeB = await openStoreAt(t, pathB);
  await writeFile(
    join(dir, 'b.json'),
    JSON.stringify({
      mode: 'Playback',
      node_id: 'az-b-1',
      tcp: { port: 0, downstream: o.target, protocol: o.protocol },
      sync: { host: '127.0.0.1', port: 0, token: TOKEN },
      api: { port: 0 },
      storage: { path: pathB },
      playback: { live: { delay: '100ms' }, serve: { enabled: false }, tcp: { reply_timeout: '10s', ...o.playbackTcp } },
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
  const apiPortB = (await api.listen()).port;
  defer(t, () => api.close());

  const pathA = join(dir, 'a', 'qproxy.db');
  const storeA = await openStoreAt(t, pathA);
  await writeFile(
    join(dir, 'a.json'),
    JSON.stringify({
      mode: 'Record',
      node_id: 'az-a-1',
      tcp: { port: 0, downstream: o.source, protocol: o.protocol },
      peer: { host: '127.0.0.1', port: syncAddress.port, token: TOKEN, poll_interval: '20ms' },
      storage: { path: pathA },
    }),
  );
  const configA = loadConfig({ path: join(dir, 'a.json'), env: {} }).config;
  const metricsA = new Metrics({ collectDefault: false });
  const sender = createSyncSender(configA, { store: storeA, metrics: metricsA, logger: silent })!;
  await sender.start();
  defer(t, () => sender.close(1_000));
  const { proxy, discovery } = await createTcpProxy(configA, { metrics: { tcp: metricsA.tcp, recorder: metricsA.recorder }, sink: storeA, logger: silent });
  const proxyPort = (await proxy.listen()).port;
  defer(t, async () => {
    proxy.beginDrain();
    await proxy.close(1_000);
    await discovery.close();
  });

  const recorded = (): number => storeA.list({ limit: 1000, protocol: 'tcp' }).records.filter((r) => r.state === 'closed').length;
  const replayed = (): number => playback.status().replayed;
  return {
    proxyPort,
    storeA,
    storeB,
    playback,
    apiPortB,
    recorded,
    async settled(what, n) {
      await waitFor(() => recorded() === n, `${what}: ${n} sessions closed in zone A`, 3000);
      await waitFor(() => storeB.list({ limit: 1000, protocol: 'tcp' }).records.filter((r) => r.state === 'closed').length === n, `${what}: ${n} sessions in zone B`, 3000);
      await waitFor(() => replayed() === n, `${what}: ${n} sessions replayed in zone B`, 18_000);
      await playback.engine!.flush();
    },
    results(status) {
      return (playback.replays.results('live', { status, limit: 100 })?.results ?? []);
    },
  };
}
