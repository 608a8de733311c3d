import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setImmediate as turn, setTimeout as delay } from 'node:timers/promises';
import { Scheduler } from '../../src/playback/schedule/scheduler.js';
import { LiveTimeline, RecordedTimeline, type Clock } from '../../src/playback/schedule/timeline.js';
import { Watermark } from '../../src/playback/source/live-source.js';

test('the scheduler never runs more than `concurrency` jobs, and runs them all', async () => {
  let running = 0;
  let peak = 0;
  const done: number[] = [];
  const s = new Scheduler<number>({
    concurrency: 3,
    run: async (n) => {
      peak = Math.max(peak, ++running);
      await delay(n % 3);
      running--;
      done.push(n);
    },
  });
  for (let i = 0; i < 50; i++) s.push({ due: -Infinity, lane: null, serial: false, payload: i, bytes: 1 });
  await s.idle();
  assert.equal(peak, 3);
  assert.equal(s.maxInFlight, 3);
  assert.equal(done.length, 50);
  assert.equal(s.queued, 0);
});

test('a serial lane runs its jobs one after another in push order; other lanes run beside it', async () => {
  const log: string[] = [];
  const s = new Scheduler<string>({
    concurrency: 10,
    run: async (name) => {
      log.push(`start ${name}`);
      await delay(name.startsWith('a') ? 5 : 1);
      log.push(`end ${name}`);
    },
  });
  for (const name of ['a1', 'a2', 'a3']) s.push({ due: -Infinity, lane: 'A', serial: true, payload: name, bytes: 0 });
  s.push({ due: -Infinity, lane: 'B', serial: true, payload: 'b1', bytes: 0 });
  await s.idle();
  const a = log.filter((l) => l.endsWith('a1') || l.endsWith('a2') || l.endsWith('a3'));
  assert.deepEqual(a, ['start a1', 'end a1', 'start a2', 'end a2', 'start a3', 'end a3']);
  assert.ok(log.indexOf('start b1') < log.indexOf('end a1'), 'lane B did not wait for lane A');
});

test('jobs start no earlier than due (within timer granularity), in due order, and lateness is reported', async () => {
  const started: Array<{ n: number; at: number; late: number | null }> = [];
  const t0 = performance.now();
  const s = new Scheduler<number>({
    concurrency: 4,
    run: (n, late) => {
      started.push({ n, at: performance.now() - t0, late });
      return Promise.resolve();
    },
  });
  for (const [n, off] of [[3, 60], [1, 20], [2, 40], [0, 0]] as const) s.push({ due: t0 + off, lane: null, serial: false, payload: n, bytes: 0 });
  await s.idle();
  assert.deepEqual(started.map((x) => x.n), [0, 1, 2, 3]);
  for (const x of started) {
    assert.ok(x.at >= x.n * 20 - 1.5, `job ${x.n} started at ${x.at.toFixed(2)} ms, due at ${x.n * 20} ms`);
    assert.ok(x.late !== null && x.late >= 0);
  }
});

test('clear() drops waiting jobs and idle() resolves once running ones end', async () => {
  let ran = 0;
  const s = new Scheduler<number>({ concurrency: 1, run: async () => void (ran++, await turn()) });
  for (let i = 0; i < 10; i++) s.push({ due: -Infinity, lane: null, serial: false, payload: i, bytes: 100 });
  assert.equal(s.queued, 9);
  assert.equal(s.queuedBytes, 900);
  assert.equal(s.clear(), 9);
  await s.idle();
  assert.equal(ran, 1);
});

class FakeClock implements Clock {
  constructor(
    public m = 1_000,
    public w = 1_700_000_000_000,
  ) {}
  mono(): number {
    return this.m;
  }
  wall(): number {
    return this.w;
  }
}

test('recorded timeline: spacing divided by speed, gaps capped, fixed rate, or none', () => {
  const c = new FakeClock();
  const at = [0, 100, 100, 5_100, 5_300];
  const dues = (opts: ConstructorParameters<typeof RecordedTimeline>[0]) => {
    const tl = new RecordedTimeline(opts, c);
    return at.map((ms) => tl.next(1_000_000 + ms) - c.m);
  };
  assert.deepEqual(dues({ speed: 1, rate: 0, maxGapMs: 0 }), [0, 100, 100, 5_100, 5_300]);
  assert.deepEqual(dues({ speed: 2, rate: 0, maxGapMs: 0 }), [0, 50, 50, 2_550, 2_650]);
  assert.deepEqual(dues({ speed: 1, rate: 0, maxGapMs: 1_000 }), [0, 100, 100, 1_100, 1_300]);
  assert.deepEqual(dues({ speed: 1, rate: 10, maxGapMs: 0 }), [0, 100, 200, 300, 400]);
  assert.deepEqual(dues({ speed: 0, rate: 0, maxGapMs: 0 }), [-Infinity, -Infinity, -Infinity, -Infinity, -Infinity]);
});

test('live timeline: a fixed delay behind the stream, re-aligned when it falls behind or catches up', () => {
  const c = new FakeClock();
  const tl = new LiveTimeline(500, c);
  const rec = c.w - 2_000; // the first record arrives 2 s after it was recorded
  assert.equal(tl.next(rec) - c.m, 500);
  assert.equal(tl.next(rec + 100) - c.m, 600, 'recorded spacing kept');
  c.w += 3_000;
  c.m += 3_000;
  assert.equal(tl.next(rec + 200) - c.m, 0, 'far behind (a backlog): played now');
  assert.equal(tl.realigned, 1);
  assert.equal(tl.next(rec + 300) - c.m, 100);
  assert.equal(tl.next(c.w - 10) - c.m, 500, 'the stream caught up: back to the delay');
  assert.equal(tl.realigned, 2);
});

test('the live watermark only moves over finished positions', () => {
  const w = new Watermark(10);
  for (const s of [11, 12, 15, 16]) w.add(s);
  w.finish(12);
  assert.equal(w.value, 10);
  w.finish(11);
  assert.equal(w.value, 12);
  w.finish(16);
  assert.equal(w.value, 12);
  w.finish(15);
  assert.equal(w.value, 16);
  assert.equal(w.open, 0);
});
