import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
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

/** First arrival of each burst, relative to the first request. */
function burstStarts(backend: Backend): number[] {
  const first = backend.seen[0]!.at;
  return BURSTS.map((_, k) => Math.min(...backend.seen.filter((s) => s.url.startsWith(`/b${k}/`)).map((s) => s.at)) - first);
}

async function replayAt(t: TestContext, speed: number): Promise<{ starts: number[]; doc: Doc; backend: Backend }> {
  const { store, path } = await burstStore(t);
  const backend = await startBackend(t, (_req, _b, res) => json(res, 200, {}));
  const engine = await openEngine(t, store, path, [backend.origin]);
  const doc = await finished(engine, (engine.manager.createResolved(params({ speed, concurrency: 16 })) as Doc).id);
  assert.equal(doc.summary.counts.match, 11);
  return { starts: burstStarts(backend), doc, backend };
}

test('recorded bursts replayed at speed 1 and 4 keep their order and their spacing in proportion', async (t) => {
  const one = await replayAt(t, 1);
  const four = await replayAt(t, 4);
  for (const { backend } of [one, four]) {
    // Order: every request of burst k arrives before any of burst k+1.
    for (let k = 0; k + 1 < BURSTS.length; k++) {
      const last = Math.max(...backend.seen.filter((s) => s.url.startsWith(`/b${k}/`)).map((s) => s.at));
      const next = Math.min(...backend.seen.filter((s) => s.url.startsWith(`/b${k + 1}/`)).map((s) => s.at));
      assert.ok(last <= next, `burst ${k} ended before burst ${k + 1} began`);
    }
  }
  // Spacing is measured from burst 1 on: the first burst also pays for warming up (first
  // connections, first parse), which says nothing about the schedule.
  for (const [speed, starts] of [[1, one.starts], [4, four.starts]] as const) {
    const gap12 = starts[2]! - starts[1]!;
    const gap23 = starts[3]! - starts[2]!;
    // The tolerance absorbs the lateness of the earlier burst on a busy machine (it shortens the gap).
    assert.ok(gap12 >= 400 / speed - 40, `speed ${speed}: bursts 1→2 ${gap12.toFixed(1)} ms apart, recorded ${400 / speed} ms`);
    assert.ok(gap23 >= 800 / speed - 40, `speed ${speed}: bursts 2→3 ${gap23.toFixed(1)} ms apart, recorded ${800 / speed} ms`);
    const ratio = gap23 / gap12;
    assert.ok(ratio > 1.2 && ratio < 3.5, `speed ${speed}: gap ratio ${ratio.toFixed(2)} (recorded 2)`);
  }
  const proportion = (one.starts[3]! - one.starts[1]!) / (four.starts[3]! - four.starts[1]!);
  assert.ok(proportion > 2 && proportion < 8, `speed 1 took ${proportion.toFixed(2)}× as long as speed 4 (expected about 4)`);
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
  const t0 = Date.now() - 3_600_000;
  // Ten requests recorded 10 s apart.
  await putRecords(store, Array.from({ length: 10 }, (_, i) => httpRecord({ url: `/r/${i}`, startedAt: t0 + i * 10_000, resBody: '{}' })));
  const backend = await startBackend(t, (_req, _b, res) => json(res, 200, {}));
  const engine = await openEngine(t, store, path, [backend.origin]);

  await finished(engine, (engine.manager.createResolved(params({ rate: 50 })) as Doc).id);
  const atRate = backend.seen.map((s) => s.at);
  assert.deepEqual(backend.seen.map((s) => s.url), Array.from({ length: 10 }, (_, i) => `/r/${i}`));
  // From the second request on: the first one also pays for opening a connection.
  const span = atRate[9]! - atRate[1]!;
  assert.ok(span >= 8 * 20 - 15, `50 requests/s spaces requests 2-10 over about 160 ms, got ${span.toFixed(1)} ms`);
  assert.ok(span < 30_000, 'not the recorded 90 s');

  backend.seen.length = 0;
  await finished(engine, (engine.manager.createResolved(params({ speed: 1, maxGapMs: 30 })) as Doc).id);
  const capped = backend.seen.map((s) => s.at);
  const cappedSpan = capped[9]! - capped[1]!;
  assert.ok(cappedSpan >= 8 * 30 - 15, `gaps capped at 30 ms: about 240 ms from the second request, got ${cappedSpan.toFixed(1)} ms`);
  assert.ok(cappedSpan < 30_000, 'not the recorded 90 s');
});
