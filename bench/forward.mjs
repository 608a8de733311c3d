#!/usr/bin/env node
// Forward-proxy benchmark (issue 15): what CONNECT + interception costs, beside the reverse proxy
// in the same QProxy process. On 127.0.0.1 only, recording on (the defaults), one HTTPS backend:
//   handshakes/s  new TLS connections: reverse proxy's TLS listener (one static certificate),
//                 forward CONNECT + interception with a cached leaf (one SNI name), and with an
//                 uncached leaf (a new SNI name per connection: one mint each);
//   req/s         keep-alive GETs at a fixed concurrency through the reverse proxy (HTTPS listener)
//                 and through the forward proxy (undici ProxyAgent: one tunnel per connection).
// `node bench/forward.mjs --help`; docs/benchmarks.md "## Forward proxy".
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Pool, ProxyAgent, request } from 'undici';
import { freePort, waitForPort } from './lib/net.mjs';
import { killAllGroupsNow, startGroup, stopGroup } from './lib/procs.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const HOST = '127.0.0.1';

const HELP = `Usage: node bench/forward.mjs [options]   (npm run bench:forward builds first, then runs this)

One QProxy node with an HTTPS reverse listener and a forward listener (CA interception) in front
of one HTTPS backend, recording on. Measures new TLS handshakes/s (reverse TLS listener; forward
CONNECT + interception with a cached and an uncached leaf) and keep-alive req/s (reverse vs forward).

  --duration S      seconds per measurement                        [8]
  --connections N   keep-alive connections for req/s               [32]
  --concurrency N   handshakes in flight at once                   [16]
  --out DIR         results folder                [.bench-results/forward-<date>]
  -h, --help        this text
`;

function log(msg) {
  process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
}

function openssl(dir, args) {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

/** A backend CA and a localhost certificate, with the openssl CLI. */
function makeBackendPki(dir) {
  openssl(dir, ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'backend-ca.key', '-out', 'backend-ca.pem', '-days', '2', '-subj', '/CN=bench backend CA', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign']);
  writeFileSync(path.join(dir, 'leaf.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  openssl(dir, ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'backend.key', '-out', 'backend.csr', '-subj', '/CN=localhost']);
  openssl(dir, ['x509', '-req', '-in', 'backend.csr', '-CA', 'backend-ca.pem', '-CAkey', 'backend-ca.key', '-CAcreateserial', '-days', '2', '-extfile', 'leaf.ext', '-out', 'backend.pem']);
}

const BACKEND = `
import https from 'node:https';
import fs from 'node:fs';
const [port, dir] = process.argv.slice(2);
const body = Buffer.from(JSON.stringify({ ok: true, pad: 'x'.repeat(200) }));
https.createServer({ key: fs.readFileSync(dir + '/backend.key'), cert: fs.readFileSync(dir + '/backend.pem'), keepAliveTimeout: 60000 }, (req, res) => {
  req.resume();
  req.on('end', () => { res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length }); res.end(body); });
}).listen(Number(port), '127.0.0.1');
`;

/** Runs `one()` with `concurrency` workers for `seconds`; returns completions per second and failures. */
async function rate(seconds, concurrency, one) {
  const end = performance.now() + seconds * 1000;
  let done = 0;
  let failed = 0;
  let firstError = null;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async (_, w) => {
      for (let i = 0; performance.now() < end; i++) {
        try {
          await one(w, i);
          done++;
        } catch (err) {
          failed++;
          firstError ??= err;
        }
      }
    }),
  );
  if (firstError) log(`  first failure: ${firstError.message}`);
  return { perSecond: done / ((performance.now() - t0) / 1000), done, failed };
}

/** One new TLS connection to a TLS listener: connect, handshake, close. */
function tlsHandshake(port, servername, ca) {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: HOST, port, servername, ca, session: undefined }, () => {
      s.destroy();
      resolve();
    });
    s.once('error', reject);
  });
}

/** CONNECT through the forward proxy, then a TLS handshake with `servername` inside the tunnel. */
function connectHandshake(proxyPort, target, servername, ca) {
  return new Promise((resolve, reject) => {
    const raw = net.connect(proxyPort, HOST, () => raw.write(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n\r\n`));
    raw.once('error', reject);
    raw.once('data', (chunk) => {
      if (!chunk.toString('latin1').startsWith('HTTP/1.1 200')) return reject(new Error(`CONNECT answered ${chunk.toString('latin1').split('\r\n')[0]}`));
      const s = tls.connect({ socket: raw, servername, ca }, () => {
        s.destroy();
        resolve();
      });
      s.once('error', reject);
    });
  });
}

async function main() {
  const { values } = parseArgs({
    options: {
      duration: { type: 'string', default: '8' },
      connections: { type: 'string', default: '32' },
      concurrency: { type: 'string', default: '16' },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return process.stdout.write(HELP);
  const seconds = Number(values.duration);
  const connections = Number(values.connections);
  const concurrency = Number(values.concurrency);
  const work = mkdtempSync(path.join(os.tmpdir(), 'qproxy-bench-forward-'));
  const out = values.out ?? path.join(ROOT, '.bench-results', `forward-${new Date().toISOString().slice(0, 19).replace(/[:T]/g, '-')}`);
  mkdirSync(out, { recursive: true });
  const groups = [];
  try {
    makeBackendPki(work);
    execFileSync(process.execPath, [path.join(ROOT, 'dist/cli.js'), 'ca', 'create', '--out', work], { stdio: 'ignore' });
    const [backendPort, reversePort, forwardPort, apiPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
    writeFileSync(path.join(work, 'backend.mjs'), BACKEND);
    const backend = startGroup({ cmd: process.execPath, args: [path.join(work, 'backend.mjs'), String(backendPort), work], logFile: path.join(out, 'backend.log') });
    groups.push(backend);
    writeFileSync(
      path.join(work, 'config.json'),
      JSON.stringify({
        mode: 'Record',
        node_id: 'bench-forward',
        http: { port: reversePort, downstream: `https://127.0.0.1:${backendPort}`, tls: { tls_cert: 'backend.pem', tls_key: 'backend.key' }, downstream_tls: { ca: 'backend-ca.pem' } },
        forward: { port: forwardPort, ca: { cert: 'ca.pem', key: 'ca-key.pem' }, upstream_ca: 'backend-ca.pem', allow_ports: [backendPort], cert_cache_size: 1000 },
        api: { port: apiPort },
        storage: { path: 'data/qproxy.db' },
        log: { level: 'warn' },
      }),
    );
    const qproxy = startGroup({ cmd: process.execPath, args: [path.join(ROOT, 'dist/cli.js'), '--config', path.join(work, 'config.json')], logFile: path.join(out, 'qproxy.log'), cwd: work });
    groups.push(qproxy);
    for (const [port, what] of [[backendPort, 'backend'], [reversePort, 'reverse listener'], [forwardPort, 'forward listener']]) {
      const why = await waitForPort(port, 20_000, () => true);
      if (why) throw new Error(`${what}: ${why}`);
    }
    const ca = readFileSync(path.join(work, 'ca.pem'), 'utf8');
    const backendCa = readFileSync(path.join(work, 'backend-ca.pem'), 'utf8');
    const target = `127.0.0.1:${backendPort}`;
    const rows = [];

    log(`handshakes: reverse TLS listener (${seconds}s, ${concurrency} in flight)`);
    rows.push(['new TLS handshakes/s', 'reverse proxy TLS listener (static certificate)', await rate(seconds, concurrency, () => tlsHandshake(reversePort, 'localhost', backendCa))]);
    log('handshakes: forward CONNECT + interception, cached leaf');
    rows.push(['new TLS handshakes/s', 'forward CONNECT + interception, cached leaf', await rate(seconds, concurrency, () => connectHandshake(forwardPort, target, 'cached.bench.test', ca))]);
    log('handshakes: forward CONNECT + interception, uncached leaf (a new SNI name each)');
    let fresh = 0;
    rows.push(['new TLS handshakes/s', 'forward CONNECT + interception, uncached leaf (mint per handshake)', await rate(seconds, concurrency, () => connectHandshake(forwardPort, target, `h${fresh++}.bench.test`, ca))]);

    // Keep-alive rounds alternate the order (R F, then F R): the node is still writing the
    // handshake phase's records when the first round starts, which would favour whichever runs second.
    const pool = new Pool(`https://localhost:${reversePort}`, { connections, connect: { ca: backendCa } });
    const agent = new ProxyAgent({ uri: `http://${HOST}:${forwardPort}`, requestTls: { ca }, connections });
    const paths = {
      reverse: ['reverse proxy (HTTPS listener → HTTPS backend)', async () => drain(await pool.request({ path: '/r', method: 'GET' }))],
      forward: ['forward proxy (CONNECT + interception → HTTPS backend)', async () => drain(await request(`https://localhost:${backendPort}/f`, { dispatcher: agent }))],
    };
    const sums = { reverse: { perSecond: 0, done: 0, failed: 0 }, forward: { perSecond: 0, done: 0, failed: 0 } };
    for (const order of [['reverse', 'forward'], ['forward', 'reverse']]) {
      for (const name of order) {
        log(`keep-alive req/s: ${name} (${connections} connections, ${seconds}s)`);
        const r = await rate(seconds, connections, paths[name][1]);
        sums[name].perSecond += r.perSecond / 2;
        sums[name].done += r.done;
        sums[name].failed += r.failed;
      }
    }
    rows.push(['keep-alive req/s (mean of 2 rounds)', paths.reverse[0], sums.reverse]);
    rows.push(['keep-alive req/s (mean of 2 rounds)', paths.forward[0], sums.forward]);
    await pool.close();
    await agent.close();

    const status = JSON.parse(execFileSync('curl', ['-s', `http://${HOST}:${apiPort}/api/status`], { encoding: 'utf8' }));
    const meta = { date: new Date().toISOString(), node: process.version, cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, load: os.loadavg().map((x) => x.toFixed(2)).join(' '), seconds, connections, concurrency };
    const lines = [
      `| measure | path | per second | done | failed |`,
      `| --- | --- | ---: | ---: | ---: |`,
      ...rows.map(([m, p, r]) => `| ${m} | ${p} | ${Math.round(r.perSecond)} | ${r.done} | ${r.failed} |`),
    ];
    const md = `Forward-proxy benchmark, ${meta.date}: node ${meta.node}, ${meta.cpus} CPUs (${meta.cpuModel}), load ${meta.load}; ${seconds}s each, ${concurrency} handshakes in flight, ${connections} keep-alive connections. Recorded: ${status.recording?.recorded ?? '?'} records, ${status.forward?.certificates_minted ?? '?'} leaves minted.\n\n${lines.join('\n')}\n`;
    writeFileSync(path.join(out, 'results.md'), md);
    writeFileSync(path.join(out, 'results.json'), JSON.stringify({ meta, rows: rows.map(([m, p, r]) => ({ measure: m, path: p, ...r })), status }, null, 2));
    process.stdout.write(md);
    log(`results in ${out}`);
  } finally {
    for (const g of groups.reverse()) await stopGroup(g, 10_000);
    rmSync(work, { recursive: true, force: true });
  }
}

async function drain(res) {
  for await (const chunk of res.body) void chunk;
  if (res.statusCode !== 200) throw new Error(`status ${res.statusCode}`);
}

process.on('SIGINT', () => {
  killAllGroupsNow();
  process.exit(130);
});
main().catch((err) => {
  killAllGroupsNow();
  process.stderr.write(`bench/forward: ${err.stack ?? err.message}\n`);
  process.exit(1);
});
