#!/usr/bin/env node
// NATS sync micro-benchmark (issue 6 follow-up), loopback only, a few seconds:
//   1. publish: a store filled with N realistic 1 KiB HTTP exchanges (like GET /1k through a Record
//      node), drained by the NatsPublisher to a nats-server -js started here; records/s and CPU µs
//      per record of this process (process.cpuUsage) and of nats-server (/proc);
//   2. consume (unless --phase publish): a NatsConsumer drains the stream into a second store; same
//      figures for the Playback side.
// Runs the built code (dist/): `npm run build` first. Profile with
//   node --cpu-prof --cpu-prof-dir=/tmp/prof bench/nats-publish.mjs --phase publish
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { freePort, waitForPort } from './lib/net.mjs';
import { CLK_TCK, delay, sessionStats, startGroup, stopGroup } from './lib/procs.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const HELP = `node bench/nats-publish.mjs [options]
  --records N        records in the store (default 20000)
  --body N           response body bytes per record (default 1024)
  --max-in-flight N  nats.max_in_flight (default 256, QProxy's)
  --batch N          nats.batch of the consumer (default 256, QProxy's)
  --origins N        node_ids the records come from, interleaved (default 1; 2 is like two Record nodes)
  --phase P          publish (only), or both: publish, then consume (default both)
  --nats-server P    nats-server binary (default /usr/sbin/nats-server)
  --keep             keep the temporary folder
`;
const { values: opts } = parseArgs({
  options: {
    records: { type: 'string', default: '20000' },
    body: { type: 'string', default: '1024' },
    'max-in-flight': { type: 'string', default: '256' },
    batch: { type: 'string', default: '256' },
    origins: { type: 'string', default: '1' },
    phase: { type: 'string', default: 'both' },
    'nats-server': { type: 'string', default: '/usr/sbin/nats-server' },
    keep: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});
if (opts.help) {
  process.stdout.write(HELP);
  process.exit(0);
}
for (const name of ['records', 'body', 'max-in-flight', 'batch', 'origins']) {
  if (!(Number.isInteger(Number(opts[name])) && Number(opts[name]) > 0)) {
    process.stderr.write(`--${name}: expected a positive whole number, got "${opts[name]}"\n`);
    process.exit(2);
  }
}
if (!['publish', 'both'].includes(opts.phase)) {
  process.stderr.write(`--phase: expected publish or both, got "${opts.phase}"\n`);
  process.exit(2);
}
const N = Number(opts.records);
/** Bound on each phase, so a broken build cannot hang the run. */
const PHASE_MAX_MS = 120_000;

const { Store } = await import(path.join(ROOT, 'dist/store/index.js'));
const { NatsPublisher } = await import(path.join(ROOT, 'dist/sync/nats/publisher.js'));
const { NatsConsumer } = await import(path.join(ROOT, 'dist/sync/nats/consumer.js'));
const { Subjects } = await import(path.join(ROOT, 'dist/sync/nats/subjects.js'));
const { uuidv7 } = await import(path.join(ROOT, 'dist/recording/uuidv7.js'));

function log(msg) {
  process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
}

const logger = {
  info() {},
  warn(obj, msg) {
    log(`warn: ${msg} ${JSON.stringify(obj)}`);
  },
  error(obj, msg) {
    log(`error: ${msg} ${JSON.stringify(obj)}`);
  },
};

/** What the Record node stores for GET /1k from bench/backend.mjs through wrk. */
function record(i, body) {
  const startedAt = Date.now();
  return {
    v: 1,
    id: uuidv7(startedAt),
    protocol: 'http',
    node_id: `bench-record-${i % Number(opts.origins)}`,
    started_at: startedAt,
    duration_ms: 0.42,
    client: { address: '127.0.0.1', port: 40_000 + (i % 20_000) },
    tls: null,
    downstream: 'http://127.0.0.1:39999',
    request: {
      method: 'GET',
      url: '/1k',
      http_version: '1.1',
      headers: [['Host', '127.0.0.1:40001']],
      body: { data: Buffer.alloc(0), size: 0, truncated: false },
      trailers: [],
    },
    response: {
      status: 200,
      status_message: 'OK',
      http_version: '1.1',
      headers: [
        ['content-type', 'application/octet-stream'],
        ['content-length', String(body.byteLength)],
        ['date', new Date(startedAt).toUTCString()],
        ['connection', 'keep-alive'],
        ['keep-alive', 'timeout=5'],
      ],
      body: { data: body, size: body.byteLength, truncated: false },
      trailers: [],
    },
    status: 200,
    timings: { request_end: 0.05, response_start: 0.31, response_end: 0.42 },
    error: null,
    redacted: [],
  };
}

function storeOptions(file) {
  return {
    path: file, retentionMs: 0, maxSizeBytes: 0, flushIntervalMs: 20, synchronous: 'normal',
    queueMaxRecords: 1_000_000, queueMaxBytes: 2 * 1024 ** 3, purgeIntervalMs: 600_000,
  };
}

const plan = {
  name: 'BENCH', subjects: new Subjects('bench'), create: true, replicas: 1, storage: 'file', maxAgeMs: 0, maxBytes: 0, duplicateWindowMs: 120_000,
};
const common = (url) => ({
  server: { servers: [url], connectTimeoutMs: 5000 }, stream: plan, subjects: plan.subjects, backoffInitialMs: 50, backoffMaxMs: 1000, logger,
});

/** Counts the batches the consumer stored (what it reports to metrics), for records per batch. */
function observer() {
  const seen = { acked: 0, stored: 0, batches: 0 };
  return {
    seen,
    batchAcked(e) { seen.acked += e.records; },
    sendFailed() {},
    recordsRefused() {},
    batchStored(e) { seen.batches++; seen.stored += e.stored + e.skipped; },
    batchRefused() {},
    setSenderGauges() {},
    setReceiverPeers() {},
  };
}

/** CPU seconds of this process and of nats-server, now. */
function cpu(nats) {
  // The monotonic clock in µs, as a --cpu-prof profile counts time: marks where a phase begins and ends.
  log(`mark ${process.hrtime.bigint() / 1000n}`);
  const u = process.cpuUsage();
  return { self: (u.user + u.system) / 1e6, nats: sessionStats(nats.pid).ticks / CLK_TCK, at: performance.now() };
}

function figures(what, c0, c1, n) {
  const secs = (c1.at - c0.at) / 1000;
  return {
    phase: what, records: n, seconds: secs, records_per_s: n / secs,
    cpu_us_per_record: ((c1.self - c0.self) * 1e6) / n, nats_cpu_us_per_record: ((c1.nats - c0.nats) * 1e6) / n,
    cpu_pct: ((c1.self - c0.self) / secs) * 100, nats_cpu_pct: ((c1.nats - c0.nats) / secs) * 100,
  };
}

async function until(check, what) {
  const t0 = performance.now();
  while (!check()) {
    if (performance.now() - t0 > PHASE_MAX_MS) throw new Error(`timed out waiting for ${what}`);
    await delay(5);
  }
}

async function main() {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'qproxy-bench-nats-'));
  const cleanup = () => {
    if (!opts.keep) rmSync(dir, { recursive: true, force: true });
  };
  const port = await freePort();
  const nats = startGroup({ cmd: opts['nats-server'], args: ['-js', '-a', '127.0.0.1', '-p', String(port), '-sd', path.join(dir, 'nats')], logFile: path.join(dir, 'nats.log'), cwd: ROOT });
  const rows = [];
  try {
    const notUp = await waitForPort(port, 20_000, () => nats.alive());
    if (notUp) throw new Error(`nats-server: ${notUp}`);
    const url = `nats://127.0.0.1:${port}`;
    const a = await Store.open(storeOptions(path.join(dir, 'a.db')));
    const body = Buffer.alloc(Number(opts.body), 'x');
    for (let i = 0; i < N; i++) if (!a.offer(record(i, body))) throw new Error('the store dropped a record');
    await a.flush();
    const last = a.stats().lastSeq;
    log(`store filled: ${N} records; publishing to ${url}`);

    const publisher = new NatsPublisher({
      ...common(url), nodeId: 'bench-record-0', maxInFlight: Number(opts['max-in-flight']), publishTimeoutMs: 10_000,
      compression: 'br', compressMinBytes: 4096, pollIntervalMs: 100, store: a,
    });
    const p0 = cpu(nats);
    await publisher.start();
    await until(() => publisher.cursor >= last, 'the publisher to reach the end of the feed');
    const p1 = cpu(nats);
    rows.push(figures('publish', p0, p1, N));
    await publisher.close(2000);
    await a.close();

    if (opts.phase !== 'publish') {
      const b = await Store.open(storeOptions(path.join(dir, 'b.db')));
      const seen = observer();
      const consumer = new NatsConsumer({
        ...common(url), observer: seen, nodeId: 'bench-playback', durable: 'bench-pb', group: null, batch: Number(opts.batch), ackWaitMs: 30_000, maxAckPending: 4096, store: b,
      });
      const c0 = cpu(nats);
      await consumer.start();
      await until(() => consumer.status().received.stored >= N, 'the consumer to store every record');
      const c1 = cpu(nats);
      rows.push({ ...figures('consume', c0, c1, N), records_per_batch: seen.seen.stored / Math.max(1, seen.seen.batches) });
      await consumer.close(2000);
      const stored = b.stats().count;
      await b.close();
      if (stored !== N) throw new Error(`the consumer stored ${stored} records, expected ${N}`);
    }
  } finally {
    await stopGroup(nats, 5000);
    cleanup();
  }
  const n = (x, d = 0) => (Math.round(x * 10 ** d) / 10 ** d).toLocaleString('en-US');
  console.log(`NATS sync, ${N} records of ${opts.body} B bodies, max_in_flight ${opts['max-in-flight']}, batch ${opts.batch}; ${os.availableParallelism()} CPUs, ${process.version}.

| phase | records/s | CPU µs/record (this process) | CPU µs/record (nats-server) | CPU % this / nats-server | records per stored batch |
| --- | --- | --- | --- | --- | --- |
${rows.map((r) => `| ${r.phase} | ${n(r.records_per_s)} | ${n(r.cpu_us_per_record)} | ${n(r.nats_cpu_us_per_record)} | ${n(r.cpu_pct)} / ${n(r.nats_cpu_pct)} | ${r.records_per_batch ? n(r.records_per_batch) : ''} |`).join('\n')}`);
  console.log(`BENCHJSON ${JSON.stringify({ date: new Date().toISOString(), node: process.version, rows })}`);
}

main().then(
  () => process.exit(0),
  (err) => {
    log(`bench failed: ${err.stack ?? err.message}`);
    process.exit(1);
  },
);
