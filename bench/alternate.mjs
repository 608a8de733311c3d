#!/usr/bin/env node
// Several QProxy builds side by side in one run, for CPU per request on a loaded machine:
//   node bench/alternate.mjs SIZE PAIRS SECONDS CLI[@off] CLI[@off] ...
// e.g. node bench/alternate.mjs 1k 10 3 ../base/dist/cli.js dist/cli.js dist/cli.js@off
// Every build runs at once (Record mode, recording on unless "@off"), pinned to CPU 0 with all its
// threads; the backend and wrk (required) are on CPU 1. Load goes to one build at a time, in
// alternating order, SECONDS per window, PAIRS windows each; each window reads the CPU of every thread
// of that proxy from /proc/<pid>/task/*/stat before and after. Printed: the median per build of
// µs per request in all, on the main thread, on the four V8 platform threads (GC helpers), and on the
// rest (libuv pool: segment writes and fdatasync; the store's writer thread), plus req/s and wrk's p99.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const [size, pairsArg, secsArg, ...specs] = process.argv.slice(2);
if (!size || !Number(pairsArg) || !Number(secsArg) || specs.length === 0) {
  process.stderr.write('usage: node bench/alternate.mjs SIZE(1k|64k) PAIRS SECONDS CLI[@off] ...\n');
  process.exit(2);
}
const pairs = Number(pairsArg);
const secs = Number(secsArg);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const freePort = () =>
  new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
const children = [];
const dirs = [];
function cleanup() {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
}
process.on('exit', cleanup);
process.on('SIGINT', () => process.exit(130));

const backendPort = await freePort();
children.push(spawn('taskset', ['-c', '1', process.execPath, path.join(ROOT, 'bench', 'backend.mjs'), String(backendPort)], { stdio: 'ignore' }));
const proxies = [];
for (const spec of specs) {
  const [cli, mode] = spec.split('@');
  const work = mkdtempSync(path.join(os.tmpdir(), 'qproxy-alt-'));
  dirs.push(work);
  const port = await freePort();
  const config = {
    mode: 'Record',
    node_id: 'bench',
    http: { host: '127.0.0.1', port, downstream: `http://127.0.0.1:${backendPort}` },
    api: { host: '127.0.0.1', port: await freePort() },
    storage: { path: path.join(work, 'qproxy.db') },
    log: { level: 'warn' },
    ...(mode === 'off' && { recording: { enabled: false } }),
  };
  writeFileSync(path.join(work, 'config.json'), JSON.stringify(config));
  const child = spawn('taskset', ['-c', '0', process.execPath, path.resolve(cli)], {
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, CONFIG_PATH: path.join(work, 'config.json') },
    cwd: work,
  });
  children.push(child);
  proxies.push({ name: spec, child, port, rows: [] });
}

async function waitForPort(port) {
  for (let i = 0; i < 150; i++) {
    const up = await new Promise((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (up) return;
    await sleep(100);
  }
  throw new Error(`nothing listens on ${port} after 15 s`);
}
for (const p of proxies) await waitForPort(p.port);

/** CPU ticks of a proxy's threads: main (the first), V8 platform threads (the next four after one), rest. */
function threadTicks(pid) {
  const tids = readdirSync(`/proc/${pid}/task`).sort((a, b) => Number(a) - Number(b));
  const out = { main: 0, gc: 0, rest: 0 };
  tids.forEach((tid, i) => {
    const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    out[i === 0 ? 'main' : i >= 2 && i <= 5 ? 'gc' : 'rest'] += Number(f[11]) + Number(f[12]);
  });
  return out;
}
const TICK_US = 1e6 / Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }));
const wrk = (port, d) =>
  execFileSync('taskset', ['-c', '1', 'wrk', '-t1', '-c50', '--latency', `-d${d}s`, `http://127.0.0.1:${port}/${size}`], { encoding: 'utf8' });

for (const p of proxies) wrk(p.port, 3); // warm-up
for (let r = 0; r < pairs; r++) {
  for (const p of r % 2 ? [...proxies].reverse() : proxies) {
    const before = threadTicks(p.child.pid);
    const out = wrk(p.port, secs);
    const after = threadTicks(p.child.pid);
    const reqs = Number(/(\d+) requests in/.exec(out)?.[1] ?? NaN);
    const m = /\s99%\s+([\d.]+)(us|ms|s)\b/.exec(out);
    const p99 = m ? Number(m[1]) * (m[2] === 'us' ? 0.001 : m[2] === 's' ? 1000 : 1) : NaN;
    const per = (k) => ((after[k] - before[k]) * TICK_US) / reqs;
    p.rows.push({ total: per('main') + per('gc') + per('rest'), main: per('main'), gc: per('gc'), rest: per('rest'), rps: reqs / secs, p99 });
  }
}
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
for (const p of proxies) {
  const m = (k) => median(p.rows.map((x) => x[k])).toFixed(1);
  process.stdout.write(
    `${p.name} ${size}, median of ${p.rows.length}: ${m('total')} µs/req (main ${m('main')}, V8 platform ${m('gc')}, rest ${m('rest')}), ` +
      `${m('rps')} req/s, p99 ${m('p99')} ms; totals ${p.rows.map((x) => x.total.toFixed(0)).join(' ')}\n`,
  );
}
process.stdout.write(`load average ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}\n`);
for (const p of proxies) p.child.kill('SIGTERM');
await Promise.all(proxies.map((p) => new Promise((r) => (p.child.exitCode !== null ? r() : p.child.once('exit', r)))));
process.exit(0); // the backend and the temporary folders go in the exit handler
