/**
 * The sync keys in the config (defaults, cross-field rules) and the factories of src/node/sync.ts
 * that turn a config into a running sender and receiver reporting to the node's Metrics.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { configSchema, type QProxyConfig } from '../../src/config/schema.js';
import { Metrics } from '../../src/metrics/metrics.js';
import { createSyncReceiver, createSyncSender, syncPurgeFloor } from '../../src/node/sync.js';
import { MemoryLog, fill, httpRecord, openStore, tempDir, waitFor } from './helpers.js';

function parse(input: object): QProxyConfig {
  const r = configSchema.safeParse(input);
  if (!r.success) throw new Error(JSON.stringify(r.error.issues));
  return r.data;
}

function issues(input: object): string[] {
  const r = configSchema.safeParse(input);
  return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
}

const RECORD = { mode: 'Record', node_id: 'az-a-1', http: { port: 0, downstream: 'http://127.0.0.1:1' } };

test('the sync keys have their documented defaults and accept units', () => {
  const c = parse({ ...RECORD, peer: { host: 'playback.internal' } });
  assert.deepEqual(
    {
      batch_max_records: c.peer!.batch_max_records,
      batch_max_bytes: c.peer!.batch_max_bytes,
      compression: c.peer!.compression,
      streams: c.peer!.streams,
      ping_interval: c.peer!.ping_interval,
      ping_timeout: c.peer!.ping_timeout,
      connect_timeout: c.peer!.connect_timeout,
      ack_timeout: c.peer!.ack_timeout,
      backoff_initial: c.peer!.backoff_initial,
      backoff_max: c.peer!.backoff_max,
      poll_interval: c.peer!.poll_interval,
    },
    {
      batch_max_records: 500,
      batch_max_bytes: 4 * 1024 * 1024,
      compression: 'br',
      streams: 4,
      ping_interval: 5000,
      ping_timeout: 5000,
      connect_timeout: 10_000,
      ack_timeout: 60_000,
      backoff_initial: 250,
      backoff_max: 30_000,
      poll_interval: 100,
    },
  );
  const p = parse({ mode: 'Playback', sync: { max_batch_bytes: '16MiB' } });
  assert.equal(p.sync.max_batch_bytes, 16 * 1024 * 1024);
  assert.deepEqual(p.sync.allowed_clients, []);
  assert.equal(parse({ ...RECORD, peer: { host: 'h', compression: 'gzip', streams: 8 } }).peer!.compression, 'gzip');
});

test('sync config mistakes are reported with their path', () => {
  assert.ok(issues({ mode: 'Playback', sync: { allowed_clients: ['az-a-1'] } }).some((m) => m.startsWith('sync.allowed_clients: ') && m.includes('sync.tls.ca')));
  assert.ok(issues({ ...RECORD, peer: { host: 'h', ping_timeout: '10s', ack_timeout: '5s' } }).some((m) => m.startsWith('peer.ack_timeout')));
  assert.ok(issues({ ...RECORD, peer: { host: 'h', compression: 'zstd' } }).some((m) => m.startsWith('peer.compression')));
  assert.ok(issues({ ...RECORD, peer: { host: 'h', streams: 0 } }).some((m) => m.startsWith('peer.streams')));
  assert.ok(issues({ mode: 'Playback', sync: { max_batch_bytes: '1KiB' } }).some((m) => m.startsWith('sync.max_batch_bytes')));
});

test('the factories build a working pair from configs, report to Metrics, and give the store its retention floor', async (t) => {
  const dir = await tempDir(t);
  const rxMetrics = new Metrics({ collectDefault: false });
  const txMetrics = new Metrics({ collectDefault: false });
  const b = await openStore(t, join(dir, 'b.db'));
  const playback = parse({ mode: 'Playback', node_id: 'az-b-1', sync: { host: '127.0.0.1', port: 0, token: 'tok-123' }, storage: { path: join(dir, 'b.db') } });
  const receiver = createSyncReceiver(playback, { store: b, metrics: rxMetrics, logger: new MemoryLog() })!;
  assert.equal(createSyncSender(playback, { store: b, metrics: rxMetrics, logger: new MemoryLog() }), null, 'no sender in Playback mode');
  const addr = await receiver.start();
  t.after(() => receiver.close(500));

  const record = parse({
    ...RECORD,
    peer: { host: '127.0.0.1', port: addr.port, token: 'tok-123', ping_interval: '200ms', poll_interval: '20ms' },
    storage: { path: join(dir, 'a.db') },
  });
  const a = await openStore(t, join(dir, 'a.db'));
  const floor = syncPurgeFloor(record, () => a)!;
  assert.equal(syncPurgeFloor(playback, () => b), undefined);
  assert.equal(createSyncReceiver(record, { store: a, metrics: txMetrics, logger: new MemoryLog() }), null, 'no receiver in Record mode');
  await fill(a, Array.from({ length: 40 }, (_, i) => httpRecord(i)));
  assert.equal(floor(), 0, 'nothing sent yet: retention keeps everything');
  const sender = createSyncSender(record, { store: a, metrics: txMetrics, logger: new MemoryLog() })!;
  await sender.start();
  t.after(() => sender.close(500));

  await waitFor(() => b.stats().count === 40 && floor() === a.stats().lastSeq, 'the records, and the durable cursor as the floor');
  const s = sender.status();
  assert.equal(s.role, 'sender');
  assert.equal(s.connected, true);
  assert.equal(receiver.status().role, 'receiver');
  assert.equal(receiver.status().ledger['az-a-1']?.stored, 40);
  // The floor reads the cursor the writer thread committed; the gauge, the sender's copy, updated
  // when the writer's report arrives a moment later.
  let tx = await txMetrics.render();
  for (let i = 0; i < 100 && !/qproxy_sync_cursor 40/.test(tx); i++) {
    await new Promise((r) => setTimeout(r, 20));
    tx = await txMetrics.render();
  }
  assert.match(tx, /qproxy_sync_records_total\{role="sender",outcome="sent"\} 40/);
  assert.match(tx, /qproxy_sync_connected 1/);
  assert.match(tx, /qproxy_sync_pending_records 0/);
  assert.match(tx, /qproxy_sync_cursor 40/);
  assert.match(await rxMetrics.render(), /qproxy_sync_records_total\{role="receiver",outcome="stored"\} 40/);
});
