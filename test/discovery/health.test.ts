/**
 * Active health checks against real servers on 127.0.0.1: TCP connect checks with rise/fall across
 * a server restart on the same port, HTTP checks on a path (500 → 200 → 3xx → 500), HTTPS checks
 * with a CA made by openssl at test time, the one-check-in-flight rule, and panic mode.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { setTimeout as delay } from 'node:timers/promises';
import {
  Discovery,
  parseHttpTarget,
  parseTcpTarget,
  type DiscoveryOptions,
  type DiscoveryTarget,
  type HealthCheckOptions,
} from '../../src/discovery/index.js';
import { timerRounds } from '../helpers/timers.js';

interface LogEntry {
  level: 'info' | 'warn';
  fields: Record<string, unknown>;
  msg: string;
}

function recorder(): { logger: DiscoveryOptions['logger']; entries: LogEntry[] } {
  const entries: LogEntry[] = [];
  return {
    entries,
    logger: {
      info: (o, m) => entries.push({ level: 'info', fields: o as Record<string, unknown>, msg: m }),
      warn: (o, m) => entries.push({ level: 'warn', fields: o as Record<string, unknown>, msg: m }),
    },
  };
}

async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 1000; i++) {
    if (cond()) return;
    await delay(5);
  }
  assert.fail(`gave up waiting for ${what}`);
}

/** Listens on `port` (0 = any) and tracks sockets so the server can be stopped at once. */
async function tcpServer(t: TestContext, port = 0): Promise<{ server: Server; port: number; stop: () => Promise<void> }> {
  const server = createServer((s) => s.on('error', () => undefined).end());
  const sockets = new Set<Socket>();
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.listen(port, '127.0.0.1');
  await once(server, 'listening');
  const stop = async (): Promise<void> => {
    if (!server.listening) return;
    const closed = once(server, 'close');
    server.close();
    for (const s of sockets) s.destroy();
    await closed;
  };
  t.after(stop);
  return { server, port: (server.address() as { port: number }).port, stop };
}

function discovery(t: TestContext, targets: DiscoveryTarget[], healthCheck: HealthCheckOptions, extra: Partial<DiscoveryOptions> = {}): Discovery {
  const d = new Discovery({
    targets,
    policy: 'round_robin',
    resolveIntervalMs: 0,
    healthCheck,
    passive: { consecutiveFailures: 0, baseEjectionMs: 1000, maxEjectionMs: 1000 },
    ...extra,
  });
  t.after(() => d.close());
  return d;
}

function state(d: Discovery, key: string): string | undefined {
  return d.snapshot().find((r) => r.endpoint === key)?.state;
}

const tcpCheck: HealthCheckOptions = { kind: 'tcp', path: '/', intervalMs: 20, timeoutMs: 1000, rise: 2, fall: 3 };

test('TCP check: a closed port goes unhealthy after `fall` failures and healthy after `rise` successes on restart', async (t) => {
  const flaky = await tcpServer(t);
  const steady = await tcpServer(t);
  const flakyKey = `127.0.0.1:${flaky.port}`;
  const steadyKey = `127.0.0.1:${steady.port}`;
  const log = recorder();
  const d = discovery(t, [parseTcpTarget(flakyKey), parseTcpTarget(steadyKey)], tcpCheck, { logger: log.logger });
  await d.start();
  assert.equal(state(d, flakyKey), 'healthy');
  assert.equal(state(d, steadyKey), 'healthy');

  await flaky.stop();
  await until(() => state(d, flakyKey) === 'unhealthy', 'the stopped server to go unhealthy');
  const down = log.entries.find((e) => e.msg.includes('failed its health checks'));
  assert.equal(down?.fields.endpoint, flakyKey);
  assert.equal(down?.fields.checks_in_a_row, 3, 'marked unhealthy exactly at `fall` failures');
  for (let i = 0; i < 10; i++) assert.equal(d.pick()?.key, steadyKey);
  assert.equal(d.panic, false);

  const again = await tcpServer(t, flaky.port);
  assert.equal(again.port, flaky.port);
  await until(() => state(d, flakyKey) === 'healthy', 'the restarted server to come back');
  const up = log.entries.find((e) => e.msg.includes('passed its health checks'));
  assert.equal(up?.fields.endpoint, flakyKey);
  assert.equal(up?.fields.checks_in_a_row, 2, 'healthy again exactly at `rise` successes');
  const picked = new Set(Array.from({ length: 4 }, () => d.pick()?.key));
  assert.ok(picked.has(flakyKey), 'the recovered endpoint is back in rotation');
});

interface HttpBackend {
  port: number;
  status: number;
  served: Map<number, number>;
  paths: Set<string>;
  hosts: Set<string>;
}

function handler(b: HttpBackend): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    b.served.set(b.status, (b.served.get(b.status) ?? 0) + 1);
    b.paths.add(req.url ?? '');
    b.hosts.add(req.headers.host ?? '');
    res.writeHead(b.status, b.status === 302 ? { location: '/elsewhere' } : {}).end('x');
  };
}

async function httpBackend(t: TestContext, status: number): Promise<HttpBackend> {
  const b: HttpBackend = { port: 0, status, served: new Map(), paths: new Set(), hosts: new Set() };
  const server = createHttpServer(handler(b));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  b.port = (server.address() as { port: number }).port;
  return b;
}

const lookupLoopback = (): Promise<Array<{ address: string; family: number }>> => Promise.resolve([{ address: '127.0.0.1', family: 4 }]);

test('HTTP check: GET path, 500 is unhealthy, 200 and 302 healthy, with rise/fall', async (t) => {
  const b = await httpBackend(t, 500);
  const log = recorder();
  const key = `127.0.0.1:${b.port}`;
  const hc: HealthCheckOptions = { kind: 'http', path: '/healthz', intervalMs: 20, timeoutMs: 1000, rise: 2, fall: 2 };
  const d = discovery(t, [parseHttpTarget(`http://svc.test:${b.port}`)], hc, { logger: log.logger, lookup: lookupLoopback });
  await d.start();
  assert.equal(state(d, key), 'unhealthy', 'a new endpoint failing its first check is out at once');
  assert.deepEqual([...b.paths], ['/healthz']);
  assert.deepEqual([...b.hosts], [`svc.test:${b.port}`]);
  assert.equal(d.panic, true, 'its only endpoint is unhealthy');

  b.status = 200;
  await until(() => state(d, key) === 'healthy', 'healthy after 200s');
  assert.ok((b.served.get(200) ?? 0) >= 2, 'rise needs two passing checks');
  assert.equal(log.entries.find((e) => e.msg.includes('passed'))?.fields.checks_in_a_row, 2);
  assert.equal(d.panic, false);

  b.status = 302;
  await until(() => (b.served.get(302) ?? 0) >= 3, 'three 302 answers');
  assert.equal(state(d, key), 'healthy', '3xx counts as passing');

  b.status = 500;
  const before = b.served.get(500) ?? 0;
  await until(() => state(d, key) === 'unhealthy', 'unhealthy after 500s');
  assert.ok((b.served.get(500) ?? 0) - before >= 2, 'fall needs two failing checks');
  const downs = log.entries.filter((e) => e.msg.includes('failed its health checks'));
  assert.deepEqual(downs.map((e) => e.fields.checks_in_a_row), [1, 2], 'first check alone at start, then `fall`');
});

test('HTTP check: one check in flight per endpoint, bounded by timeoutMs', async (t) => {
  let requests = 0;
  const server = createHttpServer(() => {
    requests++; // never answers
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  const port = (server.address() as { port: number }).port;
  const hc: HealthCheckOptions = { kind: 'http', path: '/', intervalMs: 10, timeoutMs: 1200, rise: 1, fall: 1 };
  const d = discovery(t, [parseHttpTarget(`http://127.0.0.1:${port}`)], hc);
  const started = d.start();
  await until(() => requests === 1, 'the first check to arrive');
  await timerRounds(10, 15); // fifteen intervals pass while the first check hangs
  assert.equal(requests, 1, 'a second check started while the first was in flight');
  await started;
  assert.equal(state(d, `127.0.0.1:${port}`), 'unhealthy', 'the timed-out check failed');
  await until(() => requests >= 2, 'the next check after the timeout');
});

function makeCertificates(dir: string): void {
  const run = (args: string[]): void => void execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
  run(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '1', '-subj', '/CN=qproxy test CA']);
  run(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'leaf.key', '-out', 'leaf.csr', '-subj', '/CN=svc.test']);
  run(['x509', '-req', '-in', 'leaf.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'leaf.pem', '-days', '1', '-extfile', 'san.cnf']);
}

test('HTTPS check: uses TLS with the given CA and SNI; an untrusted certificate fails the check', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'qproxy-discovery-tls-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'san.cnf'), 'subjectAltName=DNS:svc.test,DNS:localhost,IP:127.0.0.1\n');
  makeCertificates(dir);
  const [ca, key, cert] = await Promise.all(['ca.pem', 'leaf.key', 'leaf.pem'].map((f) => readFile(join(dir, f))));
  const b: HttpBackend = { port: 0, status: 200, served: new Map(), paths: new Set(), hosts: new Set() };
  const server = createHttpsServer({ key, cert }, handler(b));
  const sni = new Set<string>();
  server.on('secureConnection', (s: TLSSocket) => sni.add(String(s.servername)));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  b.port = (server.address() as { port: number }).port;
  const target = parseHttpTarget(`https://svc.test:${b.port}`);
  const key_ = `127.0.0.1:${b.port}`;
  const hc = (tls: HealthCheckOptions['tls']): HealthCheckOptions => ({ kind: 'http', path: '/ready', intervalMs: 60_000, timeoutMs: 5000, rise: 1, fall: 1, tls });

  const trusted = discovery(t, [target], hc({ ca, rejectUnauthorized: true }), { lookup: lookupLoopback });
  await trusted.start();
  assert.equal(state(trusted, key_), 'healthy');
  assert.deepEqual([...sni], ['svc.test'], 'SNI is the target host name');
  assert.deepEqual([...b.paths], ['/ready']);

  const untrusted = discovery(t, [target], hc({ rejectUnauthorized: true }), { lookup: lookupLoopback });
  await untrusted.start();
  assert.equal(state(untrusted, key_), 'unhealthy', 'a certificate from an unknown CA must fail the check');
  assert.equal(b.served.get(200), 1, 'the untrusted check never reached HTTP');
});

test('panic mode with active checks: every endpoint unhealthy, pick() still answers', async (t) => {
  const one = await tcpServer(t);
  const two = await tcpServer(t);
  const keys = [one, two].map((s) => `127.0.0.1:${s.port}`);
  const log = recorder();
  const d = discovery(t, keys.map(parseTcpTarget), { ...tcpCheck, fall: 1 }, { logger: log.logger });
  await d.start();
  assert.equal(d.panic, false);
  await one.stop();
  await two.stop();
  await until(() => keys.every((k) => state(d, k) === 'unhealthy'), 'both endpoints unhealthy');
  assert.equal(d.panic, true);
  assert.equal(d.snapshot().panic, true);
  assert.deepEqual(new Set([d.pick()?.key, d.pick()?.key]), new Set(keys));
  assert.ok(log.entries.some((e) => e.level === 'warn' && e.msg.includes('panic mode')));

  await tcpServer(t, two.port);
  await until(() => state(d, keys[1] ?? '') === 'healthy', 'the second server back');
  assert.equal(d.panic, false);
  for (let i = 0; i < 4; i++) assert.equal(d.pick()?.key, keys[1]);
  assert.ok(log.entries.some((e) => e.level === 'info' && e.msg.includes('panic mode over')));
});
