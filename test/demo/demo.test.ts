/**
 * `qproxy demo` as a user runs it: a real child process that starts the sample services, two real
 * nodes with TLS sync (openssl-made certificates) and real traffic on loopback, through the built
 * `node dist/cli.js demo` (npm test builds first).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect, createServer as createTlsServer } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { makeDemoCerts } from '../../src/demo/certs.js';
import { runDemo } from '../../src/demo/command.js';
import { DemoScreen, plainLine, type Progress } from '../../src/demo/screen.js';
import { parseDemoArgs } from '../../src/demo/options.js';
import { route } from '../../src/demo/services.js';

const command = [fileURLToPath(new URL('../../dist/cli.js', import.meta.url)), 'demo'];

/** Taken once: a test that changes process.env (the openssl one) must not leak into the children. */
const CHILD_ENV = { ...process.env, NO_COLOR: '1' };

/** Bound for any single wait on the child; a failing demo is reported, not waited for forever. */
const WAIT_MS = 60_000;

interface Demo {
  child: ChildProcess;
  output(): string;
  /** Resolves with the output once it matches `re` (rejects when the process ends first). */
  waitFor(re: RegExp): Promise<RegExpMatchArray>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function startDemo(t: { after(fn: () => void): void }, args: string[]): Demo {
  const child = spawn(process.execPath, [...command, ...args], {
    env: CHILD_ENV,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let out = '';
  const watchers = new Set<() => void>();
  const onData = (c: Buffer): void => {
    out += c.toString();
    for (const w of watchers) w();
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => {
      resolve({ code, signal });
      for (const w of watchers) w();
    }),
  );
  const waitFor = (re: RegExp): Promise<RegExpMatchArray> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => done(new Error(`no ${re} within ${WAIT_MS} ms; output:\n${out}`)), WAIT_MS);
      const done = (err: Error | null, m?: RegExpMatchArray): void => {
        clearTimeout(timer);
        watchers.delete(check);
        if (err) reject(err);
        else resolve(m!);
      };
      const check = (): void => {
        const m = out.match(re);
        if (m) done(null, m);
        else if (child.exitCode !== null || child.signalCode !== null) done(new Error(`the demo ended before ${re}; output:\n${out}`));
      };
      watchers.add(check);
      check();
    });
  return { child, output: () => out, waitFor, exited };
}

async function exitOf(demo: Demo): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the demo did not exit within ${WAIT_MS} ms; output:\n${demo.output()}`)), WAIT_MS);
  });
  try {
    return await Promise.race([demo.exited, bound]);
  } finally {
    clearTimeout(timer);
  }
}

const TEMP = /temp folder: (\S+)/;

// The child processes mostly wait on each other; running them side by side keeps the file short.
describe('qproxy demo as a child process', { concurrency: true }, () => {
  test('demo --once: records, syncs over TLS, replays, shows the intended diff, exits 0 and removes its temp folder', async (t) => {
    const demo = startDemo(t, ['--once', '--duration', '3s', '--rate', '40']);
    const dir = (await demo.waitFor(TEMP))[1]!;
    assert.ok(existsSync(dir), 'the temp folder exists while the demo runs');
    const { code } = await exitOf(demo);
    const out = demo.output();
    assert.equal(code, 0, out);
    assert.match(out, /HTTP\/2 \+ TLS/, 'the sync link runs over TLS with the certificates made for the run');
    const summary = out.match(/recorded (\d+) · synced (\d+) · replayed (\d+) \((\d+) match, (\d+) differ/);
    assert.ok(summary, `a summary line; output:\n${out}`);
    const [recorded, synced, replayed, matched, differ] = summary.slice(1).map(Number) as [number, number, number, number, number];
    assert.ok(recorded > 0 && synced > 0 && replayed > 0, `non-zero counts: ${summary[0]}`);
    assert.ok(matched > 0, 'most endpoints are identical in zone B');
    assert.ok(differ > 0, 'zone B differs on purpose');
    const diffSection = out.slice(out.indexOf('Example differences'), out.indexOf('Summary'));
    assert.match(diffSection, /GET \/api\/products\/\d+/, 'the differing endpoint is shown');
    assert.match(diffSection, /\$\.price: \d+\.\d+ → \d+/, 'with what differs: the rounded price');
    assert.doesNotMatch(diffSection, /\/api\/users\//, 'the volatile fields of /api/users are ignored by the comparison');
    assert.match(out, /curl -s -H 'Authorization: Bearer [0-9a-f]+' http:\/\/127\.0\.0\.1:\d+\/api\/status/, 'API URLs to explore');
    assert.match(out, /Web UI: zone A http:\/\/127\.0\.0\.1:\d+\/ui\/ · zone B http:\/\/127\.0\.0\.1:\d+\/ui\//, 'the UI of both nodes');
    assert.equal(existsSync(dir), false, 'the temp folder is removed');
  });

  test('demo: SIGINT during a --once run stops everything, exits 130 and removes the temp folder', async (t) => {
    const demo = startDemo(t, ['--once', '--duration', '60s']);
    const dir = (await demo.waitFor(TEMP))[1]!;
    await demo.waitFor(/\] sent [1-9]\d* HTTP/);
    demo.child.kill('SIGINT');
    const { code } = await exitOf(demo);
    assert.equal(code, 130, demo.output());
    assert.match(demo.output(), /Stopped\. Removed /);
    assert.equal(existsSync(dir), false);
  });

  test('demo: SIGTERM while running until Ctrl-C is the normal end: exit 0, temp folder removed', async (t) => {
    const demo = startDemo(t, []);
    const dir = (await demo.waitFor(TEMP))[1]!;
    await demo.waitFor(/\] sent [1-9]\d* HTTP/);
    demo.child.kill('SIGTERM');
    const { code } = await exitOf(demo);
    assert.equal(code, 0, demo.output());
    assert.equal(existsSync(dir), false);
  });

  test('demo: SIGHUP (its terminal closed, output gone) stops it and removes the temp folder with the CA key', async (t) => {
    const demo = startDemo(t, []);
    const dir = (await demo.waitFor(TEMP))[1]!;
    await demo.waitFor(/\] sent [1-9]\d* HTTP/);
    assert.ok(existsSync(join(dir, 'ca.key')), 'the CA key is in the temp folder while the demo runs');
    // A closed terminal: nothing reads the output any more, and the process gets SIGHUP.
    demo.child.stdout!.destroy();
    demo.child.stderr!.destroy();
    demo.child.kill('SIGHUP');
    const { code, signal } = await exitOf(demo);
    assert.equal(signal, null, 'the demo handled SIGHUP and exited by itself, rather than being killed by it');
    assert.equal(code, 0, 'a clean stop, as on SIGTERM, despite the output being gone');
    assert.equal(existsSync(dir), false, 'the temp folder is removed');
  });

  test('demo: a second SIGINT exits at once, and the temp folder is still removed', async (t) => {
    const demo = startDemo(t, []);
    const dir = (await demo.waitFor(TEMP))[1]!;
    await demo.waitFor(/\] sent [1-9]\d* HTTP/);
    demo.child.kill('SIGINT');
    await demo.waitFor(/stopping cleanly/);
    demo.child.kill('SIGINT');
    const { code } = await exitOf(demo);
    assert.equal(code, 130, demo.output());
    assert.equal(existsSync(dir), false);
  });
});

test('runDemo: --help prints the usage and returns 0; a bad flag returns 2 naming the flag', async () => {
  const sink = (): { text: string; write(t: string): boolean } => ({ text: '', write(t: string) { this.text += t; return true; } });
  const out = sink();
  const err = sink();
  assert.equal(await runDemo(['--help'], { stdout: out, stderr: err }), 0);
  assert.match(out.text, /Usage: qproxy demo/);
  assert.equal(await runDemo(['--rate', 'fast'], { stdout: out, stderr: err }), 2);
  assert.match(err.text, /--rate: expected a whole number from 1 to 500, got "fast"/);
  assert.match(err.text, /Usage: qproxy demo/);
});

test('demo flags: defaults, durations and bounds', () => {
  assert.deepEqual(parseDemoArgs(['--once']), { once: true, durationMs: 15_000, rate: 25, portBase: null, keep: false, help: false });
  assert.equal(parseDemoArgs([]).durationMs, null, 'without --once traffic runs until Ctrl-C');
  assert.equal(parseDemoArgs(['--duration', '1m30s']).durationMs, 90_000);
  assert.equal(parseDemoArgs(['--duration', '4']).durationMs, 4_000, 'a bare number is seconds');
  assert.equal(parseDemoArgs(['--port-base', '20000']).portBase, 20000);
  assert.throws(() => parseDemoArgs(['--duration', '10ms']), /--duration: expected a duration from 1s to 24h/);
  assert.throws(() => parseDemoArgs(['--port-base', '65530']), /--port-base: expected a whole number from 1024 to 65525/);
  assert.throws(() => parseDemoArgs(['--nope']), /Unknown option '--nope'/);
  assert.throws(() => parseDemoArgs(['extra']), /positional/);
});

test('sample services: zone B differs from zone A only in GET /api/products/:id', () => {
  const requests: Array<[string, string, string]> = [
    ['GET', '/api/products', ''],
    ['GET', '/api/products?category=coffee', ''],
    ['GET', '/api/products/999', ''],
    ['POST', '/api/orders', '{"user_id":101,"items":[{"product_id":2,"qty":2}]}'],
    ['POST', '/api/orders', '{"items":[]}'],
    ['GET', '/healthz', ''],
  ];
  const strip = (body: unknown): unknown => ({ ...(body as object), served_at: undefined });
  for (const [method, url, body] of requests) {
    const a = route('A', method, url, Buffer.from(body));
    const b = route('B', method, url, Buffer.from(body));
    assert.deepEqual(strip(b.body), strip(a.body), `${method} ${url}`);
  }
  assert.deepEqual(route('A', 'POST', '/api/orders', Buffer.from('{"user_id":101,"items":[{"product_id":2,"qty":2}]}')).status, 201);
  const a = route('A', 'GET', '/api/products/2', Buffer.alloc(0)).body as { price: number };
  const b = route('B', 'GET', '/api/products/2', Buffer.alloc(0)).body as { price: number };
  assert.equal(a.price, 59.95);
  assert.equal(b.price, 60);
});

test('demo certificates: a CA and a sync certificate a TLS client accepts for 127.0.0.1; no openssl → a reason, no throw', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'qproxy-demo-certs-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const outcome = await makeDemoCerts(dir);
  assert.ok(outcome.ok, outcome.ok ? '' : outcome.reason);
  const server = createTlsServer({ cert: await readFile(outcome.certs.certPath), key: await readFile(outcome.certs.keyPath) }, (s) => s.end('hi'));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => server.close());
  const socket = tlsConnect({ host: '127.0.0.1', port: (server.address() as AddressInfo).port, ca: await readFile(outcome.certs.caPath) });
  await once(socket, 'secureConnect');
  assert.equal(socket.authorized, true);
  socket.destroy();

  const path = process.env.PATH;
  process.env.PATH = join(dir, 'no-such-bin');
  try {
    const missing = await makeDemoCerts(dir);
    assert.equal(missing.ok, false);
    assert.match(missing.ok ? '' : missing.reason, /openssl command is not installed/);
  } finally {
    process.env.PATH = path;
  }
});

test('demo screen: a TTY panel redraws in place, without colour codes when colour is off; a pipe gets plain lines', () => {
  const progress: Progress = {
    elapsedMs: 4000, sending: true, sent: { http: 96, tcp: 12, errors: 0, byClass: {} }, recorded: 108, synced: 104, pending: 4,
    syncState: 'connected', syncError: null, replayed: 90, matched: 67, mismatched: 23, failed: 0, notSent: 0, successRate: 67 / 90,
  };
  const tty = { text: '', isTTY: true, columns: 200, write(s: string) { this.text += s; return true; } };
  const screen = new DemoScreen(tty, false);
  screen.update(progress);
  const first = tty.text;
  assert.match(first, /replayed +90 against zone B: 67 match, 23 differ, 0 failed/);
  assert.doesNotMatch(first, /\x1b\[\d+m/, 'no SGR colour codes with colour off (NO_COLOR)');
  screen.update({ ...progress, replayed: 100 });
  assert.equal(tty.text.slice(first.length, first.length + 7), '\x1b[6F\x1b[J', 'the second frame first moves up over the first and clears it');

  const coloured = { ...tty, text: '' };
  new DemoScreen(coloured, true).update(progress);
  assert.match(coloured.text, /\x1b\[32m/, 'colours on a TTY when allowed');

  const pipe = { text: '', write(s: string) { this.text += s; return true; } };
  const plain = new DemoScreen(pipe, true);
  plain.update(progress);
  plain.update({ ...progress, elapsedMs: 4500 });
  assert.equal(pipe.text, `${plainLine(progress)}\n`, 'one plain line, not one per update');
  assert.match(pipe.text, /^\[  4\.0s\] sent 96 HTTP \+ 12 TCP \| recorded 108 \| synced 104 \(pending 4\) \| replayed 90 .*success 74\.4%$/m);
});
