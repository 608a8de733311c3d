// Load generators: wrk when it is on PATH (cheaper on CPU, so more of the machine is left to the
// proxy), otherwise autocannon through bench/load/autocannon-run.mjs. Both print one BENCHJSON line.
import { spawn, execFileSync } from 'node:child_process';
import { appendFileSync, openSync, closeSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const LOAD_DIR = fileURLToPath(new URL('../load/', import.meta.url));

function onPath(bin) {
  try {
    execFileSync('sh', ['-c', `command -v ${bin}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Pick the generator: `preference` is "auto", "wrk" or "autocannon". Throws when it is missing. */
export function chooseLoadGen(preference) {
  const hasWrk = onPath('wrk');
  if (preference === 'wrk' || (preference === 'auto' && hasWrk)) {
    if (!hasWrk) throw new Error('--loadgen wrk: wrk is not on PATH (apt-get install -y wrk)');
    const banner = execFileSync('sh', ['-c', 'wrk --version 2>&1 | head -n 1; true'], { encoding: 'utf8' });
    return { kind: 'wrk', version: banner.split(' ').slice(0, 2).join(' ').trim() || 'wrk' };
  }
  if (preference !== 'auto' && preference !== 'autocannon') {
    throw new Error(`--loadgen: expected auto, wrk or autocannon, got "${preference}"`);
  }
  const pkg = JSON.parse(readFileSync(new URL('../../node_modules/autocannon/package.json', import.meta.url), 'utf8'));
  return { kind: 'autocannon', version: `autocannon ${pkg.version}` };
}

function commandFor(gen, { url, workload, connections, durationS }) {
  if (gen.kind === 'wrk') {
    const args = ['-t1', `-c${connections}`, `-d${durationS}s`, '--timeout', '5s', '-s', `${LOAD_DIR}wrk-report.lua`, url];
    return { cmd: 'wrk', args };
  }
  const spec = { url, connections, duration: durationS, method: workload.method, bodyBytes: workload.bodyBytes };
  return { cmd: process.execPath, args: [`${LOAD_DIR}autocannon-run.mjs`, JSON.stringify(spec)] };
}

/**
 * Run one load window against 127.0.0.1:`port` and resolve with the BENCHJSON result (null when the
 * generator printed none) plus its exit code. Killed after durationS + 30 s whatever happens.
 * `register` receives the child so an interrupt can stop it.
 */
export function runLoad(gen, { port, workload, connections, durationS, cpus, logFile, register }) {
  const url = `http://127.0.0.1:${port}${workload.path}`;
  const { cmd, args } = commandFor(gen, { url, workload, connections, durationS });
  const argv = cpus ? ['taskset', '-c', cpus, cmd, ...args] : [cmd, ...args];
  const env = { ...process.env, BENCH_METHOD: workload.method, BENCH_BODY_BYTES: String(workload.bodyBytes) };
  const fd = openSync(logFile, 'a');
  const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', fd], env });
  closeSync(fd);
  register?.(child);
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (s) => (out += s));
  const killer = setTimeout(() => child.kill('SIGKILL'), (durationS + 30) * 1000);
  return new Promise((resolve) => {
    child.once('error', (err) => {
      clearTimeout(killer);
      resolve({ result: null, rc: null, error: err.message });
    });
    child.once('close', (rc) => {
      clearTimeout(killer);
      register?.(null);
      appendFileSync(logFile, out);
      const line = out.split('\n').find((l) => l.startsWith('BENCHJSON '));
      resolve({ result: line ? JSON.parse(line.slice('BENCHJSON '.length)) : null, rc, output: out.slice(-2000) });
    });
  });
}
