#!/usr/bin/env node
// Sync benchmark (issue 4), loopback only, about two minutes:
//   1. steady: a Record node (peer → a Playback node) under steady HTTP load; Record req/s, sync
//      throughput (records/s, MiB/s of payload), receiver lag p50/p99 (qproxy_sync_lag_seconds),
//      wire vs raw bytes;
//   2. catch-up: the Playback node is stopped (SIGTERM) while the load goes on, so a backlog builds;
//      then the load stops, the Playback node restarts on the same store and port, and the drain rate
//      of the backlog is held against the recording rate of step 1.
// With --backend nats or both (issue 6): steady load only, through the peer sync and/or NATS
// JetStream (a nats-server -js started here), with one and with two Record nodes feeding one
// Playback node; records/s, lag p99, CPU of every process (nats-server included), records per
// batch the Playback node stored, and where the backlog sits (Record store queue, unacknowledged
// on the Record nodes, and for NATS undelivered in the stream / delivered but not acknowledged).
// Needs `npm run build` first (it runs dist/cli.js). `node bench/sync.mjs --help`.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { chooseLoadGen, runLoad } from './lib/load.mjs';
import { fetchText, freePort, probe, waitForPort } from './lib/net.mjs';
import { CLK_TCK, delay, killAllGroupsNow, machineTicks, selfTicks, sessionStats, startGroup, stopGroup } from './lib/procs.mjs';
import { parseSizes } from './lib/workloads.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const HELP = `node bench/sync.mjs [options]
  --seconds N        length of the steady load window (default 20)
  --outage N         seconds of load while the Playback node is down: the backlog (default 20)
  --connections N    load generator connections (default 20)
  --compression C    peer.compression: br (default), gzip or none
  --batch-records N  peer.batch_max_records (default: QProxy's, 500)
  --streams N        peer.streams, batches in flight (default: QProxy's, 4)
  --tls              sync over TLS (a certificate for 127.0.0.1 made with openssl) instead of h2c
  --loadgen L        auto (wrk when on PATH), wrk or autocannon
  --keep             keep the temporary folder (configs, stores, logs)
  --backend B        peer (default: steady + catch-up), nats or both (steady only, 1 and 2 Record nodes)
  --nats-server P    nats-server binary for --backend nats|both (default /usr/sbin/nats-server)
  --nats-batch N     nats.batch of the Playback node (default: QProxy's, 256)
  --cpu-prof DIR     run the QProxy nodes with node --cpu-prof, profiles written to DIR on exit
  --series PREFIX    --backend only: write the backlog samples (every 250 ms) of each row to
                     PREFIX-<backend>-<record nodes>.json, to see the spikes behind a lag p99
  --link-delay MS    --backend only: an emulated zone link, MS each way (bench/proxies/tcp-pipe.mjs):
                     peer: between the Record nodes and the Playback node's sync listener; nats: two
                     servers, zone A (Record nodes) and zone B (Playback node, a mirror of A's stream)
                     joined by a leafnode connection through the link
`;

const { values: opts } = parseArgs({
  options: {
    seconds: { type: 'string', default: '20' },
    outage: { type: 'string', default: '20' },
    connections: { type: 'string', default: '20' },
    compression: { type: 'string', default: 'br' },
    tls: { type: 'boolean', default: false },
    'batch-records': { type: 'string' },
    streams: { type: 'string' },
    loadgen: { type: 'string', default: 'auto' },
    keep: { type: 'boolean', default: false },
    backend: { type: 'string', default: 'peer' },
    'nats-server': { type: 'string', default: '/usr/sbin/nats-server' },
    'nats-batch': { type: 'string' },
    'cpu-prof': { type: 'string' },
    series: { type: 'string' },
    'link-delay': { type: 'string', default: '0' },
    help: { type: 'boolean', default: false },
  },
});
if (opts.help) {
  process.stdout.write(HELP);
  process.exit(0);
}
if (!['br', 'gzip', 'none'].includes(opts.compression)) {
  process.stderr.write(`--compression: expected br, gzip or none, got "${opts.compression}"\n`);
  process.exit(2);
}
const LINK_DELAY_MS = Number(opts['link-delay']);
if (!(Number.isInteger(LINK_DELAY_MS) && LINK_DELAY_MS >= 0 && LINK_DELAY_MS <= 5000)) {
  process.stderr.write(`--link-delay: expected milliseconds from 0 to 5000, got "${opts['link-delay']}"\n`);
  process.exit(2);
}
if (LINK_DELAY_MS > 0 && opts.backend === 'peer') {
  process.stderr.write('--link-delay: goes with --backend nats or both (the steady comparison)\n');
  process.exit(2);
}
if (!['peer', 'nats', 'both'].includes(opts.backend)) {
  process.stderr.write(`--backend: expected peer, nats or both, got "${opts.backend}"\n`);
  process.exit(2);
}
for (const name of ['seconds', 'outage', 'connections', 'batch-records', 'streams', 'nats-batch']) {
  const v = opts[name];
  if (v !== undefined && !(Number.isInteger(Number(v)) && Number(v) > 0)) {
    process.stderr.write(`--${name}: expected a positive whole number, got "${v}"\n`);
    process.exit(2);
  }
}
const STEADY_S = Number(opts.seconds);
const OUTAGE_S = Number(opts.outage);
const CONNECTIONS = Number(opts.connections);
const TOKEN = 'bench-sync-token-0123456789abcdef';
/** The catch-up target, and the lag target (seconds; 1 is a bucket bound of qproxy_sync_lag_seconds). */
const TARGETS = { lag_p99_below_s: 1, catchup_ratio_at_least: 5 };
/** Bounds on every wait, so a broken build cannot hang the run. */
const READY_MS = 20_000;
const DRAIN_MAX_MS = 60_000;

const live = { dir: null, loadChild: null, loadChildren: [] };

function log(msg) {
  process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
}

function cleanupNow() {
  const load = live.loadChild;
  for (const c of [load, ...live.loadChildren]) if (c && c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  killAllGroupsNow();
  if (live.dir && !opts.keep) rmSync(live.dir, { recursive: true, force: true });
}

/** A self-signed certificate for 127.0.0.1, made now; the Record node trusts it as peer.ca. */
function makeCert(dir) {
  const cert = path.join(dir, 'sync-cert.pem');
  const key = path.join(dir, 'sync-key.pem');
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
    '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', key, '-out', cert,
  ], { stdio: 'ignore' });
  return { cert, key };
}

function writeConfig(dir, name, config) {
  const file = path.join(dir, `${name}.json`);
  writeFileSync(file, `${JSON.stringify(config, null, 2)}\n`);
  return file;
}

async function getJson(port, urlPath) {
  const got = await fetchText(port, urlPath, 4 * 1024 * 1024);
  if (!got || got.status !== 200) return null;
  try {
    return JSON.parse(got.text);
  } catch {
    return null;
  }
}

/** Cumulative receiver lag buckets from /metrics: [{ le, count }], le = Infinity for +Inf. */
async function lagBuckets(port) {
  const got = await fetchText(port, '/metrics', 4 * 1024 * 1024);
  if (!got || got.status !== 200) return null;
  const buckets = [];
  for (const m of got.text.matchAll(/^qproxy_sync_lag_seconds_bucket\{([^}]*)\} (\S+)$/gm)) {
    if (!/role="receiver"/.test(m[1])) continue;
    const le = /le="([^"]+)"/.exec(m[1])?.[1];
    buckets.push({ le: le === '+Inf' ? Infinity : Number(le), count: Number(m[2]) });
  }
  return buckets.sort((a, b) => a.le - b.le);
}

/** The Playback node's stored batches and records so far (qproxy_sync_batches_total / records_total, receiver). */
async function receiverBatches(port) {
  const got = await fetchText(port, '/metrics', 4 * 1024 * 1024);
  if (!got || got.status !== 200) return null;
  const one = (re) => Number(re.exec(got.text)?.[1] ?? NaN);
  return {
    batches: one(/^qproxy_sync_batches_total\{[^}]*role="receiver"[^}]*outcome="ok"[^}]*\} (\S+)$/m),
    records: one(/^qproxy_sync_records_total\{[^}]*role="receiver"[^}]*outcome="stored"[^}]*\} (\S+)$/m),
  };
}

/** Quantile of a cumulative histogram, interpolated inside its bucket as Prometheus does. */
function quantile(buckets, q) {
  const total = buckets.at(-1)?.count ?? 0;
  if (total === 0) return null;
  const rank = q * total;
  let prevLe = 0;
  let prevCount = 0;
  for (const b of buckets) {
    if (b.count >= rank) {
      if (b.le === Infinity) return prevLe;
      return prevLe + ((b.le - prevLe) * (rank - prevCount)) / Math.max(1, b.count - prevCount);
    }
    prevLe = b.le;
    prevCount = b.count;
  }
  return prevLe;
}

function diffBuckets(after, before) {
  return after.map((b, i) => ({ le: b.le, count: b.count - (before?.[i]?.count ?? 0) }));
}

async function startNode(dir, name, configFile, apiPort, waitPort) {
  // One folder per node and run; the default file names tell the main thread from the store's writer thread.
  const prof = opts['cpu-prof'] ? ['--cpu-prof', '--cpu-prof-dir', path.join(path.resolve(opts['cpu-prof']), `${path.basename(dir)}-${name}`)] : [];
  const group = startGroup({ cmd: process.execPath, args: [...prof, path.join(ROOT, 'dist', 'cli.js')], env: { ...process.env, CONFIG_PATH: configFile }, logFile: path.join(dir, `${name}.log`), cwd: ROOT });
  for (const port of [apiPort, waitPort]) {
    const notUp = await waitForPort(port, READY_MS, () => group.alive());
    if (notUp) throw new Error(`${name} node: ${notUp} (log: ${path.join(dir, `${name}.log`)})`);
  }
  return group;
}

async function startBackend(dir) {
  const port = await freePort();
  const group = startGroup({ cmd: process.execPath, args: [path.join(ROOT, 'bench', 'backend.mjs'), String(port)], logFile: path.join(dir, 'backend.log'), cwd: ROOT });
  const notUp = await waitForPort(port, READY_MS, () => group.alive());
  if (notUp) throw new Error(`backend: ${notUp}`);
  return { group, port };
}

/** CPU seconds used so far by each process group (node trees, backend). */
function cpuNow(groups) {
  const out = Object.fromEntries(Object.entries(groups).map(([k, g]) => [k, sessionStats(g.pid).ticks / CLK_TCK]));
  // This harness plus the load generators it reaped, and the whole machine: the rest is other work.
  out.harness = selfTicks() / CLK_TCK;
  out.machine = machineTicks().busy / CLK_TCK;
  return out;
}

/** Share of one core each group used between two cpuNow() readings `secs` apart, in %. */
function cpuPct(before, after, secs) {
  const pct = Object.fromEntries(Object.keys(after).map((k) => [k, Math.round(((after[k] - (before[k] ?? 0)) / secs) * 100)]));
  const ours = Object.keys(after).filter((k) => k !== 'machine').reduce((a, k) => a + pct[k], 0);
  pct.other = Math.max(0, pct.machine - ours);
  return pct;
}

/** Both halves of the figures at one instant. */
async function snapshot(ports) {
  const [rec, pb, buckets] = await Promise.all([getJson(ports.recApi, '/api/status'), getJson(ports.pbApi, '/api/status'), lagBuckets(ports.pbApi)]);
  return { at: performance.now(), sender: rec?.sync ?? null, recorded: rec?.records?.count ?? null, stored: pb?.records?.count ?? null, buckets };
}

async function load(gen, port, durationS, dir, tag) {
  const workload = parseSizes('1k')[0];
  const { result, rc, error } = await runLoad(gen, {
    port, workload, connections: CONNECTIONS, durationS, logFile: path.join(dir, `load-${tag}.log`), register: (c) => (live.loadChild = c),
  });
  if (!result) throw new Error(`load generator gave no result (rc ${rc}${error ? `, ${error}` : ''})`);
  return result;
}

/** Poll the sender until nothing is pending; returns the samples of the Playback node's count. */
async function drain(ports) {
  const t0 = performance.now();
  const samples = [];
  while (performance.now() - t0 < DRAIN_MAX_MS) {
    const [rec, pb] = await Promise.all([getJson(ports.recApi, '/api/status'), getJson(ports.pbApi, '/api/status')]);
    samples.push({ at: performance.now(), stored: pb?.records?.count ?? null, pending: rec?.sync?.pending?.records ?? null, connected: rec?.sync?.connected ?? false });
    if (rec?.sync?.pending?.records === 0 && rec.sync.in_flight?.batches === 0) return { samples, done: true };
    await delay(100);
  }
  return { samples, done: false };
}

/**
 * Sample the sender's lag_ms (ack time − time of the newest record of the last batch) and behind_ms
 * (now − oldest unacknowledged record) every 200 ms until stop(); resolves with both, sorted.
 */
function sampleLag(ports) {
  const lag = [];
  const behind = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      const st = await getJson(ports.recApi, '/api/status');
      if (Number.isFinite(st?.sync?.lag_ms)) lag.push(st.sync.lag_ms);
      if (Number.isFinite(st?.sync?.behind_ms)) behind.push(st.sync.behind_ms);
      await delay(200);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      const asc = (a, b) => a - b;
      return { lag: lag.sort(asc), behind: behind.sort(asc) };
    },
  };
}

/** Nearest-rank percentile of a sorted array. */
function pct(sorted, q) {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
}

/** peer.batch_max_records and peer.streams when given on the command line. */
function tuning() {
  const t = {};
  if (opts['batch-records'] !== undefined) t.batch_max_records = Number(opts['batch-records']);
  if (opts.streams !== undefined) t.streams = Number(opts.streams);
  return t;
}

const round = (x, d = 2) => (x === null || !Number.isFinite(x) ? null : Math.round(x * 10 ** d) / 10 ** d);

async function main() {
  const gen = chooseLoadGen(opts.loadgen);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'qproxy-bench-sync-'));
  live.dir = dir;
  const ports = { http: await freePort(), recApi: await freePort(), pbApi: await freePort(), sync: await freePort() };
  const backend = await startBackend(dir);
  const tls = opts.tls ? makeCert(dir) : null;
  const pbConfig = writeConfig(dir, 'playback', {
    mode: 'Playback',
    node_id: 'bench-playback',
    api: { host: '127.0.0.1', port: ports.pbApi },
    storage: { path: path.join(dir, 'playback.db') },
    sync: { host: '127.0.0.1', port: ports.sync, token: TOKEN, ...(tls ? { tls: { tls_cert: tls.cert, tls_key: tls.key } } : {}) },
    playback: { live: { enabled: false } },
    log: { level: 'warn' },
  });
  const recConfig = writeConfig(dir, 'record', {
    mode: 'Record',
    node_id: 'bench-record',
    http: { host: '127.0.0.1', port: ports.http, downstream: `http://127.0.0.1:${backend.port}` },
    api: { host: '127.0.0.1', port: ports.recApi },
    storage: { path: path.join(dir, 'record.db') },
    // A short backoff_max so the reconnect after the outage does not wait up to the 30 s default.
    peer: { host: '127.0.0.1', port: ports.sync, token: TOKEN, compression: opts.compression, backoff_max: '1s', ...tuning(), ...(tls ? { tls: true, ca: tls.cert } : {}) },
    log: { level: 'warn' },
  });

  let playback = await startNode(dir, 'playback', pbConfig, ports.pbApi, ports.sync);
  const record = await startNode(dir, 'record', recConfig, ports.recApi, ports.http);
  const check = await probe(ports.http, { path: '/1k' });
  if (check.status !== 200 || check.bytes !== 1024) throw new Error(`GET /1k through the Record node gave ${JSON.stringify(check)}`);
  log(`backend :${backend.port}, Record node :${ports.http}, Playback node sync ${tls ? 'h2 TLS' : 'h2c'} :${ports.sync}, compression ${opts.compression}, ${gen.version}`);

  // 1. steady load
  log(`steady: ${STEADY_S} s, ${CONNECTIONS} connections`);
  const s0 = await snapshot(ports);
  const cpu0 = cpuNow({ record, playback, backend: backend.group });
  const sampling = sampleLag(ports);
  const steadyLoad = await load(gen, ports.http, STEADY_S, dir, 'steady');
  const s1 = await snapshot(ports);
  const cpu1 = cpuNow({ record, playback, backend: backend.group });
  const lagSamples = await sampling.stop();
  // Let the last batches arrive so the lag histogram holds every record of the window.
  for (let i = 0; i < 100; i++) {
    const st = await getJson(ports.recApi, '/api/status');
    if (st?.sync?.pending?.records === 0) break;
    await delay(100);
  }
  const s2 = await snapshot(ports);
  const secs = (s1.at - s0.at) / 1000;
  const lag = diffBuckets(s2.buckets, s0.buckets);
  const lagTotal = lag.at(-1)?.count ?? 0;
  const withinOneS = lag.find((b) => b.le === 1)?.count ?? 0;
  const rawBytes = s2.sender.sent.raw_bytes - s0.sender.sent.raw_bytes;
  const wireBytes = s2.sender.sent.wire_bytes - s0.sender.sent.wire_bytes;
  const steady = {
    record_rps: steadyLoad.requests / (steadyLoad.duration_us / 1e6),
    load_errors: Object.values(steadyLoad.errors).reduce((a, b) => a + b, 0) + steadyLoad.non2xx,
    recorded_per_s: (s1.recorded - s0.recorded) / secs,
    synced_per_s: (s1.stored - s0.stored) / secs,
    payload_mib_s: (s1.sender.sent.raw_bytes - s0.sender.sent.raw_bytes) / secs / 1048576,
    wire_mib_s: (s1.sender.sent.wire_bytes - s0.sender.sent.wire_bytes) / secs / 1048576,
    compression_ratio: wireBytes > 0 ? rawBytes / wireBytes : null,
    lag_records: lagTotal,
    lag_p50_s: quantile(lag, 0.5),
    lag_p99_s: quantile(lag, 0.99),
    lag_share_within_1s: lagTotal ? withinOneS / lagTotal : null,
    behind_ms_at_end: s1.sender.behind_ms,
    cpu_pct: cpuPct(cpu0, cpu1, secs),
    sampled_lag_ms: { samples: lagSamples.lag.length, p50: pct(lagSamples.lag, 0.5), p99: pct(lagSamples.lag, 0.99), max: lagSamples.lag.at(-1) ?? null },
    sampled_behind_ms: { p50: pct(lagSamples.behind, 0.5), p99: pct(lagSamples.behind, 0.99), max: lagSamples.behind.at(-1) ?? null },
  };
  log(`steady: ${Math.round(steady.record_rps)} req/s, synced ${Math.round(steady.synced_per_s)} records/s, lag p50 ${round(steady.lag_p50_s, 3)} s p99 ${round(steady.lag_p99_s, 3)} s`);

  // 2. outage: stop the Playback node, keep the load, then restart it and time the drain.
  log(`outage: SIGTERM to the Playback node, ${OUTAGE_S} s of load`);
  await stopGroup(playback, 10_000);
  const outageLoad = await load(gen, ports.http, OUTAGE_S, dir, 'outage');
  const before = await getJson(ports.recApi, '/api/status');
  const backlog = before.sync.pending.records;
  const storedBefore = s2.stored;
  log(`backlog ${backlog} records; restarting the Playback node`);
  const tRestart = performance.now();
  playback = await startNode(dir, 'playback', pbConfig, ports.pbApi, ports.sync);
  const cpuD0 = cpuNow({ record, playback });
  const { samples, done } = await drain(ports);
  const cpuD1 = cpuNow({ record, playback });
  const first = samples.find((s) => s.stored !== null && s.stored > storedBefore);
  const last = samples.at(-1);
  const drainS = first ? (last.at - first.at) / 1000 : null;
  // Records stored between the first and the last sample, over that time: the drain rate proper,
  // without the process start and the reconnect (reported apart).
  const drained = first && last.stored !== null ? last.stored - first.stored : 0;
  const catchup = {
    outage_record_rps: outageLoad.requests / (outageLoad.duration_us / 1e6),
    backlog,
    done,
    restart_to_first_record_s: first ? (first.at - tRestart) / 1000 : null,
    drain_s: drainS,
    drain_per_s: drainS ? drained / drainS : null,
    restart_to_drained_s: (last.at - tRestart) / 1000,
    cpu_pct: cpuPct(cpuD0, cpuD1, (last.at - samples[0].at) / 1000 || 1),
  };
  catchup.ratio = catchup.drain_per_s && steady.recorded_per_s ? catchup.drain_per_s / steady.recorded_per_s : null;
  // Against the Record node's rate with no sending at all: the stricter reading of "recording rate".
  catchup.ratio_to_unsynced_rate = catchup.drain_per_s ? catchup.drain_per_s / catchup.outage_record_rps : null;
  const endRec = await getJson(ports.recApi, '/api/status');
  const endPb = await getJson(ports.pbApi, '/api/status');
  const reconcile = { record_count: endRec?.records?.count ?? null, playback_count: endPb?.records?.count ?? null };

  await stopGroup(record, 10_000);
  await stopGroup(playback, 10_000);
  await stopGroup(backend.group, 5_000);

  const lagPass = steady.lag_share_within_1s !== null && steady.lag_share_within_1s >= 0.99;
  const catchPass = done && catchup.ratio !== null && catchup.ratio >= TARGETS.catchup_ratio_at_least;
  const n = (x, d = 0) => (x === null ? 'n/a' : round(x, d).toLocaleString('en-US'));
  const md = `Sync over ${tls ? 'h2 (TLS)' : 'h2c'}, compression ${opts.compression}, peer ${JSON.stringify(tuning()) === '{}' ? 'defaults' : JSON.stringify(tuning())}; ${os.availableParallelism()} CPUs, ${process.version}.

| figure | value | target |
| --- | --- | --- |
| Record node, GET /1k, ${CONNECTIONS} connections (${gen.kind}) | ${n(steady.record_rps)} req/s (${steady.load_errors} errors) | |
| recorded | ${n(steady.recorded_per_s)} records/s | |
| sync throughput (stored on the Playback node) | ${n(steady.synced_per_s)} records/s, ${n(steady.payload_mib_s, 2)} MiB/s payload, ${n(steady.wire_mib_s, 2)} MiB/s on the wire | |
| wire vs raw (${opts.compression}) | ${n(steady.compression_ratio, 1)}× | |
| sync lag p50 / p99 (receiver histogram, ${steady.lag_records} records) | ${n(steady.lag_p50_s, 3)} / ${n(steady.lag_p99_s, 3)} s; ${n(steady.lag_share_within_1s * 100, 2)} % ≤ 1 s | p99 < 1 s: ${lagPass ? 'PASS' : 'FAIL'} |
| sender lag_ms / behind_ms sampled every 200 ms (${steady.sampled_lag_ms.samples} samples), p50 / p99 / max | ${n(steady.sampled_lag_ms.p50)} / ${n(steady.sampled_lag_ms.p99)} / ${n(steady.sampled_lag_ms.max)} ms; ${n(steady.sampled_behind_ms.p50)} / ${n(steady.sampled_behind_ms.p99)} / ${n(steady.sampled_behind_ms.max)} ms | |
| CPU during the steady window (% of one core): Record node / Playback node / backend / other processes | ${steady.cpu_pct.record} / ${steady.cpu_pct.playback} / ${steady.cpu_pct.backend} / ${steady.cpu_pct.other} % | |
| Record node while the Playback node is down (no sync sending) | ${n(catchup.outage_record_rps)} req/s | |
| backlog after ${OUTAGE_S} s outage | ${n(catchup.backlog)} records | |
| restart → first record stored / → drained | ${n(catchup.restart_to_first_record_s, 1)} s / ${n(catchup.restart_to_drained_s, 1)} s${done ? '' : ' (not drained within 60 s)'} | |
| catch-up drain rate | ${n(catchup.drain_per_s)} records/s = ${n(catchup.ratio, 1)}× the recording rate of the steady window (${n(catchup.ratio_to_unsynced_rate, 1)}× the rate with no sync) | ≥ 5×: ${catchPass ? 'PASS' : 'FAIL'} |
| CPU during the drain (% of one core): Record node / Playback node / other processes | ${catchup.cpu_pct.record} / ${catchup.cpu_pct.playback} / ${catchup.cpu_pct.other} % | |
| records at the end, Record / Playback | ${n(reconcile.record_count)} / ${n(reconcile.playback_count)} | equal |`;
  const result = {
    date: new Date().toISOString(), cpus: os.availableParallelism(), node: process.version, loadgen: gen.version,
    transport: tls ? 'h2 TLS' : 'h2c', compression: opts.compression, peer_tuning: tuning(), steady, catchup, reconcile,
    targets: { lag_p99: lagPass ? 'PASS' : 'FAIL', catchup: catchPass ? 'PASS' : 'FAIL' },
  };
  console.log(md);
  console.log(`BENCHJSON ${JSON.stringify(result)}`);
  if (opts.keep) log(`kept ${dir}`);
}

/**
 * A nats-server with JetStream on a free loopback port, its store in `dir`; with `zone`, in its own
 * JetStream domain, listening for leafnodes or connecting as one to `leafRemote`.
 */
async function startNats(dir, zone = null) {
  const port = await freePort();
  const name = zone ? `nats-${zone.domain}` : 'nats';
  const lines = [`listen: 127.0.0.1:${port}`, `server_name: bench-${name}`, `jetstream { store_dir: "${path.join(dir, name)}"${zone ? `, domain: ${zone.domain}` : ''} }`];
  const leafPort = zone?.leafListen ? await freePort() : null;
  if (leafPort) lines.push(`leafnodes { listen: 127.0.0.1:${leafPort} }`);
  if (zone?.leafRemote) lines.push(`leafnodes { remotes: [ { url: "nats-leaf://127.0.0.1:${zone.leafRemote}" } ] }`);
  const conf = path.join(dir, `${name}.conf`);
  writeFileSync(conf, `${lines.join('\n')}\n`);
  const group = startGroup({ cmd: opts['nats-server'], args: ['-c', conf], logFile: path.join(dir, `${name}.log`), cwd: ROOT });
  const notUp = await waitForPort(port, READY_MS, () => group.alive());
  if (notUp) throw new Error(`nats-server: ${notUp} (log: ${path.join(dir, `${name}.log`)})`);
  return { group, port, leafPort };
}

/** The emulated zone link: a TCP relay to `port` that holds every chunk LINK_DELAY_MS each way. */
async function startLink(dir, name, port) {
  const listen = await freePort();
  const group = startGroup({ cmd: process.execPath, args: [path.join(ROOT, 'bench', 'proxies', 'tcp-pipe.mjs'), String(listen), String(port), String(LINK_DELAY_MS)], logFile: path.join(dir, `${name}.log`), cwd: ROOT });
  const notUp = await waitForPort(listen, READY_MS, () => group.alive());
  if (notUp) throw new Error(`link relay: ${notUp}`);
  return { group, port: listen };
}

/**
 * The NATS side of a run: one server, or with --link-delay zone A and zone B joined by a leafnode
 * through the emulated link. `recordPort` is where Record nodes publish, `playbackPort` where the
 * Playback node consumes; `groups` are the processes to sample for CPU.
 */
async function startNatsSide(dir) {
  if (LINK_DELAY_MS === 0) {
    const one = await startNats(dir);
    return { recordPort: one.port, playbackPort: one.port, mirrored: false, groups: { nats: one.group } };
  }
  const a = await startNats(dir, { domain: 'A', leafListen: true });
  const link = await startLink(dir, 'link-nats', a.leafPort);
  const b = await startNats(dir, { domain: 'B', leafRemote: link.port });
  return { recordPort: a.port, playbackPort: b.port, mirrored: true, groups: { nats_a: a.group, nats_b: b.group, link: link.group } };
}

/** Reads the Playback node's durable consumer info (num_pending, num_ack_pending) over its own connection. */
async function consumerInfoReader(port, stream, durable) {
  const { connect } = await import('@nats-io/transport-node');
  const { jetstreamManager } = await import('@nats-io/jetstream');
  const nc = await connect({ servers: `127.0.0.1:${port}` });
  const jsm = await jetstreamManager(nc);
  return { read: () => jsm.consumers.info(stream, durable), close: () => nc.close() };
}

/**
 * Where records wait during a steady window, sampled every 250 ms until stop(): proxied but not yet
 * committed to the Record nodes' stores (ledger proxied − recorded, summed), committed but not yet
 * acknowledged by the sync (sync.pending.records, summed), and — NATS only, from the consumer's info
 * — in the stream not yet delivered (num_pending), and delivered but not yet stored and acknowledged
 * by the Playback node (num_ack_pending). Resolves with the medians.
 */
function sampleBacklog(recs, backend, consumerInfo) {
  const sender = [];
  const stream = [];
  const storing = [];
  const ackPending = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      const ci = await consumerInfo?.().catch(() => null);
      if (ci) ackPending.push(ci.num_ack_pending);
      const rs = await Promise.all(recs.map((r) => getJson(r.api, '/api/status')));
      const pending = rs.map((st) => st?.sync?.pending?.records);
      if (pending.every(Number.isFinite)) sender.push(pending.reduce((a, b) => a + b, 0));
      const queued = rs.map((st) => (st?.sync?.ledger?.proxied ?? NaN) - (st?.sync?.ledger?.recorded ?? NaN));
      if (queued.every(Number.isFinite)) storing.push(queued.reduce((a, b) => a + b, 0));
      if (ci) stream.push(ci.num_pending);
      await delay(250);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      const asc = (a, b) => a - b;
      const nats = backend === 'nats';
      if (opts.series) writeFileSync(`${opts.series}-${backend}-${recs.length}.json`, JSON.stringify({ storing, sender, stream, ack_pending: ackPending }));
      return {
        storing_p50: pct(storing.sort(asc), 0.5), sender_p50: pct(sender.sort(asc), 0.5),
        stream_p50: nats ? pct(stream.sort(asc), 0.5) : null, ack_pending_p50: nats ? pct(ackPending.sort(asc), 0.5) : null,
      };
    },
  };
}

/**
 * One steady window of one backend with `nodes` Record nodes feeding one Playback node: every node
 * gets the same load at once. Returns records/s stored on the Playback node, its receiver lag
 * p50/p99 and the CPU of each process.
 */
async function steadyCompare(gen, backend, nodes, dir0, nats) {
  const dir = mkdtempSync(path.join(dir0, `${backend}-${nodes}-`));
  const be = await startBackend(dir);
  const pbApi = await freePort();
  const sync = await freePort();
  const stream = `BENCH_${nodes}`;
  const natsSection = (port, extra) => ({ servers: `127.0.0.1:${port}`, stream, subject_prefix: `bench${nodes}`, backoff_max: '1s', ...extra });
  const pbConfig = writeConfig(dir, 'playback', {
    mode: 'Playback',
    node_id: 'bench-playback',
    api: { host: '127.0.0.1', port: pbApi },
    storage: { path: path.join(dir, 'playback.db') },
    ...(backend === 'nats'
      ? {
          nats: natsSection(nats.playbackPort, {
            durable: `pb-${nodes}`,
            ...(nats.mirrored && { mirror: { stream, domain: 'A' } }),
            ...(opts['nats-batch'] && { batch: Number(opts['nats-batch']) }),
          }),
        }
      : { sync: { host: '127.0.0.1', port: sync, token: TOKEN } }),
    playback: { live: { enabled: false } },
    log: { level: 'warn' },
  });
  const playback = await startNode(dir, 'playback', pbConfig, pbApi, backend === 'nats' ? pbApi : sync);
  // The peer sync crosses the emulated zone link straight to the sync listener.
  const link = backend === 'peer' && LINK_DELAY_MS > 0 ? await startLink(dir, 'link-peer', sync) : null;
  const recs = [];
  for (let i = 0; i < nodes; i++) {
    const http = await freePort();
    const api = await freePort();
    const cfg = writeConfig(dir, `record-${i}`, {
      mode: 'Record',
      node_id: `bench-record-${i}`,
      http: { host: '127.0.0.1', port: http, downstream: `http://127.0.0.1:${be.port}` },
      api: { host: '127.0.0.1', port: api },
      storage: { path: path.join(dir, `record-${i}.db`) },
      ...(backend === 'nats'
        ? { nats: natsSection(nats.recordPort, { compression: opts.compression }) }
        : { peer: { host: '127.0.0.1', port: link?.port ?? sync, token: TOKEN, compression: opts.compression, backoff_max: '1s', ...tuning() } }),
      log: { level: 'warn' },
    });
    recs.push({ http, api, group: await startNode(dir, `record-${i}`, cfg, api, http) });
  }
  for (const r of recs) {
    const check = await probe(r.http, { path: '/1k' });
    if (check.status !== 200) throw new Error(`GET /1k through a Record node gave ${JSON.stringify(check)}`);
  }
  const groups = () => ({ playback, backend: be.group, ...Object.fromEntries(recs.map((r, i) => [`record${i}`, r.group])), ...(backend === 'nats' ? nats.groups : {}), ...(link && { link: link.group }) });
  const count = async () => (await getJson(pbApi, '/api/status'))?.records?.count ?? null;
  // Warm-up: the first records, connections and stream/consumer creation are not measured.
  await Promise.all(recs.map((r) => probe(r.http, { path: '/1k' })));
  for (let i = 0; i < 100 && (await count()) < nodes; i++) await delay(100);
  const b0 = await lagBuckets(pbApi);
  const rb0 = await receiverBatches(pbApi);
  const c0 = await count();
  const t0 = performance.now();
  const cpu0 = cpuNow(groups());
  const infoOf = backend === 'nats' ? await consumerInfoReader(nats.playbackPort, stream, `pb-${nodes}`) : null;
  const backlog = sampleBacklog(recs, backend, infoOf?.read);
  const results = await Promise.all(
    recs.map((r, i) =>
      runLoad(gen, {
        port: r.http, workload: parseSizes('1k')[0], connections: Math.max(1, Math.round(CONNECTIONS / nodes)), durationS: STEADY_S,
        logFile: path.join(dir, `load-${i}.log`), register: (c) => live.loadChildren.push(c),
      }),
    ),
  );
  const c1 = await count();
  const t1 = performance.now();
  const cpu1 = cpuNow(groups());
  const queued = await backlog.stop();
  const rb1 = await receiverBatches(pbApi);
  await infoOf?.close();
  // Let the tail arrive so the lag histogram holds every record of the window.
  const recorded = (await Promise.all(recs.map((r) => getJson(r.api, '/api/status')))).reduce((n, st) => n + (st?.records?.count ?? 0), 0);
  for (let i = 0; i < 200 && (await count()) < recorded; i++) await delay(100);
  const b1 = await lagBuckets(pbApi);
  const c2 = await count();
  const lag = diffBuckets(b1, b0);
  const secs = (t1 - t0) / 1000;
  const rps = results.reduce((n, x) => n + (x.result ? x.result.requests / (x.result.duration_us / 1e6) : 0), 0);
  for (const r of recs) await stopGroup(r.group, 10_000);
  await stopGroup(playback, 10_000);
  await stopGroup(be.group, 5_000);
  if (link) await stopGroup(link.group, 5_000);
  return {
    backend, record_nodes: nodes, record_rps: rps, synced_per_s: (c1 - c0) / secs, lag_p50_s: quantile(lag, 0.5), lag_p99_s: quantile(lag, 0.99),
    recorded, stored_at_end: c2, cpu_pct: cpuPct(cpu0, cpu1, secs), backlog: queued,
    records_per_stored_batch: rb0 && rb1 ? (rb1.records - rb0.records) / Math.max(1, rb1.batches - rb0.batches) : null,
  };
}

async function compareMain() {
  const gen = chooseLoadGen(opts.loadgen);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'qproxy-bench-sync-'));
  live.dir = dir;
  const backends = opts.backend === 'both' ? ['peer', 'nats'] : [opts.backend];
  const nats = backends.includes('nats') ? await startNatsSide(dir) : null;
  const rows = [];
  for (const backend of backends) {
    for (const nodes of [1, 2]) {
      log(`${backend}, ${nodes} Record node(s): ${STEADY_S} s of load, ${CONNECTIONS} connections in all`);
      const r = await steadyCompare(gen, backend, nodes, dir, nats);
      log(`${backend} ×${nodes}: ${Math.round(r.record_rps)} req/s, synced ${Math.round(r.synced_per_s)} records/s, lag p99 ${round(r.lag_p99_s, 3)} s`);
      rows.push(r);
    }
  }
  for (const g of Object.values(nats?.groups ?? {})) await stopGroup(g, 5_000);
  const n = (x, d = 0) => (x === null || x === undefined ? 'n/a' : round(x, d).toLocaleString('en-US'));
  const cpu = (r) => Object.entries(r.cpu_pct).filter(([k]) => k !== 'machine').map(([k, v]) => `${k} ${v}`).join(', ');
  const linkNote = LINK_DELAY_MS > 0 ? `, emulated zone link ${LINK_DELAY_MS} ms each way (NATS: zone B mirrors zone A over a leafnode)` : '';
  const md = `Sync backends, GET /1k, ${CONNECTIONS} connections in all, ${STEADY_S} s per row, compression ${opts.compression}${linkNote}; ${os.availableParallelism()} CPUs, ${process.version}, ${gen.version}.

| backend | Record nodes | Record req/s (sum) | synced records/s | lag p50 / p99 (receiver) | stored / recorded at end | records per stored batch | backlog p50: storing / unacked on Record / undelivered in stream / delivered unacked | CPU % of one core |
| --- | --- | --- | --- | --- | --- | --- | --- | --- |
${rows.map((r) => `| ${r.backend} | ${r.record_nodes} | ${n(r.record_rps)} | ${n(r.synced_per_s)} | ${n(r.lag_p50_s, 3)} / ${n(r.lag_p99_s, 3)} s | ${n(r.stored_at_end)} / ${n(r.recorded)} | ${n(r.records_per_stored_batch)} | ${n(r.backlog.storing_p50)} / ${n(r.backlog.sender_p50)} / ${n(r.backlog.stream_p50)} / ${n(r.backlog.ack_pending_p50)} | ${cpu(r)} |`).join('\n')}`;
  console.log(md);
  console.log(`BENCHJSON ${JSON.stringify({ date: new Date().toISOString(), cpus: os.availableParallelism(), node: process.version, loadgen: gen.version, compression: opts.compression, link_delay_ms: LINK_DELAY_MS, rows })}`);
  if (opts.keep) log(`kept ${dir}`);
}

process.on('exit', cleanupNow);
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    log(`${signal}: stopping everything this run started`);
    process.exit(130);
  });
}

(opts.backend === 'peer' ? main() : compareMain()).then(
  () => process.exit(0),
  (err) => {
    log(`bench failed: ${err.message}`);
    process.exit(1);
  },
);
