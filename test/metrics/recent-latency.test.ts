import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RecentLatency } from '../../src/metrics/recent-latency.js';
import { DURATION_BUCKETS } from '../../src/metrics/http-metrics.js';
import { Metrics } from '../../src/metrics/metrics.js';

test('p50 and p99 of the last seconds, interpolated in the histogram buckets; old seconds drop out', () => {
  let now = 50_000;
  const r = new RecentLatency({ buckets: [0.001, 0.01, 0.1, 1], windowS: 10, now: () => now });
  assert.deepEqual(r.quantiles(), { p50: null, p99: null, count: 0, window_s: 10 });
  // 98 fast answers (within 1-10 ms) and 2 slow ones (100 ms-1 s).
  for (let i = 0; i < 98; i++) r.observe(0.005);
  r.observe(0.5);
  r.observe(0.7);
  const q = r.quantiles();
  assert.equal(q.count, 100);
  // Rank 50 of 98 in the (1, 10] ms bucket: 1 + 9 × 50/98 ms.
  assert.equal(q.p50, Math.round((1 + (9 * 50) / 98) * 1000) / 1000);
  // Rank 99: the first of the two in (100, 1000] ms: 100 + 900 × 1/2.
  assert.equal(q.p99, 550);
  now += 9_000;
  assert.equal(r.quantiles().count, 100, 'still inside the 10 s window');
  now += 1_000;
  assert.equal(r.quantiles().count, 0, 'ten seconds later the window is empty');
  r.observe(5);
  assert.deepEqual(r.quantiles(), { p50: 1000, p99: 1000, count: 1, window_s: 10 }, 'above the last bound: the last bound');
  r.observe(-1);
  r.observe(Number.NaN);
  assert.equal(r.quantiles().count, 1);
});

test('/api/status figures: exchanges observed by the HTTP metrics show in recentLatency()', () => {
  const m = new Metrics({ collectDefault: false });
  for (let i = 0; i < 10; i++) m.http.exchange({ outcome: 'ok', status: 200, durationSec: 0.002, bytesIn: 0, bytesOut: 10 });
  const q = m.recentLatency();
  assert.equal(q.count, 10);
  const [lower, upper] = [DURATION_BUCKETS[1]! * 1000, DURATION_BUCKETS[2]! * 1000];
  assert.ok(q.p50 !== null && q.p50 > lower && q.p50 <= upper, `p50 ${q.p50} within (${lower}, ${upper}] ms`);
});
