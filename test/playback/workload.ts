/**
 * A varied workload recorded through the real HTTP proxy (HttpProxyServer → HttpRecorder with
 * redaction → Store): GET and POST, JSON, gzip and binary bodies, several status codes, a query,
 * a credential that gets redacted. The same service answers the replays, optionally with one
 * field and one status changed.
 */
import { request } from 'node:http';
import type { TestContext } from 'node:test';
import { gzipSync } from 'node:zlib';
import { pino } from 'pino';
import { Discovery, parseHttpTarget } from '../../src/discovery/index.js';
import { HttpProxyServer } from '../../src/proxy/http/index.js';
import type { HttpProxyObserver } from '../../src/proxy/http/observer.js';
import { HttpRecorder } from '../../src/recording/recorder.js';
import { Redactor } from '../../src/recording/redaction.js';
import type { Store } from '../../src/store/index.js';
import { defer, json, startBackend, type Backend } from './helpers.js';

export const BINARY = Buffer.from(Array.from({ length: 2048 }, (_, i) => (i * 7) % 256));
const REPORT = JSON.stringify({ rows: Array.from({ length: 40 }, (_, i) => ({ n: i, sq: i * i })) });

export interface ServiceOptions {
  /** The token the service accepts (zone A: production's, zone B: a test token). */
  token: string;
  /** Zone B' : /api/items/2 gets another price and /api/missing another status. */
  changed?: boolean;
}

/** Starts the service on 127.0.0.1:0. */
export function startService(t: TestContext, o: ServiceOptions): Promise<Backend> {
  let n = 0;
  return startBackend(t, (req, body, res) => {
    n++;
    // Volatile headers every real service sends: they must not count by default.
    res.setHeader('x-request-id', `req-${n}-${Math.random()}`);
    const url = req.url ?? '';
    if (req.method === 'GET' && url === '/api/items/1') return json(res, 200, { id: 1, name: 'cup', price: 10, tags: ['a', 'b'] });
    if (req.method === 'GET' && url === '/api/items/2') return json(res, 200, { id: 2, name: 'pot', price: o.changed ? 11 : 12 });
    if (req.method === 'POST' && url === '/api/orders') {
      const order = JSON.parse(body.toString('utf8')) as { item: number; qty: number };
      return json(res, 201, { order, total: order.qty * 10 });
    }
    if (req.method === 'GET' && url === '/files/logo.bin') {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      return void res.end(BINARY);
    }
    if (req.method === 'GET' && url === '/api/report') {
      res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' });
      return void res.end(gzipSync(REPORT));
    }
    if (req.method === 'GET' && url === '/api/missing') return json(res, o.changed ? 500 : 404, { error: 'not found' });
    if (req.method === 'DELETE' && url === '/api/items/3') {
      res.writeHead(204);
      return void res.end();
    }
    if (req.method === 'GET' && url.startsWith('/api/search?')) {
      const q = new URLSearchParams(url.slice(url.indexOf('?') + 1));
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
      return void res.end(`results for ${q.get('q')} page ${q.get('page')}`);
    }
    if (req.method === 'GET' && url === '/api/me') {
      if (req.headers.authorization !== `Bearer ${o.token}`) return json(res, 401, { error: 'bad token' });
      return json(res, 200, { user: 'ann' }, { 'set-cookie': `sid=${Math.random()}; Path=/` });
    }
    return json(res, 404, { error: `no route ${req.method} ${url}` });
  });
}

/** The requests of the workload (method, path, headers, body). */
export const WORKLOAD: Array<{ method: string; path: string; headers?: Record<string, string>; body?: string }> = [
  { method: 'GET', path: '/api/items/1' },
  { method: 'GET', path: '/api/items/2' },
  { method: 'POST', path: '/api/orders', headers: { 'content-type': 'application/json' }, body: '{"item":1,"qty":3}' },
  { method: 'GET', path: '/files/logo.bin' },
  { method: 'GET', path: '/api/report', headers: { 'accept-encoding': 'gzip' } },
  { method: 'GET', path: '/api/missing' },
  { method: 'DELETE', path: '/api/items/3' },
  { method: 'GET', path: '/api/search?q=tea&page=2' },
  { method: 'GET', path: '/api/me', headers: { authorization: 'Bearer prod-secret' } },
];

function send(port: number, r: (typeof WORKLOAD)[number]): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method: r.method, path: r.path, headers: r.headers ?? {} }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end(r.body);
  });
}

const silentObserver: HttpProxyObserver = { exchange() {}, rejected() {}, upgrade() {}, retry() {} };

/** Sends the workload through a real recording proxy in front of `backend` and waits until it is stored. */
export async function recordWorkload(t: TestContext, store: Store, backend: Backend): Promise<void> {
  const recorder = new HttpRecorder({
    enabled: true,
    nodeId: 'az-a-1',
    maxBody: 1024 * 1024,
    redactor: new Redactor({ enabled: true, key: 'k'.repeat(32), headers: [], queryParams: [], jsonPaths: [], bodyPatterns: [], replaceDefaults: false }),
    sink: store,
  });
  const discovery = new Discovery({
    targets: [parseHttpTarget(backend.origin)],
    policy: 'round_robin',
    resolveIntervalMs: 0,
    healthCheck: null,
    passive: { consecutiveFailures: 5, baseEjectionMs: 30_000, maxEjectionMs: 300_000 },
  });
  await discovery.start();
  defer(t, () => discovery.close());
  const proxy = new HttpProxyServer({
    host: '127.0.0.1',
    port: 0,
    downstreams: discovery,
    downstreamTls: { rejectUnauthorized: true },
    trustedProxies: [],
    limits: { maxHeaderSize: 16 * 1024, maxHeadersCount: 100, maxBodySize: 0, maxConnections: 0 },
    timeouts: { headerReadMs: 5_000, requestMs: 30_000, idleMs: 5_000, downstreamConnectMs: 2_000, downstreamResponseMs: 10_000, downstreamIdleMs: 10_000 },
    recorder,
    observer: silentObserver,
    logger: pino({ level: 'silent' }),
  });
  const { port } = await proxy.listen();
  defer(t, () => proxy.close(1_000));
  for (const r of WORKLOAD) await send(port, r);
  await proxy.close(1_000);
  await store.flush();
}
