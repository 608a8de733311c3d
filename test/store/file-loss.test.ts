/**
 * Issue 17, defect 3: a store file deleted or replaced while the node runs. The store notices
 * (stat against the files it opened), says so (log, health), recovers with a fresh file at the
 * path, counts what the deleted file held, and keeps recording into a file that survives a restart.
 */
import assert from 'node:assert/strict';
import { mkdirSync, rmSync, rmdirSync } from 'node:fs';
import { test } from 'node:test';
import { Store } from '../../src/store/index.js';
import { CountingObserver, MemoryLogger, makeRecord, openStore, storeOptions } from './helpers.js';

/** The test runs the store's file checks itself (StoreOptions.fileCheckRunner): no timer fires during it. */
function manualChecks(): { runner: (check: () => Promise<void>) => void; run(): Promise<void> } {
  let check: (() => Promise<void>) | null = null;
  return {
    runner: (c) => (check = c),
    run: () => {
      if (!check) throw new Error('the store did not hand over its file check');
      return check();
    },
  };
}

function removeStoreFiles(path: string): void {
  for (const suffix of ['', '-wal', '-shm']) rmSync(path + suffix, { force: true });
}

async function record(store: Store, n: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const r = makeRecord();
    ids.push(r.id);
    assert.equal(store.offer(r), true);
  }
  await store.flush();
  return ids;
}

test('deleted while recording: the loss is reported and counted, a fresh file takes over and survives a restart', async (t) => {
  const logger = new MemoryLogger();
  const observer = new CountingObserver();
  let lost = { count: 0, bytes: 0 };
  const obs = Object.assign(observer, {
    lost(count: number, bytes: number) {
      lost = { count: lost.count + count, bytes: lost.bytes + bytes };
    },
  });
  const checks = manualChecks();
  const { store, path } = await openStore(t, { fileCheckRunner: checks.runner, logger, observer: obs, purgeFloor: () => 25 });
  await record(store, 30);
  await store.setMeta('sync.sender', '{"cursor":25}');
  assert.equal(store.health().healthy, true);

  removeStoreFiles(path);
  // Written into the deleted inode: without the check these would vanish at the next start.
  await record(store, 10);
  assert.equal(store.stats().count, 40);

  await checks.run();
  assert.equal(logger.count('error', 'deleted or moved away while open'), 1);
  const health = store.health();
  assert.equal(health.healthy, true, 'recovered at once: the path was free for a fresh file');
  assert.equal(health.reopened, 1);
  assert.equal(health.lost_records, 40);
  assert.equal(lost.count, 40);
  assert.ok(lost.bytes > 0 && lost.bytes === health.lost_bytes);
  assert.equal(store.stats().count, 0, 'the fresh file starts empty');
  // The fresh file continues the lost one: meta kept, seqs go on, the loss is in meta too.
  assert.equal(store.getMeta('sync.sender'), '{"cursor":25}');
  assert.equal(store.getMeta('store.lost.records'), '40');
  assert.equal(store.getMeta('sync.purged_unsent.records'), '15', 'seqs 26..40 were above the sync floor');
  assert.equal(store.stats().lastSeq, 40);

  const after = await record(store, 7);
  assert.equal(store.stats().count, 7);
  assert.ok(store.readAfter(25, 100).every((r) => r.seq > 40), 'new records come after the sender cursor');
  assert.equal(logger.count('info', 'healthy again'), 1);
  await store.close();

  const again = await Store.open(storeOptions(path));
  t.after(() => again.close());
  assert.equal(again.stats().count, 7);
  assert.deepEqual(
    again.list({ limit: 100 }).records.map((r) => r.id).sort(),
    [...after].sort(),
    'every record written after the recovery survived the restart',
  );
});

test('another file at the path keeps the store unhealthy until it is moved away, then a fresh file takes over', async (t) => {
  const logger = new MemoryLogger();
  const checks = manualChecks();
  const { store, path } = await openStore(t, { fileCheckRunner: checks.runner, logger });
  await record(store, 5);
  removeStoreFiles(path);
  mkdirSync(path); // not a store QProxy may overwrite

  await checks.run();
  let health = store.health();
  assert.equal(health.healthy, false);
  assert.match(health.problem ?? '', /another file was put at the store path/);
  assert.equal(logger.count('error', 'move the other file away'), 1);
  // Fail-open: recording goes on meanwhile (into the file still open).
  await record(store, 3);
  await checks.run();
  assert.equal(logger.count('error', 'move the other file away'), 1, 'logged once per incident, not per check');
  assert.equal(store.health().healthy, false);

  rmdirSync(path);
  await checks.run();
  health = store.health();
  assert.equal(health.healthy, true);
  assert.equal(health.lost_records, 8);
  const ids = await record(store, 4);
  await store.close();
  const again = await Store.open(storeOptions(path));
  t.after(() => again.close());
  assert.deepEqual(again.list({ limit: 10 }).records.map((r) => r.id).sort(), [...ids].sort());
});

test('a deleted WAL is reopened without losing a record', async (t) => {
  const logger = new MemoryLogger();
  const checks = manualChecks();
  const { store, path } = await openStore(t, { fileCheckRunner: checks.runner, logger });
  await record(store, 20);
  rmSync(`${path}-wal`);
  await record(store, 5);

  await checks.run();
  const health = store.health();
  assert.equal(health.healthy, true);
  assert.equal(health.reopened, 1);
  assert.equal(health.lost_records, 0);
  assert.equal(logger.count('error', 'WAL file was deleted'), 1);
  await record(store, 5);
  assert.equal(store.stats().count, 30);
  await store.close();

  const again = await Store.open(storeOptions(path));
  t.after(() => again.close());
  assert.equal(again.stats().count, 30);
});

test('the timer finds a deleted file on its own', async (t) => {
  const logger = new MemoryLogger();
  const { store, path } = await openStore(t, { fileCheckIntervalMs: 50, logger });
  await record(store, 3);
  removeStoreFiles(path);
  for (let i = 0; i < 250 && store.health().reopened === 0; i++) await new Promise((r) => setTimeout(r, 20));
  assert.equal(store.health().reopened, 1);
  assert.equal(store.health().lost_records, 3);
});
