import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import type { Store } from '../../src/store/index.js';
import { finished, httpRecord, json, openEngine, openStore, params, putRecords, startBackend, type Backend, type Doc } from './helpers.js';

/** Bursts of requests at these recorded offsets (ms): 3 at 0, 3 at 400, 2 at 800, 3 at 1600. */
const BURSTS = [
  { at: 0, n: 3 },
  { at: 400, n: 3 },
  { at: 800, n: 2 },
  { at: 1600, n: 3 },
];

async function burstStore(t: TestContext): Promise<{ store: Store; path: string }> {
  const { store, path } = await openStore(t);
  const t0 = Date.now() - 60_000;
  let port = 41_000;
  const records = BURSTS.flatMap((b, k) =>
    Array.from({ length: b.n }, (_, i) => httpRecord({ url: `/b${k}/${i}`, startedAt: t0 + b.at, client: { address: '10.0.0.1', port: port++ }, resBody: '{}' })),
  );
  await putRecords(store, records);
  return { store, path };
}

/** First arrival of each burst, in ms after `t0`. */
function burstStarts(backend: Backend, t0: number): number[] {
  return BURSTS.map((_, k) => Math.min(...backend.seen.filter((s) => s.url.startsWith(`/b${k}/`)).map((s) => s.at)) - t0);
}

async function replayAt(t: TestContext, speed: number): Promise<{ starts: number[]; doc: Doc; backend: Backend }> {
  const { store, path } = await burstStore(t);
  const backend = await startBackend(t, (_req, _b, res) => json(res, 200, {}));
  const engine = await openEngine(t, store, path, [backend.origin]);
  // The schedule starts when the replay is created: no request may arrive before its recorded offset from here.
  const t0 = performance.now();
  const doc = await finished(engine, (engine.manager.createResolved(params({ speed, concurrency: 16 })) as Doc).id);
  assert.equal(doc.summary.counts.match, 11);
  return { starts: burstStarts(backend, t0), doc, backend };
}

/** Timer granularity: a timer may fire this much before its due time. */
const EARLY_MS = 1.5;

// Load on the machine can only make requests late, never early: the assertions bound arrivals from
// below (the schedule is kept) and compare the two speeds, rather than measuring gaps that a stalled
// event loop compresses. Arrival order is not asserted: requests of different recorded connections
// go out on different connections, and after a stall several are due at once. The scheduler's own
// due order and due times are unit-tested with a fake clock in scheduler.test.ts.
test('recorded bursts replayed at speed 1 and 4: none comes before its offset divided by the speed', async (t) => {
  const one = await replayAt(t, 1);
  const four = await replayAt(t, 4);
  for (const [speed, starts] of [[1, one.starts], [4, four.starts]] as const) {
    BURSTS.forEach((b, k) => {
      assert.ok(starts[k]! >= b.at / speed - EARLY_MS, `speed ${speed}: burst ${k} arrived ${starts[k]!.toFixed(1)} ms after the start, due at ${b.at / speed} ms`);
    });
  }
  assert.ok(four.starts[3]! < one.starts[3]!, `speed 4 reached the last burst sooner (${four.starts[3]!.toFixed(0)} ms) than speed 1 (${one.starts[3]!.toFixed(0)} ms)`);
  const late = one.doc.summary.lateness_ms;
  assert.ok(late.p50 !== null && late.p99 !== null && late.p50 >= 0 && late.p99 >= late.p50, 'the scheduler reports its lateness');
});

test('the concurrency limit is never exceeded, and is used', async (t) => {
  const { store, path } = await openStore(t);
  await putRecords(store, Array.from({ length: 30 }, (_, i) => httpRecord({ url: `/slow/${i}`, resBody: '{}' })));
  const backend = await startBackend(t, async (_req, _b, res) => {
    await delay(40);
    json(res, 200, {});
  });
  const engine = await openEngine(t, store, path, [backend.origin]);
  const doc = await finished(engine, (engine.manager.createResolved(params({ concurrency: 4 })) as Doc).id);
  assert.equal(doc.summary.counts.match, 30);
  assert.equal(backend.maxInFlight, 4);
  assert.equal(doc.progress.max_in_flight, 4);
});

test('requests of one recorded HTTP/1.1 connection keep their order and never overlap; HTTP/2 ones only keep their start order', async (t) => {
  const { store, path } = await openStore(t);
  const t0 = Date.now() - 10_000;
  const h1 = Array.from({ length: 8 }, (_, i) =>
    httpRecord({ url: `/conn/${i}`, startedAt: t0 + i, client: { address: '10.0.0.7', port: 50_000 }, resBody: '{}' }),
  );
  const h2 = Array.from({ length: 6 }, (_, i) =>
    httpRecord({ url: `/h2/${i}`, startedAt: t0 + 100 + i, client: { address: '10.0.0.8', port: 50_001 }, httpVersion: '2.0', resBody: '{}' }),
  );
  await putRecords(store, [...h1, ...h2]);
  let h1Active = 0;
  let h1Max = 0;
  let h2Active = 0;
  let h2Max = 0;
  const backend = await startBackend(t, async (req, _b, res) => {
    const isH1 = req.url!.startsWith('/conn/');
    if (isH1) h1Max = Math.max(h1Max, ++h1Active);
    else h2Max = Math.max(h2Max, ++h2Active);
    await delay(isH1 ? 5 + ((Number(req.url!.slice(-1)) * 7) % 11) : 30);
    if (isH1) h1Active--;
    else h2Active--;
    json(res, 200, {});
  });
  const engine = await openEngine(t, store, path, [backend.origin]);
  const doc = await finished(engine, (engine.manager.createResolved(params({ concurrency: 16 })) as Doc).id);
  assert.equal(doc.summary.counts.match, 14);
  const h1Order = backend.seen.filter((s) => s.url.startsWith('/conn/')).map((s) => s.url);
  assert.deepEqual(h1Order, h1.map((r) => r.request.url));
  assert.equal(h1Max, 1, 'one HTTP/1.1 connection never has two requests in flight');
  const h2Order = backend.seen.filter((s) => s.url.startsWith('/h2/')).sort((a, b) => a.at - b.at).map((s) => s.url);
  assert.deepEqual(h2Order, h2.map((r) => r.request.url));
  assert.ok(h2Max > 1, 'HTTP/2 requests of one connection may be in flight together');
});

test('fixed-rate mode ignores recorded timing; long idle gaps are capped', async (t) => {
  const { store, path } = await openStore(t);
  const recordedAt = Date.now() - 3_600_000;
  // Ten requests recorded 10 s apart.
  await putRecords(store, Array.from({ length: 10 }, (_, i) => httpRecord({ url: `/r/${i}`, startedAt: recordedAt + i * 10_000, resBody: '{}' })));
  const backend = await startBackend(t, (_req, _b, res) => json(res, 200, {}));
  const engine = await openEngine(t, store, path, [backend.origin]);

  // Load can only delay requests: each is bounded from below by its slot (the slot times themselves
  // are unit-tested in scheduler.test.ts), and the whole replay is far from the recorded 90 s.
  /** Arrival of /r/i after `t0`, per i (the requests come from different recorded connections: any order). */
  const arrivals = (t0: number): number[] => {
    assert.deepEqual(backend.seen.map((s) => s.url).sort(), Array.from({ length: 10 }, (_, i) => `/r/${i}`), 'each request replayed once');
    return Array.from({ length: 10 }, (_, i) => backend.seen.find((s) => s.url === `/r/${i}`)!.at - t0);
  };
  let t0 = performance.now();
  await finished(engine, (engine.manager.createResolved(params({ rate: 50 })) as Doc).id);
  const atRate = arrivals(t0);
  atRate.forEach((at, i) => assert.ok(at >= i * 20 - EARLY_MS, `50 requests/s: request ${i + 1} at ${at.toFixed(1)} ms, its slot at ${i * 20} ms`));
  assert.ok(Math.max(...atRate) < 30_000, 'not the recorded 90 s');

  backend.seen.length = 0;
  t0 = performance.now();
  await finished(engine, (engine.manager.createResolved(params({ speed: 1, maxGapMs: 30 })) as Doc).id);
  const capped = arrivals(t0);
  capped.forEach((at, i) => assert.ok(at >= i * 30 - EARLY_MS, `gaps capped at 30 ms: request ${i + 1} at ${at.toFixed(1)} ms, due at ${i * 30} ms`));
  assert.ok(Math.max(...capped) < 30_000, 'not the recorded 90 s');
});
