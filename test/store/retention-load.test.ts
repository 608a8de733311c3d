/**
 * Retention under load: records keep arriving while the size limit drops whole segments every
 * 50 ms, and readers (list, get, the feed) run all along. No read ever sees a damaged record or a
 * missing segment (only records that are gone), the counts reconcile, and the store fits its cap.
 */
import assert from 'node:assert/strict';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { HttpRecord } from '../../src/recording/model.js';
import { CountingObserver, binary, makeRecord, openStore, waitFor } from './helpers.js';

const KiB = 1024;

test('retention under load: segments drop while records arrive and readers read; nothing damaged, counts reconcile', async (t) => {
  let damaged = 0;
  const observer = Object.assign(new CountingObserver(), {
    damaged(n: number) {
      damaged += n;
    },
  });
  const cap = 2 * 1024 * KiB;
  const { store, path } = await openStore(t, { maxSizeBytes: cap, purgeIntervalMs: 50, segmentBytes: 64 * KiB, flushIntervalMs: 10, observer });
  const ids: string[] = [];
  let readsOk = 0;
  let gone = 0;
  let feedPos = 0;
  const until = Date.now() + 1500;
  for (let round = 0; Date.now() < until; round++) {
    for (let i = 0; i < 40; i++) {
      const r: HttpRecord = makeRecord();
      const n = (round * 40 + i) % 9 === 0 ? 20 * KiB : (i * 97) % (4 * KiB);
      r.response!.body = { data: binary(n), size: n, truncated: false };
      ids.push(r.id);
      store.offer(r);
    }
    // Readers in between: the newest page, a few records by id (old ones may be gone), the feed.
    for (const s of store.list({ limit: 20 }).records) assert.equal(store.get(s.id)?.id ?? s.id, s.id);
    for (let k = 0; k < 10; k++) {
      const id = ids[(round * 31 + k * 17) % ids.length]!;
      if (store.get(id) === null) gone++;
      else readsOk++;
    }
    const page = store.readAfter(feedPos, 100);
    if (page.length > 0) feedPos = page[page.length - 1]!.seq;
    await new Promise((r) => setTimeout(r, 5));
  }
  await store.flush();
  const purged = (): number => observer.purges.max_size?.count ?? 0;
  const segmentBytes = (): number => readdirSync(`${path}.segments`).reduce((n, f) => n + (statSync(join(`${path}.segments`, f), { throwIfNoEntry: false })?.size ?? 0), 0);
  // Whole segments go: what is left fits the cap, give or take the segment being appended to.
  await waitFor(
    () => purged() > 0 && store.stats().count === observer.storedCount - purged() && store.stats().queueDepth === 0 && segmentBytes() <= cap + 64 * KiB,
    'the size purges to settle under the cap',
  );
  assert.equal(damaged, 0, 'no reader met a damaged record or a missing segment');
  assert.ok(readsOk > 0 && gone > 0, `reads both found records and found purged ones gone (${readsOk} / ${gone})`);
  assert.equal(observer.storedCount, ids.length, 'nothing was dropped');
  // Every record still listed reads back.
  for (const s of store.list({ limit: 1000 }).records) assert.ok(store.get(s.id));
});
