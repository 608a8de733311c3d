/**
 * The sync link skeleton's parts that need no socket: the durable cursor (its one owner, its
 * format on disk, the retention floor's reading), the failure log's one line per change, and the
 * shutdown deadline.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { settleWithin } from '../../src/sync/link/deadline.js';
import { DurableCursor } from '../../src/sync/link/durable-cursor.js';
import { LinkLog } from '../../src/sync/link/link-log.js';
import { PUBLISHER_CURSOR, readNatsCursor } from '../../src/sync/nats/publisher-state.js';
import { SENDER_CURSOR, SENDER_META_KEY, readDurableCursor } from '../../src/sync/peer/sender-state.js';
import { MemoryLog, openStore, tempDir } from './helpers.js';

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
