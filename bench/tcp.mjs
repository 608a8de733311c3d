#!/usr/bin/env node
// TCP benchmark (issue 3): bulk throughput both ways and 64-byte round trips, on 127.0.0.1 only, for
// (a) direct, (b) a plain net pipe relay, (c) QProxy TCP without recording, (d) QProxy recording with
// the default 16 MiB session cap, (e) QProxy recording every byte, beside (f) the disk's own
// sequential write rate (dd with O_DIRECT, and a node loop appending as the store does).
// `node bench/tcp.mjs --help`; docs/benchmarks.md "## TCP".
import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, fdatasyncSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { fetchText, freePort, waitForPort } from './lib/net.mjs';
import { CLK_TCK, PAGE_SIZE, delay, ioWriteBytes, killAllGroupsNow, sessionStats, startGroup, stopGroup, tasksetUsable } from './lib/procs.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const HOST = '127.0.0.1';
const MiB = 1048576;

const HELP = `Usage: node bench/tcp.mjs [options]      (npm run bench:tcp builds first, then runs this)

On 127.0.0.1 only: bulk upload and download MiB/s and 64-byte round trips (p50/p99) for
(a) direct, (b) plain net pipe relay, (c) QProxy TCP recording off, (d) QProxy recording with the
default 16 MiB session cap, (e) QProxy recording every byte, (g) the same with
tcp.recording.on_overload "backpressure", and with --baseline-cli (h) (e) with another build; plus
(f) dd's sequential write rate and a node loop appending as the store does.

  --bytes N        bytes per bulk transfer, each way (suffix KiB/MiB/GiB)   [1GiB]
  --max-transfer S a bulk transfer stops after this many seconds           [12]
  --rtt S          seconds of ping-pong per case                          [5]
  --cases LIST     letters a-e, g, h, comma separated                     [a,b,c,d,e,g; +h]
  --baseline-cli P another build's entry point (e.g. the previous commit built in a second
                   folder): adds case (h), recording every byte with that build
  --no-disk        skip (f), the dd and append-loop write tests
  --no-pin         do not pin the proxy (CPU 0) and client/backend (last CPU)
  --out DIR        results folder                           [.bench-results/tcp-<date>]
  -h, --help       this text
`;

const CASES = [
  { letter: 'a', name: 'direct', what: 'client → backend, no proxy' },
  { letter: 'b', name: 'tcp-pipe', what: 'bench/proxies/tcp-pipe.mjs: net sockets, pipe() both ways' },
  { letter: 'c', name: 'qproxy-norecord', what: 'QProxy TCP, recording.enabled false', recording: false },
  { letter: 'd', name: 'qproxy-record-cap', what: 'QProxy TCP recording, default 16 MiB session cap', recording: true },
  { letter: 'e', name: 'qproxy-record-all', what: 'QProxy TCP recording every byte (max_session_bytes 4GiB)', recording: true, cap: '4GiB' },
  {
    letter: 'g',
    name: 'qproxy-record-all-backpressure',
    what: '(e) with tcp.recording.on_overload "backpressure"',
    recording: true,
    cap: '4GiB',
    overload: 'backpressure',
  },
  { letter: 'h', name: 'qproxy-record-all-base', what: '(e) with the build of --baseline-cli', recording: true, cap: '4GiB', baseline: true },
];

function log(msg) {
  process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
}

function parseSize(name, raw) {
  const m = /^(\d+)\s*(|k|kib|m|mib|g|gib)$/i.exec(raw.trim());
  if (!m) throw new Error(`--${name}: expected a size like 256MiB or 1GiB, got "${raw}"`);
  const mult = { '': 1, k: 1024, kib: 1024, m: MiB, mib: MiB, g: 1024 * MiB, gib: 1024 * MiB }[m[2].toLowerCase()];
  const n = Number(m[1]) * mult;
  if (n < MiB || n > 16 * 1024 * MiB) throw new Error(`--${name}: must be from 1MiB to 16GiB, got "${raw}"`);
  return n;
}

function num(name, raw, min, max) {
  const n = Number(raw);
  if (!Number.isFinite(n) || n < min || n > max) throw new Error(`--${name}: expected a number from ${min} to ${max}, got "${raw}"`);
  return n;
}

function parseOptions(argv) {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      bytes: { type: 'string', default: '1GiB' },
      'max-transfer': { type: 'string', default: '12' },
      rtt: { type: 'string', default: '5' },
      cases: { type: 'string' },
      'baseline-cli': { type: 'string' },
      'no-disk': { type: 'boolean', default: false },
      'no-pin': { type: 'boolean', default: false },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const baseline = values['baseline-cli'];
  const letters = (values.cases ?? (baseline ? 'a,b,c,d,e,g,h' : 'a,b,c,d,e,g')).split(',').map((s) => s.trim()).filter(Boolean);
  for (const l of letters) if (!CASES.some((c) => c.letter === l)) throw new Error(`--cases: unknown case "${l}"; known: a-e, g, h`);
  if (letters.includes('h') && !baseline) throw new Error('--cases: (h) needs --baseline-cli PATH');
  return {
    help: values.help,
    bytes: parseSize('bytes', values.bytes),
    maxTransferS: num('max-transfer', values['max-transfer'], 1, 120),
    rttS: num('rtt', values.rtt, 0.5, 60),
    cases: CASES.filter((c) => letters.includes(c.letter)),
    baselineCli: baseline ? path.resolve(baseline) : null,
    disk: !values['no-disk'],
    pin: !values['no-pin'],
    out: values.out,
  };
}

// ---- client side of the three workloads (runs in this process) ----------------------------------

function connect(port) {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: HOST, port, noDelay: true, allowHalfOpen: true });
    sock.once('connect', () => resolve(sock));
    sock.once('error', reject);
  });
}

/** Send `total` bytes (or until `maxS`), FIN, and wait for the backend's byte count. */
async function upload(port, total, maxS) {
  const sock = await connect(port);
  const block = Buffer.alloc(MiB, 0x62);
  const t0 = performance.now();
  const deadline = t0 + maxS * 1000;
  let sent = 0;
  const counted = new Promise((resolve, reject) => {
    const parts = [];
    sock.on('data', (c) => parts.push(c));
    sock.on('end', () => {
      const all = Buffer.concat(parts);
      if (all.length !== 8) reject(new Error(`upload: backend answered ${all.length} bytes, want an 8-byte count`));
      else resolve(Number(all.readBigUInt64BE(0)));
    });
    sock.on('error', reject);
  });
  sock.write('U');
  while (sent < total && performance.now() < deadline) {
    const chunk = total - sent >= MiB ? block : block.subarray(0, total - sent);
    sent += chunk.length;
    if (!sock.write(chunk)) await new Promise((resolve) => sock.once('drain', resolve));
  }
  sock.end();
  const got = await counted;
  const secs = (performance.now() - t0) / 1000;
  sock.destroy();
  if (got !== sent) throw new Error(`upload: sent ${sent} bytes, backend received ${got}`);
  return { bytes: got, secs, mibs: got / MiB / secs, complete: sent === total };
}

/** Ask the backend for `total` bytes and read them (or stop after `maxS`). */
async function download(port, total, maxS) {
  const sock = await connect(port);
  const head = Buffer.alloc(9);
  head.write('D');
  head.writeBigUInt64BE(BigInt(total), 1);
  const t0 = performance.now();
  let got = 0;
  const complete = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => resolve(false), maxS * 1000);
    sock.on('data', (c) => (got += c.length));
    sock.on('end', () => {
      clearTimeout(timer);
      resolve(true);
    });
    sock.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    sock.end(head);
  });
  const secs = (performance.now() - t0) / 1000;
  sock.destroy();
  if (complete && got !== total) throw new Error(`download: asked for ${total} bytes, got ${got}`);
  return { bytes: got, secs, mibs: got / MiB / secs, complete };
}

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** One connection, 64 bytes out, 64 bytes back, again, for `seconds`. */
async function pingPong(port, seconds) {
  const sock = await connect(port);
  const msg = Buffer.alloc(64, 0x70);
  const lat = [];
  let pending = 0;
  let wake = null;
  sock.on('data', (c) => {
    pending -= c.length;
    if (pending <= 0 && wake) wake();
  });
  let done = false;
  const failed = new Promise((_, reject) => {
    sock.once('error', reject);
    sock.once('close', () => done || reject(new Error('ping-pong: the connection closed mid-run')));
  });
  failed.catch(() => {}); // raced below; after the run the close is expected
  sock.write('E');
  const t0 = performance.now();
  const end = t0 + seconds * 1000;
  while (performance.now() < end) {
    const s = performance.now();
    pending = msg.length;
    const back = new Promise((resolve) => (wake = resolve));
    sock.write(msg);
    await Promise.race([back, failed]);
    lat.push((performance.now() - s) * 1000);
  }
  const secs = (performance.now() - t0) / 1000;
  done = true;
  sock.destroy();
  lat.sort((x, y) => x - y);
  return { roundTrips: lat.length, perSec: lat.length / secs, p50us: percentile(lat, 50), p99us: percentile(lat, 99) };
}

/** One echo round trip through `port`, or the reason it failed. */
async function echoOnce(port) {
  let sock;
  try {
    sock = await connect(port);
    sock.setTimeout(2000);
    const ok = await new Promise((resolve) => {
      let got = 0;
      sock.on('data', (c) => (got += c.length) >= 4 && resolve(true));
      sock.on('timeout', () => resolve(false));
      sock.on('error', () => resolve(false));
      sock.write('Eping');
    });
    return ok;
  } catch {
    return false;
  } finally {
    sock?.destroy();
  }
}

/**
 * Readiness through a proxy: a full echo round trip, not just an accepted connection. (QProxy keeps a
 * session open when its client sends FIN before the downstream connection is up, which would then
 * hold its graceful stop for the whole drain timeout.)
 */
async function waitForEcho(port, timeoutMs, isAlive) {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    if (await echoOnce(port)) return null;
    if (!isAlive()) return `the proxy exited before port ${port} relayed an echo`;
    await delay(100);
  }
  return `no echo through port ${port} within ${Math.round(timeoutMs / 1000)} s`;
}

// ---- processes ------------------------------------------------------------------------------------

function qproxyConfig(work, port, backendPort, apiPort, info) {
  const config = {
    mode: 'Record',
    node_id: 'bench',
    tcp: { host: HOST, port, downstream: [`${HOST}:${backendPort}`] },
    // A known API port (not 0), so the run can read what was recorded and what was dropped.
    api: { host: HOST, port: apiPort },
    storage: { path: path.join(work, 'q.db') },
    log: { level: 'warn' },
  };
  if (!info.recording) config.recording = { enabled: false };
  if (info.cap) config.tcp.recording = { max_session_bytes: info.cap, ...(info.overload && { on_overload: info.overload }) };
  const file = path.join(work, 'config.json');
  writeFileSync(file, `${JSON.stringify(config, null, 2)}\n`);
  return file;
}

function startProxy(info, { work, port, backendPort, apiPort, logFile, cpus, baselineCli }) {
  if (info.letter === 'b') {
    const args = [path.join(ROOT, 'bench', 'proxies', 'tcp-pipe.mjs'), String(port), String(backendPort)];
    return startGroup({ cmd: process.execPath, args, logFile, cpus, cwd: ROOT });
  }
  const env = { ...process.env, CONFIG_PATH: qproxyConfig(work, port, backendPort, apiPort, info) };
  const cli = info.baseline ? baselineCli : path.join(ROOT, 'dist', 'cli.js');
  return startGroup({ cmd: process.execPath, args: [cli], env, logFile, cpus, cwd: ROOT });
}

/**
 * QProxy's own account of the recording once its write queue is empty (polled, at most 10 s): bytes
 * recorded, segments dropped and why. A recording run that dropped segments did not store every byte.
 */
async function recordingStatus(apiPort) {
  let last = null;
  for (let i = 0; i < 100; i++) {
    const res = await fetchText(apiPort, '/api/status', 65536);
    try {
      last = JSON.parse(res?.text ?? '');
    } catch {
      last = null;
    }
    if (last?.records?.queue_depth === 0) break;
    await delay(100);
  }
  if (!last?.recording) return null;
  const { recorded, recorded_bytes: recordedBytes, dropped, dropped_by_reason: droppedByReason } = last.recording;
  return { sessions: recorded, recordedMiB: recordedBytes / MiB, dropped, droppedByReason, queueDepth: last.records?.queue_depth ?? null };
}

/** Run `fn` and charge the proxy group's CPU ticks over it. */
async function withCpu(group, fn) {
  const before = group ? sessionStats(group.pid).ticks : 0;
  const result = await fn();
  const cpuS = group ? (sessionStats(group.pid).ticks - before) / CLK_TCK : null;
  return { ...result, proxyCpuS: cpuS };
}

async function runCase(ctx, info) {
  const rec = { case: info.name, letter: info.letter, what: info.what, ok: true };
  let group = null;
  let work = null;
  let port = ctx.backendPort;
  try {
    if (info.letter !== 'a') {
      work = mkdtempSync(path.join(os.tmpdir(), `qproxy-bench-tcp-${info.letter}-`));
      ctx.tempDirs.add(work);
      port = await freePort();
      const logFile = path.join(ctx.logDir, `${info.name}.proxy.log`);
      rec.apiPort = info.letter === 'b' ? null : await freePort();
      group = startProxy(info, { work, port, backendPort: ctx.backendPort, apiPort: rec.apiPort, logFile, cpus: ctx.pin.proxy, baselineCli: ctx.opts.baselineCli });
      const notUp = await waitForEcho(port, 60_000, () => group.alive());
      if (notUp) throw new Error(`${notUp} (log: ${logFile})`);
    }
    rec.upload = await withCpu(group, () => upload(port, ctx.opts.bytes, ctx.opts.maxTransferS));
    log(`  ${info.name} upload   ${rec.upload.mibs.toFixed(0)} MiB/s (${(rec.upload.bytes / MiB).toFixed(0)} MiB in ${rec.upload.secs.toFixed(2)} s)`);
    rec.download = await withCpu(group, () => download(port, ctx.opts.bytes, ctx.opts.maxTransferS));
    log(`  ${info.name} download ${rec.download.mibs.toFixed(0)} MiB/s (${(rec.download.bytes / MiB).toFixed(0)} MiB in ${rec.download.secs.toFixed(2)} s)`);
    rec.rtt = await withCpu(group, () => pingPong(port, ctx.opts.rttS));
    log(`  ${info.name} ping-pong ${Math.round(rec.rtt.perSec)}/s p50 ${rec.rtt.p50us.toFixed(0)} µs p99 ${rec.rtt.p99us.toFixed(0)} µs`);
    if (group) {
      rec.rssMiB = (sessionStats(group.pid).rssPages * PAGE_SIZE) / MiB;
      if (!group.alive()) throw new Error('the proxy exited during the measurement');
      if (rec.apiPort) {
        rec.recording = await recordingStatus(rec.apiPort);
        rec.ioWriteBytes = ioWriteBytes(group.pid);
        const r = rec.recording;
        if (r) log(`  ${info.name} recorded ${fmt(r.recordedMiB)} MiB in ${r.sessions} sessions, ${r.dropped} segments dropped ${JSON.stringify(r.droppedByReason)}`);
      }
    }
  } catch (err) {
    Object.assign(rec, { ok: false, why: err.message });
    log(`  ${info.name} FAILED: ${err.message}`);
  } finally {
    if (group) rec.stop = await stopGroup(group, 20_000);
    if (work) {
      rec.storeMiB = dirBytes(work) / MiB;
      rmSync(work, { recursive: true, force: true });
      ctx.tempDirs.delete(work);
    }
  }
  return rec;
}

function dirBytes(dir) {
  let total = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    total += e.isDirectory() ? dirBytes(p) : statSync(p).size;
  }
  return total;
}

/** (f): dd with O_DIRECT, so the page cache does not flatter the disk. */
function diskRate(ctx) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'qproxy-bench-tcp-dd-'));
  ctx.tempDirs.add(dir);
  try {
    const count = Math.max(1, Math.round(ctx.opts.bytes / MiB));
    const r = spawnSync('dd', ['if=/dev/zero', `of=${path.join(dir, 'dd.bin')}`, 'bs=1M', `count=${count}`, 'oflag=direct'], { encoding: 'utf8', timeout: 120_000 });
    // GNU dd: "1073741824 bytes (1.1 GB, 1.0 GiB) copied, 1.23 s, 873 MB/s"
    const m = /(\d+) bytes .* copied, ([\d.,]+) s/.exec(r.stderr ?? '');
    if (r.status !== 0 || !m) return { ok: false, why: `dd failed: ${(r.stderr || r.error?.message || '').trim().split('\n').pop()}` };
    const bytes = Number(m[1]);
    const secs = Number(m[2].replace(',', '.'));
    return { ok: true, bytes, secs, mibs: bytes / MiB / secs };
  } finally {
    rmSync(dir, { recursive: true, force: true });
    ctx.tempDirs.delete(dir);
  }
}

/**
 * (f) as the store writes: a plain node loop appending 256 KiB writes through the page cache with an
 * fdatasync every 8 MiB (the store's pwritev calls and group commits), so "disk rate" is also known
 * for the way QProxy writes, not only for O_DIRECT.
 */
function appendRate(ctx) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'qproxy-bench-tcp-append-'));
  ctx.tempDirs.add(dir);
  try {
    const fd = openSync(path.join(dir, 'append.bin'), 'w');
    const block = Buffer.alloc(256 * 1024, 0x61);
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    let pos = 0;
    let synced = 0;
    while (pos < ctx.opts.bytes) {
      pos += writeSync(fd, block, 0, block.length, pos);
      if (pos - synced >= 8 * MiB) {
        fdatasyncSync(fd);
        synced = pos;
      }
    }
    fdatasyncSync(fd);
    closeSync(fd);
    const secs = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    return { ok: true, bytes: pos, secs, mibs: pos / MiB / secs, cpuSPerGiB: ((cpu.user + cpu.system) / 1e6) / (pos / (1024 * MiB)) };
  } catch (err) {
    return { ok: false, why: `append loop failed: ${err.message}` };
  } finally {
    rmSync(dir, { recursive: true, force: true });
    ctx.tempDirs.delete(dir);
  }
}

// ---- report ---------------------------------------------------------------------------------------

const fmt = (x, d = 0) => (x === null || x === undefined || Number.isNaN(x) ? '-' : x.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d }));
const ratio = (x, y) => (x && y ? `${(x / y).toFixed(2)}×` : '-');

function evaluate(byLetter, disk) {
  const pipe = byLetter.b;
  const targets = [];
  const check = (name, value, floor, dropped = 0) => {
    let result = value === null || floor === null ? 'NOT MEASURED' : value >= floor ? 'PASS' : 'FAIL';
    // A rate reached by shedding recorded segments is not a recording rate.
    if (result === 'PASS' && dropped > 0) result = `FAIL (${dropped} segments dropped)`;
    targets.push({ name, value, floor, result });
  };
  const drops = (rec) => rec?.recording?.dropped ?? 0;
  const get = (rec, f) => (rec?.ok ? f(rec) : null);
  for (const dir of ['upload', 'download']) {
    const p = get(pipe, (r) => r[dir].mibs);
    check(`(c) no recording ${dir} ≥ 0.9× pipe`, get(byLetter.c, (r) => r[dir].mibs), p === null ? null : 0.9 * p);
    const floor = p === null ? null : 0.7 * Math.min(p, disk?.ok ? disk.mibs : Infinity);
    check(`(d) recording, 16 MiB cap, ${dir} ≥ 0.7× min(pipe, disk)`, get(byLetter.d, (r) => r[dir].mibs), floor, drops(byLetter.d));
    check(`(e) recording every byte ${dir} ≥ 0.7× min(pipe, disk)`, get(byLetter.e, (r) => r[dir].mibs), floor, drops(byLetter.e));
    if (byLetter.g) check(`(g) every byte, backpressure, ${dir} ≥ 0.7× min(pipe, disk)`, get(byLetter.g, (r) => r[dir].mibs), floor, drops(byLetter.g));
  }
  const prt = get(pipe, (r) => r.rtt.perSec);
  for (const l of ['d', 'e']) check(`(${l}) recording round trips/s ≥ 0.85× pipe`, get(byLetter[l], (r) => r.rtt.perSec), prt === null ? null : 0.85 * prt);
  return targets;
}

function recorded(r) {
  if (!r.recording) return '-';
  return `${fmt(r.recording.recordedMiB)} / ${r.recording.dropped}`;
}

/** Bytes the proxy wrote to disk per byte it recorded (/proc/<pid>/io write_bytes, read before the stop). */
function diskRatio(r) {
  const recordedBytes = (r.recording?.recordedMiB ?? 0) * MiB;
  return r.ioWriteBytes && recordedBytes > 0 ? fmt(r.ioWriteBytes / recordedBytes, 2) : '-';
}

function renderMarkdown(meta, recs, disk, append, targets) {
  const byLetter = Object.fromEntries(recs.map((r) => [r.letter, r]));
  const pipe = byLetter.b?.ok ? byLetter.b : null;
  const lines = [
    `${meta.date}, ${meta.cpus} CPUs (${meta.cpuModel}), Node ${meta.node}, pinning: ${meta.pinning}; ` +
      `${fmt(meta.bytes / MiB)} MiB per transfer (stopped after ${meta.maxTransferS} s), ${meta.rttS} s of 64-byte ping-pong.`,
    '',
    '| case | upload MiB/s | download MiB/s | vs pipe up/down | round trips/s | p50 µs | p99 µs | vs pipe RT/s | proxy CPU s (up/down/RT) | proxy CPU s per GiB | recorded MiB / dropped segments | store MiB at stop | disk / recorded |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const r of recs) {
    if (!r.ok) {
      lines.push(`| (${r.letter}) ${r.case} | FAILED: ${r.why} | | | | | | | | | | | |`);
      continue;
    }
    const cpu = r.upload.proxyCpuS === null ? '-' : `${fmt(r.upload.proxyCpuS, 2)} / ${fmt(r.download.proxyCpuS, 2)} / ${fmt(r.rtt.proxyCpuS, 2)}`;
    const perGiB = r.upload.proxyCpuS === null ? '-' : fmt(((r.upload.proxyCpuS + r.download.proxyCpuS) / (r.upload.bytes + r.download.bytes)) * 1024 * MiB, 2);
    const partial = (x) => (x.complete ? '' : ' (partial)');
    lines.push(
      `| (${r.letter}) ${r.case} | ${fmt(r.upload.mibs)}${partial(r.upload)} | ${fmt(r.download.mibs)}${partial(r.download)} | ` +
        `${ratio(r.upload.mibs, pipe?.upload.mibs)} / ${ratio(r.download.mibs, pipe?.download.mibs)} | ${fmt(r.rtt.perSec)} | ` +
        `${fmt(r.rtt.p50us)} | ${fmt(r.rtt.p99us)} | ${ratio(r.rtt.perSec, pipe?.rtt.perSec)} | ${cpu} | ${perGiB} | ${recorded(r)} | ${r.letter >= 'c' ? fmt(r.storeMiB) : '-'} | ${diskRatio(r)} |`,
    );
  }
  if (disk) lines.push(`| (f) disk, dd oflag=direct bs=1M | ${disk.ok ? `${fmt(disk.mibs)} (write)` : disk.why} | | | | | | | | | | | |`);
  if (append) {
    lines.push(
      `| (f) disk, node append loop (256 KiB writes, fdatasync every 8 MiB) | ${append.ok ? `${fmt(append.mibs)} (write)` : append.why} | | | | | | | | ${append.ok ? `${fmt(append.cpuSPerGiB, 2)} (the loop)` : ''} | | | |`,
    );
  }
  lines.push('', '| target | measured | floor | result |', '|---|---:|---:|---|');
  for (const t of targets) lines.push(`| ${t.name} | ${fmt(t.value)} | ${fmt(t.floor)} | ${t.result} |`);
  return `${lines.join('\n')}\n`;
}

// ---- main -----------------------------------------------------------------------------------------

const tempDirs = new Set();

function cleanupNow() {
  const exits = killAllGroupsNow();
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
  tempDirs.clear();
  return exits;
}

function pinning(opts, cpus) {
  if (!opts.pin || cpus < 2 || !tasksetUsable()) return { proxy: null, client: null, text: 'none' };
  const last = String(cpus - 1);
  // The client is this process: all its threads move to the last CPU, beside the backend.
  execFileSync('taskset', ['-a', '-p', '-c', last, String(process.pid)], { stdio: 'ignore' });
  return { proxy: '0', client: last, text: `proxy on CPU 0, client (this process) and backend on CPU ${last} (taskset)` };
}

async function main() {
  let opts;
  try {
    opts = parseOptions(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`${err.message}\n\nRun with --help for the options.\n`);
    return 2;
  }
  if (opts.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const cpus = os.availableParallelism(); // before pinning narrows this process to one CPU
  const pin = pinning(opts, cpus);
  const outDir = path.resolve(opts.out ?? path.join(ROOT, '.bench-results', `tcp-${new Date().toISOString().slice(0, 19).replace(/:/g, '-')}`));
  const logDir = path.join(outDir, 'logs');
  mkdirSync(logDir, { recursive: true });
  const meta = {
    date: new Date().toISOString(),
    cpus,
    cpuModel: (readFileSync('/proc/cpuinfo', 'utf8').match(/model name\s*:\s*(.+)/) ?? [])[1] ?? 'unknown',
    node: process.version,
    pinning: pin.text,
    bytes: opts.bytes,
    maxTransferS: opts.maxTransferS,
    rttS: opts.rttS,
    loadavgAtStart: os.loadavg().map((x) => Math.round(x * 100) / 100),
  };
  const ctx = { opts, pin, logDir, tempDirs };
  const backendPort = await freePort();
  const backend = startGroup({ cmd: process.execPath, args: [path.join(ROOT, 'bench', 'tcp-backend.mjs'), String(backendPort)], logFile: path.join(logDir, 'backend.log'), cpus: pin.client, cwd: ROOT });
  const notUp = await waitForPort(backendPort, 20_000, () => backend.alive());
  if (notUp) throw new Error(`backend did not start: ${notUp}`);
  ctx.backendPort = backendPort;
  log(`backend on ${HOST}:${backendPort}; cases ${opts.cases.map((c) => c.letter).join(',')}; ${fmt(opts.bytes / MiB)} MiB each way; pinning: ${pin.text}`);
  const recs = [];
  for (const info of opts.cases) {
    log(`(${info.letter}) ${info.name}`);
    recs.push(await runCase(ctx, info));
  }
  await stopGroup(backend, 5000);
  let disk = null;
  let append = null;
  if (opts.disk) {
    disk = diskRate(ctx);
    log(disk.ok ? `(f) disk: ${disk.mibs.toFixed(0)} MiB/s sequential write (dd oflag=direct)` : `(f) disk: ${disk.why}`);
    append = appendRate(ctx);
    log(append.ok ? `(f) disk: ${append.mibs.toFixed(0)} MiB/s from a node append loop, ${append.cpuSPerGiB.toFixed(2)} CPU s per GiB` : `(f) disk: ${append.why}`);
  }
  const targets = evaluate(Object.fromEntries(recs.map((r) => [r.letter, r])), disk);
  const md = renderMarkdown(meta, recs, disk, append, targets);
  writeFileSync(path.join(outDir, 'report.md'), md);
  writeFileSync(path.join(outDir, 'results.json'), `${JSON.stringify({ meta, cases: recs, disk, append, targets }, null, 2)}\n`);
  process.stdout.write(md);
  log(`wrote ${path.relative(ROOT, outDir)}/report.md and results.json`);
  return 0;
}

process.on('exit', cleanupNow);
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    log(`${signal}: stopping every process group this run started`);
    void Promise.race([Promise.all(cleanupNow()), delay(3000)]).then(() => process.exit(130));
  });
}

main().then(
  (code) => process.exit(code),
  (err) => {
    log(`bench failed: ${err.message}`);
    process.exit(1);
  },
);
