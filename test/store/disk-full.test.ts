/**
 * Disk full while appending, on a real small file system (a tmpfs mounted for the test; skipped
 * with the reason when this machine does not allow mounting one): recording stays fail-open, the
 * drops are counted, nothing torn is left (every index row reads back after a reopen), and writes
 * succeed again once there is room.
 */
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { HttpRecord } from '../../src/recording/model.js';
import { Store } from '../../src/store/index.js';
import { CountingObserver, MemoryLogger, binary, makeRecord, mountTmpfs, storeOptions } from './helpers.js';

const MiB = 1024 * 1024;


function withBody(bytes: number): HttpRecord {
  const r = makeRecord();
  r.request.body = { data: binary(bytes), size: bytes, truncated: false };
  return r;
}

test('disk full while appending: fail-open, drops counted, nothing torn, writes resume when there is room', async (t) => {
  const fs = mountTmpfs(16 * MiB);
  if (typeof fs === 'string') {
    t.skip(fs);
    return;
  }
  let store: Store | null = null;
  // One hook: the store must be closed before its file system can be unmounted.
  t.after(async () => {
    await store?.close();
    fs.unmount();
  });
  const path = join(fs.dir, 'qproxy.db');
  // Ballast that is removed later, to make room again.
  const ballast = join(fs.dir, 'ballast');
  writeFileSync(ballast, Buffer.alloc(6 * MiB));

  const observer = new CountingObserver();
  const logger = new MemoryLogger();
  store = await Store.open(storeOptions(path, { observer, logger, segmentBytes: 1 * MiB }));
  const offered: HttpRecord[] = [];
  // 20 MiB into a file system with about 10 MiB left.
  for (let i = 0; i < 100; i++) {
    const r = withBody(200 * 1024);
    offered.push(r);
    assert.equal(store.offer(r), true);
    if (i % 10 === 9) await store.flush();
  }
  await store.flush();
  const failed = observer.drops.storage_error ?? 0;
  assert.ok(failed > 0, 'some batches could not be written');
  assert.ok(observer.storedCount > 0, 'the ones before the disk filled were');
  assert.equal(observer.storedCount + failed, 100, 'every record is either stored or counted as dropped');
  assert.equal(logger.count('error', 'store write failed'), 1, 'logged once for the burst');
  const stored = offered.filter((r) => store.get(r.id) !== null);
  assert.equal(stored.length, observer.storedCount);
  for (const r of stored) assert.deepEqual(store.get(r.id), r);

  // Room again: recording resumes.
  rmSync(ballast);
  const later = [withBody(100 * 1024), withBody(100 * 1024)];
  for (const r of later) store.offer(r);
  await store.flush();
  for (const r of later) assert.deepEqual(store.get(r.id), r);
  assert.equal(logger.count('info', 'store writes succeed again'), 1);
  await store.close();

  // Nothing torn: after a reopen every index row reads back whole.
  let damaged = 0;
  const again = await Store.open(storeOptions(path, { segmentBytes: 1 * MiB, observer: Object.assign(new CountingObserver(), { damaged: () => damaged++ }) }));
  try {
    const feed = again.readAfter(0, 1000);
    assert.equal(damaged, 0);
    assert.equal(feed.length, stored.length + later.length);
    for (const f of feed) assert.deepEqual(f.record, [...stored, ...later].find((r) => r.id === f.record.id));
  } finally {
    await again.close();
  }
});
