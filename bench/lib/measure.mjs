// One measured window: load, CPU accounting, and the record that goes into results.json.
import path from 'node:path';
import { runLoad } from './load.mjs';
import { CLK_TCK, machineTicks, selfTicks, sessionStats } from './procs.mjs';

/** A measurement with more failed or non-2xx answers than this share is not a valid figure. */
const MAX_ERROR_SHARE = 0.01;

function cpuSeconds(ticks) {
  return ticks / CLK_TCK;
}

/**
 * One warm-up window, then one measured window of `workload` through `port`, with the CPU taken by
 * the proxy's process tree, the backend, and everything else on the machine during that window.
 * `ctx` supplies opts, gen, pin, logDir, backend, cpus and registerLoad (the child to kill on interrupt).
 */
export async function measure(ctx, { caseName, round, port, group, workload }) {
  const base = { port, workload, connections: ctx.opts.connections, cpus: ctx.pin.load, register: ctx.registerLoad };
  const tag = `${caseName}-r${round}-${workload.name}`;
  if (ctx.opts.warmupS > 0) {
    await runLoad(ctx.gen, { ...base, durationS: ctx.opts.warmupS, logFile: path.join(ctx.logDir, `${tag}.warmup.log`) });
  }
  const before = sample(ctx, group);
  const { result, rc, error } = await runLoad(ctx.gen, { ...base, durationS: ctx.opts.durationS, logFile: path.join(ctx.logDir, `${tag}.load.log`) });
  const after = sample(ctx, group);
  return toRunRecord({ caseName, round, workload, group, result, rc, error, before, after, cpus: ctx.cpus });
}

/** CPU counters at one instant: proxy tree, backend tree, this harness + reaped load generators, machine. */
function sample(ctx, group) {
  return {
    proxy: group ? sessionStats(group.pid).ticks : 0,
    backend: sessionStats(ctx.backend.pid).ticks,
    self: selfTicks(),
    machine: machineTicks(),
    at: performance.now(),
  };
}

/** Busy CPU of processes outside the benchmark, in % of one core: a shared machine shows up here. */
function otherCpuPct(before, after) {
  const busy = after.machine.busy - before.machine.busy;
  const ours = after.proxy - before.proxy + (after.backend - before.backend) + (after.self - before.self);
  return Math.max(0, (cpuSeconds(busy - ours) / ((after.at - before.at) / 1000)) * 100);
}

function toRunRecord({ caseName, round, workload, group, result, rc, error, before, after, cpus }) {
  const proxyTicks = after.proxy - before.proxy;
  const backendTicks = after.backend - before.backend;
  const m0 = before.machine;
  const m1 = after.machine;
  const rec = { type: 'run', case: caseName, round, size: workload.name, loadgen_rc: rc, proxy_alive: group ? group.alive() : null };
  if (!result || result.requests === 0) return { ...rec, ok: false, why: `load generator gave no result (rc ${rc}${error ? `, ${error}` : ''})` };
  const secs = result.duration_us / 1e6;
  const errors = Object.values(result.errors).reduce((a, b) => a + b, 0);
  const run = {
    ...rec,
    requests: result.requests,
    duration_s: secs,
    rps: result.requests / secs,
    latency_us: result.latency_us,
    errors,
    non2xx: result.non2xx,
    proxy_cpu_us_per_req: group ? (cpuSeconds(proxyTicks) * 1e6) / result.requests : null,
    proxy_cpu_pct: group ? (cpuSeconds(proxyTicks) / secs) * 100 : null,
    backend_cpu_pct: (cpuSeconds(backendTicks) / secs) * 100,
    machine_busy_pct: m1.total > m0.total ? ((m1.busy - m0.busy) / (m1.total - m0.total)) * 100 * cpus : null,
    other_cpu_pct: otherCpuPct(before, after),
  };
  const bad = errors + result.non2xx;
  if (group && !run.proxy_alive) return { ...run, ok: false, why: 'the proxy exited during the measurement' };
  if (bad > result.requests * MAX_ERROR_SHARE) return { ...run, ok: false, why: `${bad} of ${result.requests} requests failed or were not 2xx` };
  return { ...run, ok: true };
}
