// autocannon, driven through its API in a child process of its own, for bench/run.mjs.
//   node bench/load/autocannon-run.mjs '{"url":…,"connections":50,"duration":8,"method":"GET","bodyBytes":0}'
// Why not `autocannon -j`: its latency histogram has 1 ms resolution, too coarse for p50/p99 ratios
// between proxies that add tens of microseconds. The 'response' event carries the exact time, so this
// keeps every sample (µs, Float32Array) and prints exact percentiles as one "BENCHJSON {...}" line,
// in the same shape as bench/load/wrk-report.lua.
import autocannon from 'autocannon';

const opts = JSON.parse(process.argv[2] ?? '{}');
const body = opts.bodyBytes > 0 ? Buffer.alloc(opts.bodyBytes, 0x78) : undefined;
let samples = new Float32Array(1 << 16);
let count = 0;

function record(us) {
  if (count === samples.length) {
    const grown = new Float32Array(samples.length * 2);
    grown.set(samples);
    samples = grown;
  }
  samples[count++] = us;
}

function percentile(sorted, p) {
  if (sorted.length === 0) return null;
  return Math.round(sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]);
}

const instance = autocannon(
  {
    url: opts.url,
    connections: opts.connections,
    duration: opts.duration,
    method: opts.method ?? 'GET',
    body,
    headers: body ? { 'content-type': 'application/octet-stream' } : {},
    timeout: 5,
  },
  (err, result) => {
    if (err) {
      console.error(`autocannon failed: ${err.message}`);
      process.exit(1);
    }
    const sorted = samples.subarray(0, count).sort();
    const sum = sorted.reduce((a, b) => a + b, 0);
    const out = {
      requests: result.requests.total,
      duration_us: Math.round(result.duration * 1e6),
      bytes: result.throughput.total,
      errors: { connect: 0, read: result.errors - result.timeouts, write: 0, timeout: result.timeouts },
      non2xx: result.non2xx,
      latency_us: {
        mean: count ? Math.round((sum / count) * 10) / 10 : null,
        p50: percentile(sorted, 50),
        p90: percentile(sorted, 90),
        p99: percentile(sorted, 99),
        max: count ? Math.round(sorted[count - 1]) : null,
      },
    };
    console.log(`BENCHJSON ${JSON.stringify(out)}`);
  },
);
instance.on('response', (_client, _status, _bytes, responseTimeMs) => record(responseTimeMs * 1000));
for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => instance.stop());
