// Process groups the harness starts, and what they cost in CPU.
//
// Every long-lived process (backend, proxy) is spawned detached, i.e. in a new session whose id and
// process-group id equal the child's PID. That gives two guarantees the harness relies on:
//   * stopping a case ends exactly that tree (signal to -PID), never anything found by name;
//   * CPU time is summed over every process of the session, so a proxy with workers or child
//     processes is charged for all of them (threads are already included in a process's stat).
import { spawn, execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, openSync, closeSync } from 'node:fs';

/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ). */
export const CLK_TCK = getconf('CLK_TCK', 100);
/** Bytes per page, for the rss field of /proc/<pid>/stat. */
export const PAGE_SIZE = getconf('PAGESIZE', 4096);

function getconf(name, fallback) {
  try {
    return Number(execFileSync('getconf', [name], { encoding: 'utf8' }).trim()) || fallback;
  } catch {
    return fallback;
  }
}

/** Groups started and not yet stopped: leader PID → promise of the leader's exit. */
const started = new Map();

/**
 * Start `cmd` with `args` in a new session; stdout and stderr go to `logFile`.
 * `cpus` (a taskset list such as "0" or "1-3") pins it when taskset is usable.
 * Returns { pid, child, exited: Promise<{code, signal}> }.
 */
export function startGroup({ cmd, args, logFile, env, cpus, cwd }) {
  const fd = openSync(logFile, 'a');
  const argv = cpus ? ['taskset', '-c', cpus, cmd, ...args] : [cmd, ...args];
  // taskset execs the command, so the PID (and session) stays the same.
  const child = spawn(argv[0], argv.slice(1), { detached: true, stdio: ['ignore', fd, fd], env, cwd });
  closeSync(fd);
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  child.once('error', () => {});
  started.set(child.pid, exited);
  return { pid: child.pid, child, exited, alive: () => child.exitCode === null && child.signalCode === null };
}

function signalGroup(pid, signal) {
  try {
    process.kill(-pid, signal);
    return true;
  } catch {
    return false;
  }
}

/** True while any process of the group still exists (zombies excluded). */
export function groupAlive(pid) {
  return sessionStats(pid).procs > 0;
}

/**
 * Stop a group: TERM to the leader (the proxy drains and flushes), wait up to `graceMs`, then TERM
 * and finally KILL to the whole group. Resolves with the leader's exit and how long the stop took.
 */
export async function stopGroup(group, graceMs) {
  const t0 = performance.now();
  if (group.alive()) {
    try {
      process.kill(group.pid, 'SIGTERM');
    } catch {
      // already gone
    }
  }
  const exit = await Promise.race([group.exited, delay(graceMs).then(() => null)]);
  let forced = false;
  if (exit === null || groupAlive(group.pid)) {
    forced = exit === null;
    signalGroup(group.pid, 'SIGTERM');
    for (let i = 0; i < 20 && groupAlive(group.pid); i++) await delay(100);
    if (groupAlive(group.pid)) signalGroup(group.pid, 'SIGKILL');
  }
  const final = exit ?? (await Promise.race([group.exited, delay(2000).then(() => ({ code: null, signal: 'SIGKILL' }))]));
  started.delete(group.pid);
  return { ...final, forced, stopMs: Math.round(performance.now() - t0) };
}

/**
 * Last resort on interrupt or exit: KILL every group still registered. Synchronous, so it also works
 * in an 'exit' handler; returns the leaders' exit promises for a caller that can still wait.
 */
export function killAllGroupsNow() {
  const exits = [...started.values()];
  for (const pid of started.keys()) signalGroup(pid, 'SIGKILL');
  started.clear();
  return exits;
}

export function delay(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * CPU ticks (utime+stime of living members, plus cutime+cstime of children they reaped) and resident
 * memory of every process in session `sid`.
 */
export function sessionStats(sid) {
  let ticks = 0;
  let rssPages = 0;
  let procs = 0;
  for (const name of readdirSync('/proc')) {
    if (name.charCodeAt(0) < 48 || name.charCodeAt(0) > 57) continue;
    let stat;
    try {
      stat = readFileSync(`/proc/${name}/stat`, 'latin1');
    } catch {
      continue; // exited while we listed /proc
    }
    // The command name (field 2) may contain spaces and parentheses; fields after the last ") ".
    const f = stat.slice(stat.lastIndexOf(') ') + 2).split(' ');
    if (Number(f[3]) !== sid) continue;
    ticks += Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
    if (f[0] !== 'Z' && f[0] !== 'X') {
      procs++;
      rssPages += Number(f[21]);
    }
  }
  return { ticks, rssPages, procs };
}

/** Machine-wide busy and total ticks from /proc/stat (all CPUs). */
export function machineTicks() {
  const line = readFileSync('/proc/stat', 'latin1').split('\n', 1)[0];
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const idle = (v[3] ?? 0) + (v[4] ?? 0);
  const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
  return { busy: total - idle, total };
}

/** True when `taskset` exists and may set affinity here (containers can forbid it). */
export function tasksetUsable() {
  try {
    execFileSync('taskset', ['-c', '0', 'true'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * CPU ticks of this harness process plus the children it has reaped (the load generators). With the
 * proxy's and the backend's ticks, this lets the report show how much CPU *other* processes took.
 */
export function selfTicks() {
  const stat = readFileSync('/proc/self/stat', 'latin1');
  const f = stat.slice(stat.lastIndexOf(') ') + 2).split(' ');
  return Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
}

/** `write_bytes` of /proc/<pid>/io: bytes the process (all its threads) caused to be sent to storage; null if unreadable. */
export function ioWriteBytes(pid) {
  try {
    const m = /^write_bytes:\s+(\d+)$/m.exec(readFileSync(`/proc/${pid}/io`, 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}
