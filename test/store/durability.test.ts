import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { Store } from '../../src/store/index.js';
import { CountingObserver, MemoryLogger, WriterFaults, binary, makeRecord, openStore, storeOptions, tempDir, waitFor } from './helpers.js';

// A flush tick far beyond the test's life: only flush(), close() or a full batch send records.
const NO_TICK = 3_600_000;

function countIn(path: string): number {
  const db = new Database(path, { readonly: true });
  try {
    return (db.prepare('SELECT count(*) AS n FROM records').get() as { n: number }).n;
  } finally {
    db.close();
  }
}

test('after flush() every record offered before it is visible to a new connection', async (t) => {
  const { store, path } = await openStore(t, { flushIntervalMs: NO_TICK });
  for (let i = 0; i < 40; i++) assert.equal(store.offer(makeRecord()), true);
  assert.equal(store.stats().queueDepth, 40);
  assert.equal(countIn(path), 0);
  await store.flush();
  assert.equal(countIn(path), 40);
  assert.equal(store.stats().queueDepth, 0);
  await store.flush(); // nothing pending: resolves at once
});

test('the flush tick writes queued records without anyone calling flush()', async (t) => {
  const { store, path } = await openStore(t, { flushIntervalMs: 10 });
  for (let i = 0; i < 5; i++) store.offer(makeRecord());
  await waitFor(() => countIn(path) === 5, 'the tick to commit 5 records');
});

test('a full batch is written without waiting for the tick', async (t) => {
  const { store, path } = await openStore(t, { flushIntervalMs: NO_TICK });
  for (let i = 0; i < 500; i++) store.offer(makeRecord());
  await waitFor(() => countIn(path) === 500, 'a 500-record batch to commit');
});

test('close() is idempotent, writes out the queue, and the store refuses work afterwards', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'qproxy.db');
  const observer = new CountingObserver();
  const store = await Store.open(storeOptions(path, { flushIntervalMs: NO_TICK, observer }));
  for (let i = 0; i < 25; i++) store.offer(makeRecord());
  const a = store.close();
  const b = store.close();
  assert.equal(a, b);
  await a;
  assert.deepEqual(readdirSync(dir).sort(), ['qproxy.db', 'qproxy.db.segments']); // WAL checkpointed and removed
  assert.equal(countIn(path), 25);
  assert.equal(observer.storedCount, 25);

  assert.equal(store.offer(makeRecord()), false);
  assert.equal(observer.drops.closed, 1);
  assert.throws(() => store.list({ limit: 1 }), { code: 'QP_ERR_STORE_CLOSED' });
  assert.throws(() => store.stats(), { code: 'QP_ERR_STORE_CLOSED' });
  await assert.rejects(store.delete('x'), { code: 'QP_ERR_STORE_CLOSED' });
  await store.close();
  await store.flush();

  // The file is complete on its own: reopening finds everything.
  const again = await Store.open(storeOptions(path));
  t.after(() => again.close());
  assert.equal(again.stats().count, 25);
});

test('a full queue drops with queue_full and offer() still returns at once', async (t) => {
  const observer = new CountingObserver();
  const { store } = await openStore(t, {
    flushIntervalMs: NO_TICK,
    queueMaxRecords: 3,
    queueMaxBytes: 64 * 1024,
    observer,
  });
  assert.deepEqual([1, 2, 3, 4, 5].map(() => store.offer(makeRecord())), [true, true, true, false, false]);
  assert.equal(observer.drops.queue_full, 2);
  await store.flush();
  // The byte bound: one body larger than the whole queue never fits.
  const big = makeRecord();
  big.request.body = { data: binary(70 * 1024), size: 70 * 1024, truncated: false };
  assert.equal(store.offer(big), false);
  assert.equal(observer.drops.queue_full, 3);
  assert.equal(store.offer(makeRecord()), true);
  await store.flush();
  assert.equal(store.stats().count, 4);
});

test('failing writes drop records as storage_error, log once per burst, and the store recovers', async (t) => {
  const observer = new CountingObserver();
  const logger = new MemoryLogger();
  const faults = new WriterFaults(t);
  const { store } = await openStore(t, { flushIntervalMs: NO_TICK, observer, logger, writerEntry: faults.entry });
  store.offer(makeRecord());
  await store.flush();

  await faults.readOnly(true);
  for (let i = 0; i < 3; i++) assert.equal(store.offer(makeRecord()), true);
  await store.flush();
  for (let i = 0; i < 2; i++) assert.equal(store.offer(makeRecord()), true);
  await store.flush();
  assert.equal(observer.drops.storage_error, 5);
  assert.equal(logger.count('error', 'store write failed'), 1);
  assert.match(logger.lines.find((l) => l.msg.includes('store write failed'))?.msg ?? '', /readonly/);
  await assert.rejects(store.setMeta('k', 'v'), { code: 'QP_ERR_STORE_WRITE' });

  await faults.readOnly(false);
  const ok = makeRecord();
  assert.equal(store.offer(ok), true);
  await store.flush();
  assert.deepEqual(store.get(ok.id), ok);
  assert.equal(store.stats().count, 2);
  assert.equal(observer.storedCount, 2);
  assert.equal(logger.count('info', 'succeed again'), 1);
});

test('a dead writer loses only its in-flight records (writer_down) and is restarted', async (t) => {
  const observer = new CountingObserver();
  const logger = new MemoryLogger();
  const faults = new WriterFaults(t);
  const { store, path } = await openStore(t, { flushIntervalMs: NO_TICK, observer, logger, writerEntry: faults.entry });
  for (let i = 0; i < 2; i++) store.offer(makeRecord());
  await store.flush();

  await faults.crashOnNextBatch();
  for (let i = 0; i < 3; i++) store.offer(makeRecord());
  // The three go to the writer as one batch, which it dies with.
  const flushed = store.flush();
  await waitFor(() => observer.drops.writer_down === 3, 'the 3 in-flight records to count as writer_down');
  assert.equal(logger.count('error', 'writer thread died'), 1);

  // While the writer is down offer() keeps queueing; writes issued now wait for the new writer.
  const later = [makeRecord(), makeRecord()];
  for (const r of later) assert.equal(store.offer(r), true);
  const meta = store.setMeta('after.restart', 'yes');
  await flushed;
  await store.flush();
  await meta;
  assert.equal(logger.count('info', 'restarted'), 1);
  assert.equal(store.getMeta('after.restart'), 'yes');
  assert.deepEqual(store.get(later[1]!.id), later[1]);
  assert.equal(store.stats().count, 4);
  assert.equal(countIn(path), 4);
  assert.equal(observer.storedCount, 4);
});

test('close() while the writer is down brings it back to write out the queue', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'qproxy.db');
  const logger = new MemoryLogger();
  const observer = new CountingObserver();
  const faults = new WriterFaults(t);
  const store = await Store.open(storeOptions(path, { flushIntervalMs: NO_TICK, logger, observer, writerEntry: faults.entry }));
  store.offer(makeRecord());
  await store.flush();
  faults.crash();
  await waitFor(() => logger.count('error', 'writer thread died') === 1, 'the writer to die');
  for (let i = 0; i < 3; i++) assert.equal(store.offer(makeRecord()), true);
  await store.close();
  assert.equal(countIn(path), 4);
  assert.deepEqual(observer.drops, {});
});
