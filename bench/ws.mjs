#!/usr/bin/env node
// WebSocket benchmark (issue 13): echoed messages per second through a `ws` echo server, on
// 127.0.0.1 only, for (a) a direct connection, (b) QProxy relaying with recording.websocket.frames
// false (handshake recorded only), (c) QProxy recording every frame, and with permessage-deflate
// negotiated (d) direct and (e) QProxy recording (inflating) every frame. All cases in one run, so
// the figures compare. `node bench/ws.mjs --help`; docs/benchmarks.md "## WebSocket".
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { WebSocket } from 'ws';
import { fetchText, freePort, waitForPort } from './lib/net.mjs';
import { killAllGroupsNow, startGroup, stopGroup } from './lib/procs.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const HOST = '127.0.0.1';

const HELP = `Usage: node bench/ws.mjs [options]      (npm run bench:ws builds first, then runs this)

Messages per second echoed by a ws server, each client keeping --window messages in flight, on
new connections of --per-connection messages each (so records are committed and stored during
the run), for: (a) direct, (b) QProxy with recording.websocket.frames false, (c) QProxy recording
frames, (d) direct with permessage-deflate, (e) QProxy recording deflated frames.

  --size N            message payload bytes                    [256]
  --seconds S         seconds per case                         [5]
  --clients N         concurrent client connections            [4]
  --window N          messages in flight per client            [16]
  --per-connection N  messages per connection before reconnect [2000]
  --cases LIST        letters a-e, comma separated             [a,b,c,d,e]
  -h, --help          this text
`;

const CASES = [
  { letter: 'a', name: 'direct', proxy: false, deflate: false },
  { letter: 'b', name: 'qproxy-frames-off', proxy: true, frames: false, deflate: false },
  { letter: 'c', name: 'qproxy-frames-on', proxy: true, frames: true, deflate: false },
  { letter: 'd', name: 'direct-deflate', proxy: false, deflate: true },
  { letter: 'e', name: 'qproxy-frames-on-deflate', proxy: true, frames: true, deflate: true },
];

function log(msg) {
  process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
}

function num(name, raw, min, max) {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`--${name}: expected a whole number from ${min} to ${max}, got "${raw}"`);
  return n;
}

function parseOptions(argv) {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      size: { type: 'string', default: '256' },
      seconds: { type: 'string', default: '5' },
      clients: { type: 'string', default: '4' },
      window: { type: 'string', default: '16' },
      'per-connection': { type: 'string', default: '2000' },
      cases: { type: 'string', default: 'a,b,c,d,e' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const letters = values.cases.split(',').map((s) => s.trim()).filter(Boolean);
  for (const l of letters) if (!CASES.some((c) => c.letter === l)) throw new Error(`--cases: unknown case "${l}"; known: a-e`);
  return {
    help: values.help,
    size: num('size', values.size, 1, 16 * 1024 * 1024),
    seconds: num('seconds', values.seconds, 1, 600),
    clients: num('clients', values.clients, 1, 256),
    window: num('window', values.window, 1, 1024),
    perConnection: num('per-connection', values['per-connection'], 1, 10_000_000),
    cases: CASES.filter((c) => letters.includes(c.letter)),
  };
}

/** The echo server: a child process, so it does not share this event loop with the clients. */
const ECHO_SERVER = `
import { WebSocketServer } from 'ws';
const [port, deflate] = [Number(process.argv[1]), process.argv[2] === '1'];
const wss = new WebSocketServer({ host: '127.0.0.1', port, perMessageDeflate: deflate ? { threshold: 0 } : false, maxPayload: 0 });
wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  ws.on('error', () => ws.terminate());
});
`;

function startEcho(port, deflate, logFile) {
  return startGroup({ cmd: process.execPath, args: ['--input-type=module', '-e', ECHO_SERVER, String(port), deflate ? '1' : '0'], logFile, cwd: ROOT });
}

function startQProxy(work, c, port, echoPort, apiPort, logFile) {
  const config = {
    mode: 'Record',
    node_id: 'bench',
    http: { host: HOST, port, downstream: `http://${HOST}:${echoPort}` },
    api: { host: HOST, port: apiPort },
    storage: { path: path.join(work, `${c.name}.db`) },
    recording: { websocket: { frames: c.frames } },
    log: { level: 'warn' },
  };
  const file = path.join(work, `${c.name}.json`);
  writeFileSync(file, `${JSON.stringify(config, null, 2)}\n`);
  return startGroup({ cmd: process.execPath, args: [path.join(ROOT, 'dist', 'cli.js')], env: { ...process.env, CONFIG_PATH: file }, logFile, cwd: ROOT });
}

/** One client: connections of `perConnection` messages, `window` in flight, until `deadline`. */
async function client(url, opts, deadline) {
  const payload = 'x'.repeat(opts.size);
  let echoed = 0;
  while (performance.now() < deadline) {
    const ws = new WebSocket(url, { perMessageDeflate: opts.deflate ? { threshold: 0 } : false, maxPayload: 0 });
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    await new Promise((resolve, reject) => {
      let sent = 0;
      let got = 0;
      const send = () => {
        while (sent - got < opts.window && sent < opts.perConnection) {
          ws.send(payload);
          sent++;
        }
      };
      ws.on('message', () => {
        got++;
        echoed++;
        if (got === opts.perConnection || performance.now() >= deadline) resolve();
        else send();
      });
      ws.once('error', reject);
      send();
    });
    await new Promise((resolve) => {
      ws.once('close', resolve);
      ws.close(1000);
    });
  }
  return echoed;
}

async function runCase(c, opts, ports) {
  const url = `ws://${HOST}:${c.proxy ? ports.proxy : ports.echo}/bench`;
  const t0 = performance.now();
  const deadline = t0 + opts.seconds * 1000;
  const counts = await Promise.all(Array.from({ length: opts.clients }, () => client(url, { ...opts, deflate: c.deflate }, deadline)));
  const secs = (performance.now() - t0) / 1000;
  const messages = counts.reduce((a, b) => a + b, 0);
  return { messages, secs, rate: messages / secs };
}

async function main() {
  const opts = parseOptions(process.argv.slice(2));
  if (opts.help) {
    process.stdout.write(HELP);
    return;
  }
  const work = mkdtempSync(path.join(os.tmpdir(), 'qproxy-bench-ws-'));
  const results = [];
  try {
    for (const c of opts.cases) {
      const echoPort = await freePort();
      const echo = startEcho(echoPort, c.deflate, path.join(work, `echo-${c.name}.log`));
      const groups = [echo];
      try {
        const notUp = await waitForPort(echoPort, 20_000, () => echo.alive());
        if (notUp) throw new Error(`echo server: ${notUp}`);
        const ports = { echo: echoPort, proxy: 0 };
        let apiPort = 0;
        if (c.proxy) {
          ports.proxy = await freePort();
          apiPort = await freePort();
          const q = startQProxy(work, c, ports.proxy, echoPort, apiPort, path.join(work, `${c.name}.log`));
          groups.push(q);
          const up = await waitForPort(ports.proxy, 20_000, () => q.alive());
          if (up) throw new Error(`QProxy: ${up}`);
        }
        log(`(${c.letter}) ${c.name}: ${opts.clients} clients × window ${opts.window}, ${opts.size}-byte messages, ${opts.seconds} s`);
        const r = await runCase(c, opts, ports);
        let stored = '';
        if (c.proxy) {
          // Let the last connections' records reach the store, then read what was stored.
          await new Promise((resolve) => setTimeout(resolve, 500));
          const status = JSON.parse((await fetchText(apiPort, '/api/status', 1 << 20))?.text ?? '{}');
          stored = status.records ? ` · ${status.records.count} records, ${(status.records.bytes / 1048576).toFixed(1)} MiB stored` : "";
        }
        results.push({ ...c, ...r });
        log(`(${c.letter}) ${Math.round(r.rate)} messages/s (${r.messages} in ${r.secs.toFixed(1)} s)${stored}`);
      } finally {
        for (const g of groups.reverse()) await stopGroup(g, 10_000);
      }
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  const base = (letter) => results.find((r) => r.letter === letter)?.rate;
  process.stdout.write(`\n| case | messages/s | vs direct |\n|---|---:|---:|\n`);
  for (const r of results) {
    const direct = base(r.deflate ? 'd' : 'a');
    const rel = direct ? `${Math.round((r.rate / direct) * 100)} %` : '—';
    process.stdout.write(`| (${r.letter}) ${r.name} | ${Math.round(r.rate)} | ${rel} |\n`);
  }
}

process.on('SIGINT', () => {
  killAllGroupsNow();
  process.exit(130);
});
main().catch((err) => {
  killAllGroupsNow();
  process.stderr.write(`${err.stack ?? err}\n`);
  process.exit(1);
});
