#!/usr/bin/env node
// QProxy benchmark harness: direct, plain-undici, http-proxy and QProxy (recording on and off) side
// by side in one run, on loopback only, bounded in time. `node bench/run.mjs --help`; docs/benchmarks.md.
import { appendFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CASES, launchFor, selectCases } from './lib/cases.mjs';
import { chooseLoadGen } from './lib/load.mjs';
import { measure } from './lib/measure.mjs';
import { fetchText, freePort, probe, waitForPort } from './lib/net.mjs';
import { HELP, parseOptions, pinning } from './lib/options.mjs';
import { PAGE_SIZE, delay, ioWriteBytes, killAllGroupsNow, sessionStats, startGroup, stopGroup, tasksetUsable } from './lib/procs.mjs';
import { evaluateTargets, renderMarkdown, summarize } from './lib/report.mjs';
import { parseSizes } from './lib/workloads.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

const live = { loadChild: null, tempDirs: new Set(), keep: false };

function log(msg) {
  process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
}

/** Kill what this run started (load generator, process groups) and remove temporary folders. */
function cleanupNow() {
  const exits = [];
  const load = live.loadChild;
  if (load && load.exitCode === null && load.signalCode === null) {
    exits.push(new Promise((resolve) => load.once('exit', resolve)));
    load.kill('SIGKILL');
  }
  exits.push(...killAllGroupsNow());
  if (!live.keep) for (const dir of live.tempDirs) rmSync(dir, { recursive: true, force: true });
  live.tempDirs.clear();
  return exits;
}

function dirBytes(dir) {
  let total = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    total += e.isDirectory() ? dirBytes(p) : statSync(p).size;
  }
  return total;
}

/** Readiness: the port accepts, then every workload answers 200 with the expected body size. */
async function checkReady(ctx, port, group) {
  const notUp = await waitForPort(port, ctx.opts.readyTimeoutS * 1000, group ? () => group.alive() : undefined);
  if (notUp) return notUp;
  const checks = ctx.workloads.some((w) => w.name === '1k') ? ctx.workloads : [...parseSizes('1k'), ...ctx.workloads];
  for (const w of checks) {
    const body = w.bodyBytes ? Buffer.alloc(w.bodyBytes, 0x78) : undefined;
    const got = await probe(port, { method: w.method, path: w.path, body });
    if (got.error || got.status !== 200 || got.bytes !== w.expectBytes) {
      return `${w.method} ${w.path} through port ${port} gave ${got.error ?? `${got.status}, ${got.bytes} bytes`}; want 200, ${w.expectBytes} bytes`;
    }
  }
  return null;
}

function logRun(r) {
  if (!r.ok) return log(`  ${r.case.padEnd(16)} r${r.round} ${r.size.padEnd(7)} FAILED: ${r.why}`);
  const cpu = r.proxy_cpu_us_per_req === null ? '' : `  proxy ${r.proxy_cpu_us_per_req.toFixed(1)} µs/req (${r.proxy_cpu_pct.toFixed(0)}% CPU)`;
  log(
    `  ${r.case.padEnd(16)} r${r.round} ${r.size.padEnd(7)} ${Math.round(r.rps).toString().padStart(7)} req/s  ` +
      `p50 ${(r.latency_us.p50 / 1000).toFixed(2)} ms  p99 ${(r.latency_us.p99 / 1000).toFixed(2)} ms${cpu}  other ${r.other_cpu_pct.toFixed(0)}%  err ${r.errors + r.non2xx}`,
  );
}

/** Start the case's proxy (none for direct), check it, measure every size, stop it. */
async function runCase(ctx, info, round) {
  const logFile = path.join(ctx.logDir, `${info.name}-r${round}.proxy.log`);
  const rec = { type: 'case', case: info.name, round, ok: true, why: '', log: path.relative(ctx.outDir, logFile) };
  const runs = [];
  const t0 = performance.now();
  let group = null;
  let port = ctx.backendPort;
  let work = null;
  let launch = null;
  try {
    if (info.name !== 'direct') {
      work = mkdtempSync(path.join(os.tmpdir(), `qproxy-bench-${info.name}-`));
      live.tempDirs.add(work);
      port = await freePort();
      launch = await launchFor(info.name, { root: ROOT, qproxyCli: ctx.opts.qproxyCli, baselineCli: ctx.opts.baselineCli, port, backendPort: ctx.backendPort, work });
      group = startGroup({ cmd: launch.cmd, args: launch.args, env: launch.env, logFile, cpus: ctx.pin.proxy, cwd: ROOT });
    }
    const notReady = await checkReady(ctx, port, group);
    rec.start_s = (performance.now() - t0) / 1000;
    if (notReady) {
      Object.assign(rec, { ok: false, why: notReady });
      log(`${info.name} (round ${round}): FAILED readiness: ${notReady} (log: ${rec.log})`);
    } else {
      log(`${info.name} (round ${round}): ready on :${port} in ${rec.start_s.toFixed(1)} s`);
      for (const workload of ctx.workloads) {
        const r = await measure(ctx, { caseName: info.name, round, port, group, workload });
        appendFileSync(ctx.jsonlFile, `${JSON.stringify(r)}\n`);
        logRun(r);
        runs.push(r);
        if (group && !group.alive()) break;
      }
    }
    if (group) await finishGroup(ctx, rec, group, launch);
  } finally {
    if (group && group.alive()) await stopGroup(group, 2000);
    if (work) {
      rec.work_bytes = dirBytes(work);
      if (!ctx.opts.keep) rmSync(work, { recursive: true, force: true });
      live.tempDirs.delete(work);
      if (ctx.opts.keep) rec.work_dir = work;
    }
  }
  appendFileSync(ctx.jsonlFile, `${JSON.stringify(rec)}\n`);
  return { rec, runs };
}

/** Before stopping: resident memory and (QProxy) the API's status; then a graceful stop. */
async function finishGroup(ctx, rec, group, launch) {
  rec.rss_mib = (sessionStats(group.pid).rssPages * PAGE_SIZE) / 1048576;
  if (launch?.apiPort && group.alive()) {
    const status = await fetchText(launch.apiPort, '/api/status');
    if (status) rec.api_status = { status: status.status, body: status.text };
    rec.records_at_stop = recordsCount(status);
    rec.recorded_bytes = recordedBytes(status);
    // Everything the proxy process (all threads) sent to storage since it started: with the
    // recorded bytes, how many bytes reach the disk per recorded byte.
    rec.io_write_bytes = ioWriteBytes(group.pid);
  }
  rec.stop = await stopGroup(group, ctx.opts.stopGraceS * 1000);
}

/** `recording.recorded_bytes` (documents and payloads stored since start) from /api/status. */
function recordedBytes(status) {
  try {
    const bytes = JSON.parse(status?.text ?? '').recording?.recorded_bytes;
    return Number.isFinite(bytes) ? bytes : null;
  } catch {
    return null;
  }
}

/** `records.count` from QProxy's /api/status, if the answer has one: did recording keep up? */
function recordsCount(status) {
  try {
    const count = JSON.parse(status?.text ?? '').records?.count;
    return Number.isFinite(count) ? count : null;
  } catch {
    return null;
  }
}

async function startBackend(ctx) {
  const port = await freePort();
  const logFile = path.join(ctx.logDir, 'backend.log');
  const group = startGroup({ cmd: process.execPath, args: [path.join(ROOT, 'bench', 'backend.mjs'), String(port)], logFile, cpus: ctx.pin.backend, cwd: ROOT });
  const notUp = await waitForPort(port, 20_000, () => group.alive());
  const check = notUp ? null : await probe(port, { path: '/1k' });
  if (notUp || check.status !== 200 || check.bytes !== 1024) {
    throw new Error(`backend did not start: ${notUp ?? JSON.stringify(check)} (log: ${logFile})`);
  }
  return { group, port };
}

function machineMeta(opts, gen, pin, cpus) {
  const cpuModel = (readFileSync('/proc/cpuinfo', 'utf8').match(/model name\s*:\s*(.+)/) ?? [])[1] ?? 'unknown';
  return {
    date: new Date().toISOString(),
    cpus,
    cpuModel,
    node: process.version,
    loadavgAtStart: os.loadavg().map((x) => Math.round(x * 100) / 100),
    loadgen: gen.version,
    loadgenKind: gen.kind,
    pinning: pin.text,
    connections: opts.connections,
    durationS: opts.durationS,
    warmupS: opts.warmupS,
    rounds: opts.rounds,
    sizes: parseSizes(opts.sizes).map((w) => w.name),
    qproxyCli: opts.qproxyCli,
    baselineCli: opts.baselineCli ?? null,
  };
}

/** Everything that can be wrong with the command line, checked before anything starts (exit 2). */
function validate(argv) {
  const opts = parseOptions(argv);
  if (opts.help) return { opts };
  return { opts, workloads: parseSizes(opts.sizes), cases: selectCases(opts.cases, opts.baselineCli !== undefined), gen: chooseLoadGen(opts.loadgen) };
}

function prepare({ opts, workloads, cases, gen }) {
  const cpus = os.availableParallelism();
  const pin = pinning(opts, cpus, tasksetUsable());
  const stamp = new Date().toISOString().slice(0, 19).replace(/:/g, '-');
  const outDir = path.resolve(opts.out ?? path.join(ROOT, '.bench-results', stamp));
  const logDir = path.join(outDir, 'logs');
  mkdirSync(logDir, { recursive: true });
  return {
    opts, workloads, cases, gen, cpus, pin, outDir, logDir,
    jsonlFile: path.join(outDir, 'measurements.jsonl'),
    meta: machineMeta(opts, gen, pin, cpus),
    registerLoad: (child) => (live.loadChild = child),
  };
}

async function runAll(ctx) {
  const perCase = ctx.workloads.length * (ctx.opts.warmupS + ctx.opts.durationS + 0.5) + 2;
  log(`cases: ${ctx.cases.map((c) => c.name).join(', ')}; sizes: ${ctx.meta.sizes.join(', ')}; rounds: ${ctx.opts.rounds}; ` +
    `load: ${ctx.gen.version}; pinning: ${ctx.pin.text}`);
  log(`estimated ${Math.ceil((perCase * ctx.cases.length * ctx.opts.rounds) / 60)} min; results in ${path.relative(ROOT, ctx.outDir) || '.'}`);
  const backend = await startBackend(ctx);
  Object.assign(ctx, { backend: backend.group, backendPort: backend.port });
  log(`backend on 127.0.0.1:${backend.port} (pid ${backend.group.pid})`);
  const runs = [];
  const caseRecords = [];
  for (let round = 1; round <= ctx.opts.rounds; round++) {
    const order = round % 2 === 1 ? ctx.cases : [...ctx.cases].reverse();
    log(`=== round ${round}: ${order.map((c) => c.name).join(', ')}`);
    for (const info of order) {
      const { rec, runs: r } = await runCase(ctx, info, round);
      caseRecords.push(rec);
      runs.push(...r);
    }
  }
  await stopGroup(backend.group, 5000);
  return { runs, caseRecords };
}

function failureReasons(caseRecords, runs) {
  const reasons = new Map();
  for (const r of [...caseRecords, ...runs]) if (!r.ok && !reasons.has(r.case)) reasons.set(r.case, r.why);
  return reasons;
}

function writeReport(ctx, { runs, caseRecords }) {
  const sizeNames = ctx.meta.sizes;
  const rows = summarize(runs, ctx.cases.map((c) => c.name), sizeNames);
  const targets = evaluateTargets(rows, sizeNames, failureReasons(caseRecords, runs));
  const caseInfo = CASES.filter((c) => ctx.cases.includes(c));
  const failedRuns = runs.filter((r) => !r.ok).map((r) => ({ ...r, log: `logs/${r.case}-r${r.round}-${r.size}.load.log` }));
  const md = renderMarkdown({ meta: ctx.meta, rows, targets, caseRecords: [...caseRecords, ...failedRuns], caseInfo });
  writeFileSync(path.join(ctx.outDir, 'report.md'), md);
  writeFileSync(path.join(ctx.outDir, 'results.json'), `${JSON.stringify({ meta: ctx.meta, summary: rows, targets, cases: caseRecords, runs }, null, 2)}\n`);
  process.stdout.write(`${md}\n`);
  log(`wrote ${path.relative(ROOT, path.join(ctx.outDir, 'report.md'))} and results.json`);
  return targets;
}

async function main() {
  let checked;
  try {
    checked = validate(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`${err.message}\n\nRun with --help for the options.\n`);
    return 2;
  }
  const { opts } = checked;
  if (opts.help) {
    process.stdout.write(HELP);
    return 0;
  }
  live.keep = opts.keep;
  const ctx = prepare(checked);
  const results = await runAll(ctx);
  const targets = writeReport(ctx, results);
  return opts.failOnTarget && targets.some((t) => t.result !== 'PASS') ? 3 : 0;
}

process.on('exit', cleanupNow);
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    log(`${signal}: stopping the load generator and every process group this run started`);
    // Wait (briefly) for the children to be reaped, so none is left behind as a zombie.
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
