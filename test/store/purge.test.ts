/**
 * Retention drops whole payload segments, each with its index rows in one transaction, the file
 * removed after; segments small here (segmentBytes) so that a few records make several of them.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import type { HttpRecord } from '../../src/recording/model.js';
import { Store } from '../../src/store/index.js';
import { segmentFileName } from '../../src/store/segment-format.js';
import { CountingObserver, binary, makeRecord, openStore, storeOptions, tempDir, waitFor } from './helpers.js';

const DAY = 24 * 3600 * 1000;

function withBody(r: HttpRecord, bytes: number): HttpRecord {
  r.request.body = { data: binary(bytes), size: bytes, truncated: false };
  return r;
}

function segmentFiles(path: string): string[] {
  return readdirSync(`${path}.segments`).sort();
}

/** Segment id → first seq, read from the index. */
function firstSeqs(path: string): Array<{ id: number; first_seq: number }> {
  const db = new Database(path, { readonly: true });
  try {
    return db.prepare('SELECT id, first_seq FROM segments ORDER BY id').all() as Array<{ id: number; first_seq: number }>;
  } finally {
    db.close();
  }
}

test('age retention at open drops the segments whose records are all expired, files included', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'qproxy.db');
  const now = Date.now();
  // 300 KiB each with 4 KiB segments: one segment per old record; the two fresh ones share the last.
  const old = [1, 2, 3].map((d) => withBody(makeRecord({ started_at: now - (10 + d) * DAY }), 300 * 1024));
  const fresh = [makeRecord({ started_at: now - 1000 }), makeRecord({ started_at: now })];
  const writer = await Store.open(storeOptions(path, { segmentBytes: 4096 }));
  for (const r of [...old, ...fresh]) writer.offer(r);
  await writer.close();
  assert.deepEqual(segmentFiles(path), [1, 2, 3, 4].map(segmentFileName));

  const observer = new CountingObserver();
  const store = await Store.open(storeOptions(path, { retentionMs: DAY, purgeIntervalMs: 3_600_000, observer, segmentBytes: 4096 }));
  t.after(() => store.close());
  await waitFor(() => observer.purges.retention?.count === 3, 'the purge at open');
  assert.deepEqual(store.list({ limit: 10 }).records.map((r) => r.id).sort(), fresh.map((r) => r.id).sort());
  assert.equal(store.stats().count, 2);
  assert.ok((observer.purges.retention?.bytes ?? 0) > 900 * 1024);
  await waitFor(() => segmentFiles(path).length === 1, 'the files of the dropped segments to go');
  assert.deepEqual(segmentFiles(path), [segmentFileName(4)]);
  for (const r of fresh) assert.deepEqual(store.get(r.id), r);
  for (const r of old) assert.equal(store.get(r.id), null);
});

test('age retention runs every purgeIntervalMs, one segment per round, and keeps segments holding records sync has not sent', async (t) => {
  const observer = new CountingObserver();
  let floor = 1000;
  const { store, path } = await openStore(t, { retentionMs: DAY, purgeIntervalMs: 30, observer, purgeFloor: () => floor, segmentBytes: 64 * 1024, flushIntervalMs: 3_600_000 });
  const old = Date.now() - 2 * DAY;
  for (let i = 0; i < 1200; i++) store.offer(makeRecord({ started_at: old + i }));
  const fresh = makeRecord();
  store.offer(fresh);
  await store.flush();
  const segs = firstSeqs(path);
  assert.ok(segs.length > 5, `several segments (${segs.length})`);
  // Whole segments only: the one holding seq 1001 holds unsent records, so it and every later one stay.
  const blocked = segs.filter((s) => s.first_seq <= 1001).at(-1)!;
  const purgedBefore = blocked.first_seq - 1;
  await waitFor(
    () => store.stats().count === 1201 - purgedBefore && observer.purges.retention?.count === purgedBefore,
    'retention to reach the segment of the floor',
  );
  assert.equal(store.readAfter(0, 1)[0]?.seq, blocked.first_seq);
  for (const s of segs.filter((x) => x.id < blocked.id)) assert.equal(existsSync(join(`${path}.segments`, segmentFileName(s.id))), false);

  floor = Number.POSITIVE_INFINITY;
  // The last segment holds the fresh record (and is the one being appended to): it stays whole.
  const last = segs.at(-1)!;
  const kept = 1201 - (last.first_seq - 1);
  await waitFor(
    () => store.stats().count === kept && observer.purges.retention?.count === 1201 - kept,
    `retention after the floor moved (count ${store.stats().count}, purged ${observer.purges.retention?.count}, want ${kept})`,
  );
  assert.deepEqual(store.get(fresh.id), fresh);
  assert.deepEqual(segmentFiles(path), [segmentFileName(last.id)]);
});

test('maxSizeBytes drops the oldest segments until segments and index fit', async (t) => {
  const observer = new CountingObserver();
  const dir = await tempDir(t);
  const path = join(dir, 'qproxy.db');
  const writer = await Store.open(storeOptions(path, { segmentBytes: 16 * 1024 }));
  const records = Array.from({ length: 10 }, () => withBody(makeRecord(), 10_000));
  for (const r of records) writer.offer(r);
  await writer.close();
  const files = segmentFiles(path);
  assert.equal(files.length, 10, 'one record per segment');

  const db = new Database(path, { readonly: true });
  const pages = db.pragma('page_count', { simple: true }) as number;
  const pageSize = db.pragma('page_size', { simple: true }) as number;
  db.close();
  const sizeOf = (name: string): number => statSync(join(`${path}.segments`, name)).size;
  // Room for the index and the 4 newest segments, not 5.
  const cap = pages * pageSize + files.slice(-4).reduce((n, f) => n + sizeOf(f), 0) + 100;
  const capped = await Store.open(storeOptions(path, { maxSizeBytes: cap, purgeIntervalMs: 3_600_000, observer, segmentBytes: 16 * 1024 }));
  t.after(() => capped.close());
  await waitFor(() => observer.purges.max_size?.count === 6, 'the size purge at open');
  assert.equal(capped.stats().count, 4);
  assert.deepEqual(
    capped.list({ limit: 10 }).records.map((r) => r.id).sort(),
    records.slice(-4).map((r) => r.id).sort(),
  );
  await waitFor(() => segmentFiles(path).length === 4, 'the dropped segment files to go');
  assert.deepEqual(segmentFiles(path), files.slice(-4));
});

test('segments whose records were all deleted are removed even without any limit', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'qproxy.db');
  const writer = await Store.open(storeOptions(path, { segmentBytes: 16 * 1024 }));
  const records = Array.from({ length: 4 }, () => withBody(makeRecord(), 10_000));
  for (const r of records) writer.offer(r);
  await writer.flush();
  assert.equal(await writer.delete(records[0]!.id), true);
  assert.equal(await writer.delete(records[2]!.id), true);
  await writer.close();

  const store = await Store.open(storeOptions(path, { segmentBytes: 16 * 1024, purgeIntervalMs: 3_600_000 }));
  t.after(() => store.close());
  await waitFor(() => segmentFiles(path).length === 2, 'the segments of the deleted records to go');
  assert.deepEqual(segmentFiles(path), [2, 4].map(segmentFileName));
  assert.deepEqual(store.get(records[1]!.id), records[1]);
  assert.deepEqual(store.get(records[3]!.id), records[3]);
});
