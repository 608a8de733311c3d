import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import type { HttpRecord } from '../../src/recording/model.js';
import { Store } from '../../src/store/index.js';
import { CountingObserver, binary, makeRecord, openStore, storeOptions, tempDir, waitFor } from './helpers.js';

const DAY = 24 * 3600 * 1000;

function withBody(r: HttpRecord, bytes: number): HttpRecord {
  r.request.body = { data: binary(bytes), size: bytes, truncated: false };
  return r;
}

test('retention purges records older than retentionMs at open, with their chunks', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'qproxy.db');
  const now = Date.now();
  const old = [1, 2, 3].map((d) => withBody(makeRecord({ started_at: now - (10 + d) * DAY }), 300 * 1024));
  const fresh = [makeRecord({ started_at: now - 1000 }), makeRecord({ started_at: now })];
  const writer = await Store.open(storeOptions(path));
  for (const r of [...old, ...fresh]) writer.offer(r);
  await writer.close();

  const observer = new CountingObserver();
  const store = await Store.open(storeOptions(path, { retentionMs: DAY, purgeIntervalMs: 3_600_000, observer }));
  t.after(() => store.close());
  await waitFor(() => observer.purges.retention !== undefined, 'the purge at open');
  assert.equal(observer.purges.retention?.count, 3);
  assert.deepEqual(store.list({ limit: 10 }).records.map((r) => r.id).sort(), fresh.map((r) => r.id).sort());
  assert.equal(store.stats().count, 2);
  assert.ok((observer.purges.retention?.bytes ?? 0) > 900 * 1024);

  const db = new Database(path, { readonly: true });
  t.after(() => db.close());
  // The purged records' 300 KiB bodies were chunk rows; the kept records' small bodies are inline.
  assert.deepEqual(db.prepare('SELECT count(*) AS n FROM chunks').get(), { n: 0 });
  for (const r of fresh) assert.deepEqual(store.get(r.id), r);
});

test('retention runs every purgeIntervalMs, in bounded rounds, and spares seqs above purgeFloor', async (t) => {
  const observer = new CountingObserver();
  let floor = 1000;
  const { store } = await openStore(t, { retentionMs: DAY, purgeIntervalMs: 30, observer, purgeFloor: () => floor });
  const old = Date.now() - 2 * DAY;
  // More than one purge round (500 per transaction).
  for (let i = 0; i < 1200; i++) store.offer(makeRecord({ started_at: old + i }));
  const fresh = makeRecord();
  store.offer(fresh);
  await store.flush();
  // The count moves at the commit, the observer when the writer's report arrives: wait for both.
  await waitFor(() => store.stats().count === 201 && observer.purges.retention?.count === 1000, 'retention to reach the floor');
  // seq 1001..1200 are old too, but above the floor: kept until the floor moves.
  assert.deepEqual(store.readAfter(0, 1)[0]?.seq, 1001);
  floor = Number.POSITIVE_INFINITY;
  await waitFor(() => store.stats().count === 1 && observer.purges.retention?.count === 1200, 'retention after the floor moved');
  assert.deepEqual(store.get(fresh.id), fresh);
});

test('maxSizeBytes purges the oldest records until the store fits', async (t) => {
  const observer = new CountingObserver();
  const { store, path } = await openStore(t, { flushIntervalMs: 3_600_000, purgeIntervalMs: 3_600_000 });
  const t0 = 1_700_000_000_000;
  // Offered newest first: "oldest" must follow started_at, not arrival.
  const records = Array.from({ length: 10 }, (_, i) => withBody(makeRecord({ started_at: t0 + (9 - i) * 1000 }), 10_000));
  for (const r of records) store.offer(r);
  await store.flush();
  const sizes = store.list({ limit: 10 }).records.map((s) => s.size_bytes); // newest first
  await store.close();

  const cap = sizes.slice(0, 4).reduce((a, b) => a + b, 0) + 100; // room for the 4 newest, not 5
  const capped = await Store.open(storeOptions(path, { maxSizeBytes: cap, purgeIntervalMs: 3_600_000, observer }));
  t.after(() => capped.close());
  await waitFor(() => observer.purges.max_size !== undefined, 'the size purge at open');
  assert.equal(observer.purges.max_size?.count, 6);
  const stats = capped.stats();
  assert.equal(stats.count, 4);
  assert.ok(stats.bytes <= cap);
  assert.deepEqual(
    capped.list({ limit: 10 }).records.map((r) => r.id),
    records.slice(0, 4).map((r) => r.id),
  );
  assert.equal(observer.purges.max_size?.bytes, sizes.slice(4).reduce((a, b) => a + b, 0));
});
