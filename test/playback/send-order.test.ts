/**
 * The send order of protocol sessions replayed side by side: a request waits for the other
 * sessions' earlier requests and answers, a stall lets the earliest waiting session go, and a
 * session that leaves holds nobody back.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sessionStart } from '../../src/core/session-clock.js';
import { SendOrder, type Turn } from '../../src/playback/tcp/send-order.js';

const HOUR_MS = 3_600_000;

/** Sends each of `times` in turn, pushing `name@time` to `log`; answers come from `answer`. */
async function replay(name: string, turn: Turn, times: number[], log: string[], signal: AbortSignal): Promise<void> {
  for (const t of times) {
    assert.equal(await turn.due(HOUR_MS, signal), true);
    log.push(`${name}@${t}`);
    turn.sent();
    await Promise.resolve();
  }
  turn.leave();
}

test('requests of sessions side by side go out in their recorded order', async () => {
  const order = new SendOrder();
  const log: string[] = [];
  const signal = new AbortController().signal;
  const a = order.join([1, 3, 5], []);
  const b = order.join([2, 4, 6], []);
  // b starts first in the event loop, yet waits for a's earlier request each time.
  await Promise.all([replay('b', b, [2, 4, 6], log, signal), replay('a', a, [1, 3, 5], log, signal)]);
  assert.deepEqual(log, ['a@1', 'b@2', 'a@3', 'b@4', 'a@5', 'b@6']);
  assert.equal(order.releases, 0);
});

test('a request waits for the answers another session got before it was sent', async () => {
  const order = new SendOrder();
  const signal = new AbortController().signal;
  const a = order.join([1], [2]);
  const b = order.join([3], []);
  a.sent();
  let bWent = false;
  const bDue = b.due(HOUR_MS, signal).then((inOrder) => {
    bWent = inOrder;
  });
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(bWent, false, 'b waits while a has not had the answer it had before b sent');
  a.answered(1);
  await bDue;
  assert.equal(bWent, true);
});

test('when nothing moves, the earliest waiting session goes anyway and it is counted', async () => {
  const order = new SendOrder(5);
  const signal = new AbortController().signal;
  // a's answer never comes (zone B holds it back for something b would do next).
  const a = order.join([1], [2]);
  const b = order.join([3, 4], []);
  const c = order.join([5], []);
  a.sent();
  const went: string[] = [];
  const cDue = c.due(HOUR_MS, signal).then((inOrder) => went.push(`c:${inOrder}`));
  const bDue = b.due(HOUR_MS, signal).then((inOrder) => went.push(`b:${inOrder}`));
  await bDue;
  assert.equal(went[0], 'b:true', 'b, the earliest waiting, was let go first');
  assert.ok(order.releases >= 1);
  b.leave();
  a.leave();
  await cDue;
  assert.deepEqual(went, ['b:true', 'c:true']);
});

test('a wait that reaches its timeout says so', async () => {
  const order = new SendOrder(HOUR_MS);
  const signal = new AbortController().signal;
  order.join([1], []);
  const b = order.join([2], []);
  assert.equal(await b.due(5, signal), false);
});

test('session start times are whole milliseconds, and offsets from t0 are offsets from them', () => {
  const before = Date.now();
  const { startedAt, t0 } = sessionStart();
  assert.ok(Number.isInteger(startedAt));
  assert.ok(t0 <= performance.now());
  assert.ok(Math.abs(startedAt - before) < 1000, `${startedAt} is the wall clock (${before})`);
  // The same clock: a second start is no earlier than the first, to the microsecond. One reading of
  // the clock for both sides (two readings differ by however long the thread was descheduled).
  const next = sessionStart();
  const now = performance.now();
  assert.ok(next.startedAt + (now - next.t0) >= startedAt + (now - t0) - 0.001, `${next.startedAt - next.t0} vs ${startedAt - t0}`);
});
