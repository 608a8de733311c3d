#!/usr/bin/env node
// CPU per record of each step a synced record goes through, in one process, on recorded 1 KiB
// exchanges like bench/sync.mjs's (GET /1k, dot padding): the sender's read back from the store and
// batch encoding, brotli (the fast setting a sender with a backlog uses) and back, the receiver's
// decoding and checking, and storing the batch (ReceiverWriter → store ingest, the writer thread
// and fdatasync included: process.cpuUsage counts every thread), one batch at a time and again
// with 4 handed over at a time (the wall time of that one is the receiver's drain bound).
//
//   node bench/sync-steps.mjs [--root DIR] [--records N] [--batch N] [--rounds N]
//
// Every round reads the same sender store into a fresh receiver store; the first round warms the
// JIT up and is not counted, the median of the others is printed.
// --root: a QProxy folder with a build (dist/), default this one; run it against a second folder
// with the previous build to compare. Prints one table and a `STEPSJSON {…}` line.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';

const { values } = parseArgs({
  options: {
    root: { type: 'string', default: resolve(import.meta.dirname, '..') },
    records: { type: 'string', default: '20000' },
    batch: { type: 'string', default: '500' },
    rounds: { type: 'string', default: '4' },
  },
});
const root = resolve(values.root);
const N = Number(values.records);
const BATCH = Number(values.batch);
const ROUNDS = Math.max(2, Number(values.rounds));
const load = (p) => import(pathToFileURL(join(root, 'dist', p)).href);

const { Store } = await load('store/store.js');
const { encodeBatch, decodeBatch, WIRE_FORMAT } = await load('sync/wire-format.js');
const { compress, decompress } = await load('sync/compression.js');
const { ReceiverWriter } = await load('sync/receiver-writer.js');
const { uuidv7 } = await load('core/uuidv7.js');

const dir = mkdtempSync(join(tmpdir(), 'qproxy-sync-steps-'));
const options = (path) => ({
  path,
  retentionMs: 0,
  maxSizeBytes: 0,
  flushIntervalMs: 20,
  synchronous: 'normal',
  queueMaxRecords: 100_000,
  queueMaxBytes: 512 * 1024 * 1024,
  purgeIntervalMs: 60_000,
});
const quiet = { info() {}, warn() {}, error() {} };

const BODY = Buffer.alloc(1024, '.');
function record(i) {
  const startedAt = Date.now() - 60_000 + i;
  return {
    v: 1,
    id: uuidv7(startedAt),
    protocol: 'http',
    node_id: 'bench-record',
    started_at: startedAt,
    duration_ms: 0.812 + (i % 7) / 10,
    client: { address: '127.0.0.1', port: 40_000 + (i % 20_000) },
    tls: null,
    downstream: 'http://127.0.0.1:18080',
    request: { method: 'GET', url: '/1k', http_version: '1.1', headers: [['Host', '127.0.0.1:18081']], body: { data: Buffer.alloc(0), size: 0, truncated: false }, trailers: [] },
    response: {
      status: 200,
      status_message: 'OK',
      http_version: '1.1',
      headers: [
        ['content-type', 'text/plain'],
        ['content-length', '1024'],
        ['date', new Date(startedAt).toUTCString()],
        ['connection', 'keep-alive'],
        ['keep-alive', 'timeout=5'],
      ],
      body: { data: BODY, size: 1024, truncated: false },
      trailers: [],
    },
    status: 200,
    timings: { request_end: 0.05, response_start: 0.6, response_end: 0.8 },
    error: null,
    redacted: [],
  };
}

const a = await Store.open(options(join(dir, 'a.db')));
for (let i = 0; i < N; i += BATCH) await a.ingest(Array.from({ length: Math.min(BATCH, N - i) }, (_, k) => record(i + k)));

// The format this build sends to a receiver of its own version.
const format = WIRE_FORMAT ?? 1;
// What this build's sync sender reads the feed with: HTTP records as stored where the store offers it.
const readFeed = typeof a.readStoredAfter === 'function' ? (pos, n) => a.readStoredAfter(pos, n) : (pos, n) => a.readAfter(pos, n);
const encode = (entries) => (encodeBatch.length >= 3 ? encodeBatch('bench-record', entries, format) : encodeBatch('bench-record', entries));

/** The same store step again with 4 batches handed over at a time; not part of the total (the records are stored once per round). */
const STORE_4 = 'store (receiver), 4 batches at a time';

/** Per step, the figures of every counted round. */
const rounds = {};
let counted = false;
async function step(name, fn) {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const out = await fn();
  const c = process.cpuUsage(c0);
  if (counted) (rounds[name] ??= []).push({ cpu_us: (c.user + c.system) / N, wall_us: ((performance.now() - t0) * 1000) / N });
  return out;
}

for (let round = 0; round < ROUNDS; round++) {
counted = round > 0;
const b = await Store.open(options(join(dir, `b${round}.db`)));

const pages = await step('read back', () => {
  const out = [];
  for (let pos = 0; ; ) {
    const page = readFeed(pos, BATCH);
    if (page.length === 0) return out;
    out.push(page);
    pos = page[page.length - 1].seq;
  }
});
const raws = await step('encode', () => pages.map((p) => encode(p)));
const wires = await step('compress (br, fast)', () => Promise.all(raws.map((r) => compress(r, 'br', true))));
// With the size before compression, as a sender declares it (x-qproxy-raw-bytes); an older build ignores it.
const back = await step('decompress', () => Promise.all(wires.map((w, i) => decompress(w, 'br', 64 * 1024 * 1024, raws[i].byteLength))));
const batches = await step('decode + check', () => back.map((r) => decodeBatch(r)));
const writer = new ReceiverWriter(b, quiet);
await step('store (receiver)', async () => {
  for (const batch of batches) await writer.storeBatch(batch);
});
if (b.stats().count !== N) throw new Error(`stored ${b.stats().count} of ${N}`);
await b.close();
// As a receiver gets them from a sender's 4 streams: up to 4 batches handed over before the first
// is acknowledged (a build whose ReceiverWriter stores one at a time queues them inside).
const b4 = await Store.open(options(join(dir, `b${round}-4.db`)));
const writer4 = new ReceiverWriter(b4, quiet);
await step(STORE_4, async () => {
  const open = new Set();
  for (const batch of batches) {
    const p = writer4.storeBatch(batch).finally(() => open.delete(p));
    open.add(p);
    if (open.size >= 4) await Promise.race(open);
  }
  await Promise.all(open);
});
if (b4.stats().count !== N) throw new Error(`stored ${b4.stats().count} of ${N} (4 in flight)`);
await b4.close();
}
await a.close();
rmSync(dir, { recursive: true, force: true });

const median = (xs) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];
const figures = Object.fromEntries(
  Object.entries(rounds).map(([name, list]) => [name, { cpu_us: median(list.map((f) => f.cpu_us)), wall_us: median(list.map((f) => f.wall_us)) }]),
);

let total = 0;
console.log(`${root} (batch format ${format}, feed read ${typeof a.readStoredAfter === 'function' ? 'as stored' : 'as records'}), ${N} records of 1 KiB, batches of ${BATCH}, median of ${ROUNDS - 1} rounds after a warm-up`);
console.log('| step | CPU µs / record | wall µs / record |\n| --- | ---: | ---: |');
for (const [name, f] of Object.entries(figures)) {
  if (name !== STORE_4) total += f.cpu_us;
  console.log(`| ${name} | ${f.cpu_us.toFixed(1)} | ${f.wall_us.toFixed(1)} |`);
}
console.log(`| all | ${total.toFixed(1)} | |`);
console.log(`STEPSJSON ${JSON.stringify({ root, format, records: N, figures, total_cpu_us: total })}`);
