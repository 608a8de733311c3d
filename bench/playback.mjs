#!/usr/bin/env node
// Playback benchmark (issue 5), loopback only, about a minute:
//   1. ceiling: autocannon against the benchmark backend (GET /1k), N connections;
//   2. replay rate at speed 0 (as fast as possible) against the same backend, concurrency N,
//      every answer compared with its recording — the figure to hold against the ceiling;
//   3. scheduler lateness p50/p99 at speed 1 for a recorded stream of R requests/s.
// Needs `npm run build` first (it loads dist/). `node bench/playback.mjs --help`.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const HELP = `node bench/playback.mjs [--records 20000] [--connections 50] [--duration 8] [--rate 2000] [--seconds 10]
  --records      records replayed at speed 0
  --connections  autocannon connections and replay concurrency
  --duration     seconds of the autocannon ceiling run
  --rate         requests/s of the recorded stream replayed at speed 1
  --seconds      length of that stream`;

const { values: opts } = parseArgs({
  options: {
    records: { type: 'string', default: '20000' },
    connections: { type: 'string', default: '50' },
    duration: { type: 'string', default: '8' },
    rate: { type: 'string', default: '2000' },
    seconds: { type: 'string', default: '10' },
    help: { type: 'boolean', default: false },
  },
});
if (opts.help) {
  console.log(HELP);
  process.exit(0);
}
const N = Number(opts.records);
const C = Number(opts.connections);
const RATE = Number(opts.rate);
const SECONDS = Number(opts.seconds);

let dist;
try {
  dist = {
    engine: await import('../dist/playback/engine.js'),
    store: await import('../dist/store/index.js'),
    schema: await import('../dist/playback/results/schema.js'),
    observer: await import('../dist/playback/observer.js'),
    uuid: await import('../dist/recording/uuidv7.js'),
  };
} catch (err) {
  console.error(`cannot load dist/ (${err.message}); run \`npm run build\` first`);
  process.exit(2);
}

function log(msg) {
  process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
}

/** The benchmark backend in its own process; resolves with its port. */
async function startBackend() {
  const child = spawn(process.execPath, [path.join(ROOT, 'bench/backend.mjs'), '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.setEncoding('utf8');
  for await (const chunk of child.stdout) {
    out += chunk;
    const m = /listening on 127\.0\.0\.1:(\d+)/.exec(out);
    if (m) return { child, port: Number(m[1]) };
  }
  throw new Error('the backend did not start');
}

async function ceiling(port) {
  const spec = { url: `http://127.0.0.1:${port}/1k`, connections: C, duration: Number(opts.duration), method: 'GET', bodyBytes: 0 };
  const child = spawn(process.execPath, [path.join(ROOT, 'bench/load/autocannon-run.mjs'), JSON.stringify(spec)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (s) => (out += s));
  await once(child, 'close');
  const line = out.split('\n').find((l) => l.startsWith('BENCHJSON '));
  if (!line) throw new Error('autocannon printed no result');
  const r = JSON.parse(line.slice('BENCHJSON '.length));
  return { rps: r.requests / (r.duration_us / 1e6), p50_us: r.latency_us.p50, p99_us: r.latency_us.p99 };
}

function paddedJson(size) {
  const head = `{"size":${size},"pad":"`;
  const tail = '"}';
  return Buffer.from(head + '.'.repeat(size - head.length - tail.length) + tail);
}

/** `count` GET /1k records, `perMs` per recorded millisecond, ending a minute ago. */
async function fill(store, count, perMs) {
  const body = paddedJson(1024);
  const t0 = Date.now() - 60_000 - Math.ceil(count / perMs);
  for (let i = 0; i < count; i++) {
    const startedAt = t0 + Math.floor(i / perMs);
    store.offer({
      v: 1,
      id: dist.uuid.uuidv7(startedAt),
      protocol: 'http',
      node_id: 'bench',
      started_at: startedAt,
      duration_ms: 0.5,
      client: { address: '10.0.0.1', port: 10_000 + (i % 50_000) },
      tls: null,
      downstream: 'http://10.0.0.2:80',
      request: { method: 'GET', url: '/1k', http_version: '1.1', headers: [['host', 'bench']], body: { data: Buffer.alloc(0), size: 0, truncated: false }, trailers: [] },
      response: {
        status: 200,
        status_message: 'OK',
        http_version: '1.1',
        headers: [['content-type', 'application/json'], ['content-length', '1024']],
        body: { data: body, size: body.length, truncated: false },
        trailers: [],
      },
      status: 200,
      timings: { request_end: 0.1, response_start: 0.4, response_end: 0.5 },
      error: null,
      redacted: [],
    });
    if (i % 2_000 === 1_999) await store.flush();
  }
  await store.flush();
}

const compare = { status: true, headers: ['content-type'], body: true, ignore: { headers: [], json_paths: [], patterns: [] }, truncated: 'prefix' };
const safety = { rules: [], safe_methods: 'replay', unsafe_methods: 'replay' };
const quiet = { info() {}, warn() {}, error() {} };

async function replay(engine, params) {
  const t0 = performance.now();
  const { id } = engine.manager.createResolved(params);
  for (;;) {
    const doc = engine.manager.get(id);
    if (doc.state !== 'running') return { doc, seconds: (performance.now() - t0) / 1000 };
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function main() {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'qproxy-bench-playback-'));
  const backend = await startBackend();
  try {
    log(`backend on 127.0.0.1:${backend.port}; ceiling: autocannon, ${C} connections, ${opts.duration} s`);
    const top = await ceiling(backend.port);

    const run = async (name, count, perMs, params) => {
      const storePath = path.join(dir, `${name}.db`);
      const store = await dist.store.Store.open({
        path: storePath, retentionMs: 0, maxSizeBytes: 0, flushIntervalMs: 50, synchronous: 'normal',
        queueMaxRecords: 100_000, queueMaxBytes: 1024 ** 3, purgeIntervalMs: 3_600_000,
      });
      log(`${name}: storing ${count} records`);
      await fill(store, count, perMs);
      const engine = await dist.engine.PlaybackEngine.open({
        store, resultsPath: dist.schema.resultsPathFor(storePath),
        http: { origins: [`http://127.0.0.1:${backend.port}`], tls: { rejectUnauthorized: true }, rewrite: { keep_host: false, headers: {}, query: {}, set_headers: {} } },
        tcp: null, timeoutMs: 10_000, compareMaxBody: 1024 * 1024,
        live: { enabled: false, delayMs: 1000, concurrency: C, compare, safety },
        defaults: { speed: 1, rate: 0, maxGapMs: 10_000, concurrency: C, compare, safety },
        retentionMs: 0, maxReplays: 10, observer: dist.observer.nullObserver, logger: quiet,
      });
      engine.start();
      log(`${name}: replaying`);
      const out = await replay(engine, {
        filter: {}, rate: 0, maxGapMs: 10_000, concurrency: C, limit: Infinity, compare, safety, ...params,
      });
      await engine.close(5_000);
      await store.close();
      return out;
    };

    const fast = await run('speed0', N, 1, { speed: 0 });
    const timed = await run('speed1', RATE * SECONDS, RATE / 1000, { speed: 1 });
    const replayRps = fast.doc.summary.replayed / fast.seconds;
    const late = timed.doc.summary.lateness_ms;
    const result = {
      ceiling_rps: Math.round(top.rps),
      replay_rps: Math.round(replayRps),
      ratio: Math.round((replayRps / top.rps) * 100) / 100,
      replay_success_rate: fast.doc.summary.success_rate,
      lateness_ms: { p50: late.p50, p99: late.p99, max: late.max },
      lateness_success_rate: timed.doc.summary.success_rate,
      targets: { ratio_at_least: 0.8, lateness_p99_at_most_ms: 5 },
    };
    console.log(`| figure | value | target |
| --- | --- | --- |
| autocannon → backend (ceiling) | ${result.ceiling_rps} req/s | |
| replay, speed 0, concurrency ${C} (compared) | ${result.replay_rps} req/s (success rate ${result.replay_success_rate}) | |
| replay / ceiling | ${result.ratio} | ≥ 0.8 |
| lateness at speed 1, ${RATE} req/s recorded, p50 / p99 / max | ${late.p50} / ${late.p99} / ${late.max} ms | p99 ≤ 5 ms |`);
    console.log(`BENCHJSON ${JSON.stringify(result)}`);
  } finally {
    backend.child.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
