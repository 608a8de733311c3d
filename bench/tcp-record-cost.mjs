#!/usr/bin/env node
// What recording TCP bytes costs without the relay: one session's reads go straight into a
// TcpRecorder writing to a real Store (dist/ of a build), and the CPU of every thread of this
// process is read from /proc/self/task/*/stat around the run. docs/benchmarks.md, "TCP recording rate".
//
//   taskset -c 0 node bench/tcp-record-cost.mjs [--dist DIR] [--mib N] [--chunk-kib N] [--mode backpressure|drop]
//                                              [--rate MiB/s] [--reads fresh|reused]
//
// --reads fresh (default) gives each read a new Buffer, as a socket does; reused cycles through 32
// (a hot source). With --mode drop and --rate, reads are offered at that rate and the segments the
// store sheds are counted, as `tcp.recording.on_overload: "drop"` does under load.
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { CLK_TCK } from './lib/procs.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const MiB = 1048576;
const { values } = parseArgs({
  options: {
    dist: { type: 'string', default: path.join(ROOT, 'dist') },
    mib: { type: 'string', default: '512' },
    'chunk-kib': { type: 'string', default: '64' },
    mode: { type: 'string', default: 'backpressure' },
    rate: { type: 'string', default: '0' },
    reads: { type: 'string', default: 'fresh' },
  },
});
const dist = path.resolve(values.dist);
const total = Number(values.mib) * MiB;
const chunkBytes = Number(values['chunk-kib']) * 1024;
const rate = Number(values.rate) * MiB;
if (!(total > 0 && chunkBytes > 0 && rate >= 0) || !['backpressure', 'drop'].includes(values.mode) || !['fresh', 'reused'].includes(values.reads)) {
  process.stderr.write('bad options; see the comment at the top of bench/tcp-record-cost.mjs\n');
  process.exit(2);
}
const { Store } = await import(pathToFileURL(path.join(dist, 'store', 'index.js')).href);
const { TcpRecorder } = await import(pathToFileURL(path.join(dist, 'recording', 'tcp-recorder.js')).href);

/** user and system ticks of every thread of this process, by thread id. */
function threadTicks() {
  const out = new Map();
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(Number(tid), Number(f[11]) + Number(f[12]));
    } catch {
      // the thread ended
    }
  }
  return out;
}

const work = mkdtempSync(path.join(os.tmpdir(), 'qproxy-bench-tcp-cost-'));
let dropped = 0;
const store = await Store.open({
  path: path.join(work, 'q.db'),
  retentionMs: 0,
  maxSizeBytes: 0,
  flushIntervalMs: 100,
  synchronous: 'normal',
  queueMaxRecords: 10_000,
  queueMaxBytes: 64 * MiB,
  purgeIntervalMs: 60_000,
  observer: { dropped: (_reason, n) => (dropped += n), stored() {}, purged() {} },
});
const recorder = new TcpRecorder({ enabled: true, nodeId: 'bench', maxSessionBytes: 16 * 1024 * MiB, segmentIntervalMs: 1000, segmentBytes: 256 * 1024, onOverload: values.mode, sink: store });
const tap = recorder.open({ client: { address: '127.0.0.1', port: 1 }, tls: null, downstreamTls: false });
tap.connected('127.0.0.1:2');
const pool = Array.from({ length: 32 }, (_, i) => Buffer.alloc(chunkBytes, i));

const before = threadTicks();
const t0 = performance.now();
let sent = 0;
await new Promise((resolve) => {
  const step = () => {
    // A few reads per event-loop turn, as a busy socket delivers them.
    for (let i = 0; i < 4 && sent < total; i++) {
      const read = values.reads === 'reused' ? pool[(sent / chunkBytes) % 32] : Buffer.allocUnsafe(chunkBytes);
      sent += chunkBytes;
      if (!tap.chunk(i % 2 ? 's2c' : 'c2s', read)) return void tap.whenWritable(step);
    }
    if (sent >= total) return void resolve();
    const wait = rate > 0 ? t0 + (sent / rate) * 1000 - performance.now() : 0;
    if (wait > 1) setTimeout(step, wait);
    else setImmediate(step);
  };
  step();
});
tap.close('client_close', null);
await store.flush();
const secs = (performance.now() - t0) / 1000;
const after = threadTicks();
await store.close();
rmSync(work, { recursive: true, force: true });

const gib = total / (1024 * MiB);
let ticks = 0;
for (const [tid, t] of after) ticks += t - (before.get(tid) ?? 0);
const mainTicks = after.get(process.pid) - before.get(process.pid);
process.stdout.write(
  `${values.mib} MiB in ${values['chunk-kib']} KiB ${values.reads} reads, ${values.mode}${rate ? ` at ${values.rate} MiB/s offered` : ''}: ` +
    `${(total / MiB / secs).toFixed(0)} MiB/s, CPU ${(ticks / CLK_TCK / gib).toFixed(2)} s/GiB (main thread ${(mainTicks / CLK_TCK / gib).toFixed(2)}), ` +
    `${dropped} of ${Math.ceil(total / (256 * 1024))} segments dropped\n`,
);
