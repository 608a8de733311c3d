/**
 * The sync link skeleton's parts that need no socket: the durable cursor (its one owner, its
 * format on disk, the retention floor's reading), the failure log's one line per change, the
 * shutdown deadline, and the poller of the store's feed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { settleWithin } from '../../src/sync/link/deadline.js';
import { DurableCursor } from '../../src/sync/link/durable-cursor.js';
import { FeedPoller, type FeedPollerOptions, type FeedSource } from '../../src/sync/link/feed-poller.js';
import { LinkLog } from '../../src/sync/link/link-log.js';
import { PendingFigures } from '../../src/sync/link/pending.js';
import { PUBLISHER_CURSOR, readNatsCursor } from '../../src/sync/nats/publisher-state.js';
import { SENDER_CURSOR, SENDER_META_KEY, readDurableCursor } from '../../src/sync/peer/sender-state.js';
import type { Store } from '../../src/store/index.js';
import { MemoryLog, fill, httpRecord, openStore, tempDir } from './helpers.js';

test('the durable cursor moves only forward, saves the same JSON as before, and feeds the retention floor', async (t) => {
  const store = await openStore(t, join(await tempDir(t), 'a.db'));
  const log = new MemoryLog();
  const c = new DurableCursor(store, SENDER_CURSOR, 'b:8084', log);
  assert.deepEqual({ ...c.figures }, { cursor: 0, sent_records: 0, sent_bytes: 0, refused_records: 0, peer: 'b:8084' });
  assert.equal(c.advance(5), true);
  assert.equal(c.advance(3), false, 'never back');
  c.add('sent_records', 5);
  c.add('sent_bytes', 1200);
  c.add('refused_records', 1);
  assert.equal(c.durableCursor, 0, 'not durable before it is saved');
  c.persist();
  await c.flush();
  assert.equal(c.durableCursor, 5);
  assert.equal(store.getMeta(SENDER_META_KEY), '{"cursor":5,"sent_records":5,"sent_bytes":1200,"refused_records":1,"peer":"b:8084"}');
  assert.equal(readDurableCursor((k) => store.getMeta(k)), 5);
  assert.equal(readNatsCursor((k) => store.getMeta(k)), 0, 'each transport keeps its own key');

  // A restart against another peer keeps the figures, says so, and names the new peer.
  const again = new DurableCursor(store, SENDER_CURSOR, 'c:8084', log);
  assert.deepEqual({ ...again.figures }, { cursor: 5, sent_records: 5, sent_bytes: 1200, refused_records: 1, peer: 'c:8084' });
  assert.equal(log.count('warn', 'the sync peer changed'), 1);

  // Unreadable state starts from zero rather than failing the link.
  await store.setMeta(PUBLISHER_CURSOR.key, '{not json');
  const fresh = new DurableCursor(store, PUBLISHER_CURSOR, 'QPROXY', log);
  assert.deepEqual({ ...fresh.figures }, { cursor: 0, sent_records: 0, sent_bytes: 0, stream: 'QPROXY' });
});

test('persistSoon folds many moves into one write', async (t) => {
  const store = await openStore(t, join(await tempDir(t), 'a.db'));
  const c = new DurableCursor(store, PUBLISHER_CURSOR, 'QPROXY', new MemoryLog());
  for (let i = 1; i <= 50; i++) {
    c.advance(i);
    c.persistSoon(10_000);
  }
  assert.equal(store.getMeta(PUBLISHER_CURSOR.key), null, 'nothing written yet');
  c.persist();
  await c.flush();
  assert.equal(readNatsCursor((k) => store.getMeta(k)), 50);
});

test('the link log writes one line per change of failure and one when the link is back', () => {
  const log = new MemoryLog();
  const l = new LinkLog(log, 'sync');
  const refused = { code: 'QP_ERR_SYNC_UNAUTHORIZED', message: 'the peer refused our token', operatorFix: true };
  const down = { code: 'QP_ERR_SYNC_CONNECT', message: 'cannot connect', operatorFix: false };
  for (let i = 0; i < 3; i++) l.failed('unauthorized', refused, {});
  assert.equal(log.count('error', 'sync: the peer refused our token'), 1);
  l.failed('connect', down, {});
  l.failed('connect', down, {});
  assert.equal(log.count('warn', 'sync: cannot connect'), 1);
  assert.equal(l.said, 'connect');
  l.up({}, 'up again');
  l.up({}, 'up again');
  assert.equal(log.count('info', 'up again'), 1);
  l.failed('connect', down, {});
  assert.equal(log.count('warn', 'sync: cannot connect'), 2, 'the same failure after an up is news again');
});

test('settleWithin returns when the work settles, or at the deadline when it does not', async () => {
  let done = false;
  await settleWithin(60_000, [new Promise((r) => setTimeout(r, 5)).then(() => (done = true)), Promise.reject(new Error('ignored')), null]);
  assert.equal(done, true);
  let never = true;
  await settleWithin(10, [new Promise<void>(() => {}), new Promise<void>((r) => setTimeout(r, 60_000).unref()).then(() => (never = false))]);
  assert.equal(never, true, 'returned at the deadline, not when the work ended');
  await settleWithin(60_000, []);
});

/** The real store's feed one record at a time (its feed position), counting the store queries. */
class OneByOne implements FeedSource<number> {
  queries = 0;
  private pos = 0;
  constructor(public store: Store) {}
  reset(cursor: number): void {
    this.pos = cursor;
  }
  next(): number | null {
    this.queries++;
    const [item] = this.store.readAfter(this.pos, 1);
    if (!item) return null;
    this.pos = item.seq;
    return item.seq;
  }
}

function poller(source: FeedSource<number>, over: Partial<FeedPollerOptions> = {}): FeedPoller<number> {
  return new FeedPoller(source, { wake: () => {}, intervalMs: 1, dryRereadMs: 0, logger: new MemoryLog(), logPrefix: 'sync', ...over });
}

function drain(p: FeedPoller<number>): number[] {
  const out: number[] = [];
  for (let seq = p.next(); seq !== null; seq = p.next()) out.push(seq);
  return out;
}

test('the feed poller reads after the cursor, holds a dry feed until the poll timer, and reads again after a reset', async (t) => {
  const store = await openStore(t, join(await tempDir(t), 'a.db'));
  await fill(store, [httpRecord(1), httpRecord(2), httpRecord(3)]);
  const [first, second, third] = store.readAfter(0, 3).map((i) => i.seq);
  const source = new OneByOne(store);
  let woke: () => void = () => {};
  // An hour: no read in this test may see the hold-off end by itself.
  const p = poller(source, { dryRereadMs: 3_600_000, wake: () => woke() });
  t.after(() => p.stop());
  p.reset(first!);
  assert.deepEqual(drain(p), [second, third]);
  assert.equal(p.dry, true);

  await fill(store, [httpRecord(4)]);
  const asked = source.queries;
  assert.equal(p.next(), null, 'a dry feed waits for the poll timer');
  assert.equal(source.queries, asked, 'without a store query');
  await new Promise<void>((resolve) => {
    woke = resolve;
    p.schedule();
  });
  assert.equal(p.dry, false, 'the poll timer ends the hold-off');
  const fourth = p.next();
  assert.ok(fourth !== null && fourth > third!);
  assert.equal(p.next(), null);

  p.reset(second!);
  assert.deepEqual(drain(p), [third, fourth], 'a reset reads after the cursor again, at once');

  // dryRereadMs 0: a feed found empty is asked again on every read.
  const eager = poller(new OneByOne(store));
  eager.reset(fourth);
  assert.equal(eager.next(), null);
  await fill(store, [httpRecord(5)]);
  assert.ok((eager.next() ?? 0) > fourth);
});

test('the feed poller warns once while the store fails, reads again on the next ask, and says when it works again', async (t) => {
  const path = join(await tempDir(t), 'a.db');
  const store = await openStore(t, path);
  await fill(store, [httpRecord(1), httpRecord(2)]);
  const log = new MemoryLog();
  const source = new OneByOne(store);
  const p = poller(source, { logger: log });
  p.reset(0);
  const first = p.next();
  assert.ok(first !== null);

  await store.close();
  for (let i = 0; i < 3; i++) assert.equal(p.next(), null, 'a store error is no record, not a throw');
  assert.equal(log.count('warn', 'sync could not read records from the store; retrying'), 1);

  source.store = await openStore(t, path);
  const second = p.next();
  assert.ok(second !== null && second > first, 'the read goes on from where it was');
  assert.equal(log.count('info', 'sync reads records from the store again'), 1);

  await source.store.close();
  assert.equal(p.next(), null);
  assert.equal(log.count('warn', 'sync could not read records from the store; retrying'), 2, 'a new outage is news again');
});

test('the feed poller keeps one poll timer however often asked, and none once stopped', async () => {
  let wakes = 0;
  const dummy: FeedSource<number> = { reset: () => {}, next: () => null };
  const a = poller(dummy, { wake: () => wakes++ });
  // b's timer has a's interval and is set after it: when b wakes, a's timer has fired, if set.
  const afterA = (): Promise<void> =>
    new Promise((resolve) => {
      const b = poller(dummy, { wake: resolve });
      b.schedule();
    });
  a.schedule();
  a.schedule();
  a.schedule();
  await afterA();
  assert.equal(wakes, 1);

  a.schedule();
  a.stop();
  a.schedule();
  await afterA();
  assert.equal(wakes, 1, 'stop cancels the timer set and refuses new ones');
});

test('the pending figures stay exact as the cursor moves and records arrive, counting only what moved between full counts', async (t) => {
  const dir = await tempDir(t);
  const store = await openStore(t, join(dir, 'a.db'));
  await fill(store, Array.from({ length: 300 }, (_, i) => httpRecord(i)));
  const seqs = store.readAfter(0, 1000).map((f) => f.seq);
  const counted: Array<[number, number | undefined]> = [];
  const counting: Store = Object.create(store) as Store;
  counting.countAfter = (seq: number, upTo?: number) => {
    counted.push([seq, upTo]);
    return store.countAfter(seq, upTo);
  };
  const exact = (cursor: number) => ({ ...store.countAfter(cursor) });
  // Full counts are reused for a minute here: what is checked must not depend on how fast the machine is.
  const pending = new PendingFigures(counting, undefined, 60_000);

  const first = pending.read(0);
  assert.deepEqual({ count: first.count, bytes: first.bytes }, exact(0));
  assert.equal(first.count, 300);
  assert.deepEqual(counted, [[0, undefined]], 'the first reading counts everything after the cursor');

  counted.length = 0;
  const moved = pending.read(seqs[99]!);
  assert.deepEqual({ count: moved.count, bytes: moved.bytes }, exact(seqs[99]!));
  assert.equal(moved.count, 200);
  assert.deepEqual(counted, [[0, seqs[99]]], 'a moved cursor counts only the records sent since');

  counted.length = 0;
  await fill(store, Array.from({ length: 25 }, (_, i) => httpRecord(300 + i)));
  const grown = pending.read(seqs[149]!);
  assert.deepEqual({ count: grown.count, bytes: grown.bytes }, exact(seqs[149]!));
  assert.equal(grown.count, 175);
  assert.deepEqual(counted, [[seqs[99], seqs[149]], [seqs.at(-1), undefined]], 'new records are counted from the last seq seen');

  counted.length = 0;
  const all = pending.read(store.stats().lastSeq);
  assert.deepEqual({ count: all.count, bytes: all.bytes, oldest: all.oldest }, { count: 0, bytes: 0, oldest: null });
  assert.deepEqual(counted, [], 'a cursor at the last seq has nothing after it, without a count');
});
