// Command-line options of bench/run.mjs.
import { parseArgs } from 'node:util';

export const HELP = `Usage: node bench/run.mjs [options]        (npm run bench builds first, then runs this)

Measures, in one run and on 127.0.0.1 only: (a) direct to the backend, (b) plain-undici,
(c) http-proxy, (d) qproxy-record, (e) qproxy-norecord, (f) qproxy-skipall (recording on, a filter
skips every exchange), and with --baseline-cli (g) qproxy-record-base. See docs/benchmarks.md.

  --duration S        measured seconds per case and size                [8]
  --warmup S          unmeasured warm-up seconds before each window     [2]
  --connections N     concurrent connections of the load generator      [50]
  --sizes LIST        1k, 64k, post<N>k (POST /echo with N KiB)         [1k,64k]
  --rounds N          rounds; case order reverses every other round     [2]
  --cases LIST        names or letters a-g, or all                      [all]
  --loadgen G         auto (wrk if on PATH, else autocannon), wrk, autocannon [auto]
  --cpu-proxy L       taskset CPU list for the proxy                    [0]
  --cpu-load L        taskset CPU list for the load generator           [last CPU]
  --cpu-backend L     taskset CPU list for the backend                  [last CPU; 1 with 3+ CPUs]
  --no-pin            do not pin anything
  --qproxy-cli PATH   QProxy entry point, relative to the repository     [dist/cli.js]
  --baseline-cli PATH another build's entry point (e.g. the previous commit built in a second
                      folder): adds case (g) qproxy-record-base, recording with that build
  --ready-timeout S   seconds a proxy gets to accept connections          [60]
  --stop-grace S      seconds a proxy gets to exit after SIGTERM          [30]
  --out DIR           results folder                         [.bench-results/<date>]
  --keep              keep each case's temporary folder (QProxy database)
  --fail-on-target    exit 3 when a target is FAIL or NOT MEASURED
  -h, --help          this text
`;

const SPEC = {
  duration: { type: 'string', default: '8' },
  warmup: { type: 'string', default: '2' },
  connections: { type: 'string', default: '50' },
  sizes: { type: 'string', default: '1k,64k' },
  rounds: { type: 'string', default: '2' },
  cases: { type: 'string', default: 'all' },
  loadgen: { type: 'string', default: 'auto' },
  'cpu-proxy': { type: 'string' },
  'cpu-load': { type: 'string' },
  'cpu-backend': { type: 'string' },
  'no-pin': { type: 'boolean', default: false },
  'qproxy-cli': { type: 'string', default: 'dist/cli.js' },
  'baseline-cli': { type: 'string' },
  'ready-timeout': { type: 'string', default: '60' },
  'stop-grace': { type: 'string', default: '30' },
  out: { type: 'string' },
  keep: { type: 'boolean', default: false },
  'fail-on-target': { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
};

function int(name, raw, min, max) {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`--${name}: expected an integer from ${min} to ${max}, got "${raw}"`);
  return n;
}

/** Parse argv into a plain options object; throws Error with a usable message on bad input. */
export function parseOptions(argv) {
  const { values } = parseArgs({ args: argv, options: SPEC, strict: true, allowPositionals: false });
  return {
    help: values.help,
    durationS: int('duration', values.duration, 1, 600),
    warmupS: int('warmup', values.warmup, 0, 60),
    connections: int('connections', values.connections, 1, 10_000),
    sizes: values.sizes,
    rounds: int('rounds', values.rounds, 1, 20),
    cases: values.cases,
    loadgen: values.loadgen,
    cpu: { proxy: values['cpu-proxy'], load: values['cpu-load'], backend: values['cpu-backend'] },
    noPin: values['no-pin'],
    qproxyCli: values['qproxy-cli'],
    baselineCli: values['baseline-cli'],
    readyTimeoutS: int('ready-timeout', values['ready-timeout'], 1, 600),
    stopGraceS: int('stop-grace', values['stop-grace'], 1, 600),
    out: values.out,
    keep: values.keep,
    failOnTarget: values['fail-on-target'],
  };
}

/**
 * CPU lists for taskset: the proxy gets CPU 0 to itself; the load generator (and, on 2 CPUs, the
 * backend) the last one. Explicit --cpu-* values win. Null everywhere when pinning is off.
 */
export function pinning(opts, cpus, tasksetOk) {
  if (opts.noPin || !tasksetOk || cpus < 2) {
    const why = opts.noPin ? '--no-pin' : !tasksetOk ? 'taskset not usable' : 'only 1 CPU';
    return { proxy: null, load: null, backend: null, text: `none (${why})` };
  }
  const last = String(cpus - 1);
  const pin = {
    proxy: opts.cpu.proxy ?? '0',
    load: opts.cpu.load ?? (cpus >= 3 ? `2-${last}` : last),
    backend: opts.cpu.backend ?? (cpus >= 3 ? '1' : last),
  };
  return { ...pin, text: `proxy on CPU ${pin.proxy}, load generator on ${pin.load}, backend on ${pin.backend} (taskset)` };
}
