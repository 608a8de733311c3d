#!/usr/bin/env node
// The store's cost per recorded HTTP exchange, without the proxy around it:
//   node bench/store-offer.mjs DIST [RECORDS] [BODY_BYTES] [RATE] [--no-offer]
// e.g. taskset -c 0 node bench/store-offer.mjs dist 20000 1024 5000
// Builds records shaped like the proxy's (bodies captured the way the proxy captures them) at RATE
// per second and offers them to a real Store (temporary folder, default options); after a warm-up
// of 5,000 it prints the CPU of every thread of this process per record: the main thread (offer,
// framing, segment writes handed to libuv, index rows posted) and the others (V8 platform threads,
// libuv pool: pwritev + fdatasync, the store's writer thread: SQLite). `--no-offer` builds the
// records and drops them, to subtract what building them costs. DIST is the built tree to load
// (`dist`, or another checkout's dist, to compare builds: run them alternately).
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const args = process.argv.slice(2).filter((a) => a !== '--no-offer');
const offer = !process.argv.includes('--no-offer');
const [distArg, recordsArg = '20000', bodyArg = '1024', rateArg = '5000'] = args;
if (!distArg) {
  process.stderr.write('usage: node bench/store-offer.mjs DIST [RECORDS] [BODY_BYTES] [RATE] [--no-offer]\n');
  process.exit(2);
}
const dist = path.resolve(distArg);
const { Store } = await import(path.join(dist, 'store', 'store.js'));
const { BodyCapture } = await import(path.join(dist, 'recording', 'capture.js'));
const { uuidv7 } = await import(path.join(dist, 'core', 'uuidv7.js'));

const dir = mkdtempSync(path.join(os.tmpdir(), 'qproxy-store-offer-'));
const store = await Store.open({
  path: path.join(dir, 'qproxy.db'),
  retentionMs: 0,
  maxSizeBytes: 0,
  flushIntervalMs: 100,
  synchronous: 'normal',
  queueMaxRecords: 100_000,
  queueMaxBytes: 512 * 1024 * 1024,
  purgeIntervalMs: 60_000,
});
const payload = Buffer.alloc(Number(bodyArg), 0x2e);

/** A record as the recorder offers it after a GET answered with `payload`. */
function record(i) {
  const capture = BodyCapture.forRecording(1 << 20);
  capture.push(Buffer.from(payload));
  return {
    v: 1,
    id: uuidv7(),
    protocol: 'http',
    node_id: 'bench',
    started_at: Date.now() + 0.123,
    duration_ms: 1.2345678,
    client: { address: '127.0.0.1', port: 40000 + (i % 1000) },
    tls: null,
    downstream: 'http://127.0.0.1:34567',
    request: {
      method: 'GET',
      url: 'http://127.0.0.1:34567/1k',
      http_version: '1.1',
      headers: [['host', '127.0.0.1:34567'], ['user-agent', 'wrk'], ['accept', '*/*'], ['x-request-id', String(i)]],
      body: { data: Buffer.alloc(0), size: 0, truncated: false },
      trailers: [],
    },
    response: {
      status: 200,
      status_message: 'OK',
      http_version: '1.1',
      headers: [['content-type', 'application/json'], ['content-length', String(payload.length)], ['date', new Date().toUTCString()], ['connection', 'keep-alive']],
      body: capture.result(),
      trailers: [],
    },
    status: 200,
    timings: { request_end: 0.1, response_start: 0.9, response_end: 1.1 },
    error: null,
    redacted: [],
  };
}

function ticks() {
  const out = { main: 0, other: 0 };
  readdirSync('/proc/self/task')
    .sort((a, b) => Number(a) - Number(b))
    .forEach((tid, i) => {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out[i === 0 ? 'main' : 'other'] += Number(f[11]) + Number(f[12]);
    });
  return out;
}

const rate = Number(rateArg);
const PER_TURN = 50;
async function run(n) {
  const t0 = Date.now();
  for (let i = 0; i < n; i += PER_TURN) {
    for (let k = 0; k < PER_TURN; k++) {
      const r = record(i + k);
      if (offer) store.offer(r);
    }
    const wait = t0 + ((i + PER_TURN) * 1000) / rate - Date.now();
    await new Promise((resolve) => (wait > 0 ? setTimeout(resolve, wait) : setImmediate(resolve)));
  }
  await store.flush();
}

await run(5000);
const n = Number(recordsArg);
const before = ticks();
await run(n);
const after = ticks();
const us = (k) => (((after[k] - before[k]) * 1e6) / 100 / n).toFixed(1); // 100 ticks per second
process.stdout.write(
  `${distArg}${offer ? '' : ' (--no-offer)'}: ${n} records of ${bodyArg} B at ${rate}/s: main ${us('main')} µs/record, other threads ${us('other')}, ` +
    `load average ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}\n`,
);
await store.close();
rmSync(dir, { recursive: true, force: true });
