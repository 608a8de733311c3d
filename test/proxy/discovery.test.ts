/**
 * The HTTP proxy over the discovery component, against real backends on loopback: balancing,
 * retry on connect-time failures (and never after a request byte was sent), passive ejection and
 * re-admission, HTTP health checks, Host and TLS names when the target is a host name, WebSocket
 * upgrades, and pools of endpoints that left DNS.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { lookup as dnsLookup } from 'node:dns/promises';
import { once } from 'node:events';
import { createServer as createHttpServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { describe, it, type TestContext } from 'node:test';
import { pino } from 'pino';
import { WebSocket } from 'ws';
import { Discovery } from '../../src/discovery/index.js';
import type { DiscoveryOptions, Lookup } from '../../src/discovery/index.js';
import { Metrics } from '../../src/metrics/metrics.js';
import { HttpProxyServer } from '../../src/proxy/http/index.js';
import { startWsEchoBackend } from '../helpers/backend.js';
import type { WsBackend } from '../helpers/backend.js';
import { makeTestPki } from '../helpers/tls.js';
import type { CertPair } from '../helpers/tls.js';
import { CollectingRecorder, rawExchange, send, startDiscovery, startProxy, waitFor } from './harness.js';
import type { ProxyHarness } from './harness.js';

/** What one backend saw of one request. */
interface Seen {
  method: string;
  path: string;
  host: string | undefined;
  /** SNI of the TLS connection the request came on (TLS backends). */
  servername: string | null;
  body: Buffer;
}

type Route = (req: IncomingMessage, res: ServerResponse, body: Buffer) => boolean;

interface BackendOptions {
  host?: string;
  port?: number;
  tls?: CertPair;
  /** Default false: every answer closes its connection, so a stopped backend refuses at once. */
  keepAlive?: boolean;
  route?: Route;
}

/**
 * A named HTTP(S) backend. `/healthz` answers `health`; `/hold` waits for `releaseHeld()`;
 * `route` may take a request first; anything else gets `{"backend": name}`.
 */
class Backend {
  readonly seen: Seen[] = [];
  health = 200;
  port = 0;
  /** TCP connections accepted so far. */
  accepted = 0;
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();
  private readonly held: ServerResponse[] = [];

  constructor(
    readonly name: string,
    private readonly opts: BackendOptions,
  ) {
    this.port = opts.port ?? 0;
  }

  get host(): string {
    return this.opts.host ?? '127.0.0.1';
  }

  get origin(): string {
    return `${this.opts.tls ? 'https' : 'http'}://${this.host}:${this.port}`;
  }

  /** Requests other than health checks. */
  get traffic(): Seen[] {
    return this.seen.filter((s) => s.path !== '/healthz');
  }

  get openSockets(): number {
    return this.sockets.size;
  }

  async start(): Promise<this> {
    const server = this.opts.tls ? createHttpsServer({ cert: this.opts.tls.cert, key: this.opts.tls.key }) : createHttpServer();
    server.on('connection', (s: Socket) => {
      this.accepted++;
      this.sockets.add(s);
      s.once('close', () => this.sockets.delete(s));
    });
    server.on('request', (req: IncomingMessage, res: ServerResponse) => this.handle(req, res));
    // Idle keep-alive connections stay until a client closes them (the pool tests watch for that).
    server.keepAliveTimeout = 60_000;
    server.listen(this.port, this.host);
    await once(server, 'listening');
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
    return this;
  }

  /** Stops listening and drops every connection: new connects are refused. */
  async stop(): Promise<void> {
    const server = this.server;
    if (server === null) return;
    this.server = null;
    for (const res of this.held.splice(0)) res.destroy();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  releaseHeld(): void {
    for (const res of this.held.splice(0)) this.reply(res);
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const sni = (req.socket as TLSSocket & { servername?: string | false }).servername;
      const path = req.url ?? '';
      this.seen.push({ method: req.method ?? '', path, host: req.headers.host, servername: typeof sni === 'string' ? sni : null, body });
      if (this.opts.route?.(req, res, body)) return;
      if (path === '/healthz') {
        res.writeHead(this.health, { 'Content-Length': 0, Connection: 'close' });
        res.end();
      } else if (path === '/hold') {
        this.held.push(res);
      } else {
        this.reply(res);
      }
    });
  }

  private reply(res: ServerResponse): void {
    const json = JSON.stringify({ backend: this.name });
    const head: Record<string, string | number> = { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(json) };
    if (!this.opts.keepAlive) head['Connection'] = 'close';
    res.writeHead(200, head);
    res.end(json);
  }
}

async function backends(t: TestContext, names: string[], opts: BackendOptions = {}): Promise<Backend[]> {
  const list = await Promise.all(names.map((n) => new Backend(n, opts).start()));
  t.after(() => Promise.all(list.map((b) => b.stop())));
  return list;
}

/** A proxy over a Discovery of `origins`, both closed after the test. */
async function proxyOver(t: TestContext, origins: string[], extra: Partial<DiscoveryOptions> = {}, tls?: { ca: string }): Promise<{ px: ProxyHarness; discovery: Discovery }> {
  const discovery = await startDiscovery(origins, extra);
  const px = await startProxy(origins, { downstreams: discovery, ...(tls ? { downstreamTls: { ca: tls.ca, rejectUnauthorized: true } } : {}) });
  t.after(async () => {
    await px.close();
    await discovery.close();
  });
  return { px, discovery };
}

function backendOf(body: Buffer): string {
  return (JSON.parse(body.toString('utf8')) as { backend: string }).backend;
}

function rowOf(discovery: Discovery, port: number): ReturnType<Discovery['snapshot']>[number] {
  const row = discovery.snapshot().find((r) => r.endpoint.endsWith(`:${port}`));
  assert.ok(row, `an endpoint for port ${port}`);
  return row;
}

/** The system resolver, IPv4 answers only: the backends listen on 127.0.0.1. */
const ipv4Lookup: Lookup = (host) => dnsLookup(host, { all: true, family: 4 });

describe('HTTP proxy over discovery: balancing and failover', () => {
  it('spreads requests round-robin over three backends and records the endpoint used', async (t) => {
    const bs = await backends(t, ['a', 'b', 'c']);
    const { px, discovery } = await proxyOver(t, bs.map((b) => b.origin));
    const served: string[] = [];
    for (let i = 0; i < 30; i++) {
      const r = await send(px.port, { path: `/rr/${i}` });
      assert.equal(r.status, 200);
      served.push(backendOf(r.body));
    }
    for (const b of bs) assert.equal(b.traffic.length, 10, `backend ${b.name} got ${b.traffic.length} of 30`);
    assert.deepEqual(served.slice(0, 6), ['a', 'b', 'c', 'a', 'b', 'c']);
    await waitFor(() => px.recorder.drafts.length === 30, 'the drafts');
    assert.deepEqual(new Set(px.recorder.drafts.map((d) => d.downstream)), new Set(bs.map((b) => b.origin)));
    assert.equal(px.observer.retries, 0);
    assert.ok(discovery.snapshot().every((r) => r.active === 0), 'every endpoint released');
  });

  it('retries a refused connection on another endpoint, ejects the dead one, and re-admits it when it is back', async (t) => {
    const bs = await backends(t, ['a', 'b', 'c']);
    const [a, b, c] = bs as [Backend, Backend, Backend];
    let clock = Date.now();
    const { px, discovery } = await proxyOver(
      t,
      bs.map((x) => x.origin),
      { passive: { consecutiveFailures: 2, baseEjectionMs: 60_000, maxEjectionMs: 60_000 }, now: () => clock },
    );
    for (let i = 0; i < 6; i++) assert.equal((await send(px.port, { path: '/warm' })).status, 200);
    assert.equal(b.traffic.length, 2);

    await b.stop();
    for (let i = 0; i < 12; i++) {
      const r = await send(px.port, { path: `/while-down/${i}` });
      assert.equal(r.status, 200, `request ${i} still served`);
      assert.notEqual(backendOf(r.body), 'b');
    }
    // Round-robin reached b twice before it was ejected; each time the request moved on.
    assert.equal(px.observer.retries, 2);
    assert.equal(rowOf(discovery, b.port).state, 'ejected');
    assert.equal(rowOf(discovery, b.port).total_failures, 2);
    assert.equal(a.traffic.length + c.traffic.length, 4 + 12);
    await waitFor(() => px.recorder.drafts.length === 18, 'the drafts');
    const downDrafts = px.recorder.drafts.filter((d) => d.request.url.startsWith('/while-down/'));
    assert.equal(downDrafts.length, 12);
    assert.ok(downDrafts.every((d) => d.status === 200 && d.downstream !== b.origin), 'records name the endpoint that answered');

    for (let i = 0; i < 6; i++) assert.equal((await send(px.port, { path: '/ejected' })).status, 200);
    assert.equal(px.observer.retries, 2, 'an ejected endpoint is not tried');

    await b.start();
    clock += 60_001;
    for (let i = 0; i < 9; i++) assert.equal((await send(px.port, { path: `/back/${i}` })).status, 200);
    assert.equal(b.traffic.filter((s) => s.path.startsWith('/back/')).length, 3, 're-admitted into the rotation');
    assert.equal(rowOf(discovery, b.port).state, 'healthy');
    assert.equal(px.observer.retries, 2);
    assert.ok(discovery.snapshot().every((r) => r.active === 0), 'every endpoint released');
  });

  it('sends nothing to an endpoint whose HTTP health check fails, and resumes when it passes', async (t) => {
    const bs = await backends(t, ['a', 'b']);
    const [a, b] = bs as [Backend, Backend];
    b.health = 500;
    const { px, discovery } = await proxyOver(
      t,
      bs.map((x) => x.origin),
      { healthCheck: { kind: 'http', path: '/healthz', intervalMs: 50, timeoutMs: 2_000, rise: 1, fall: 1 } },
    );
    assert.equal(rowOf(discovery, b.port).state, 'unhealthy');
    assert.ok(b.seen.some((s) => s.path === '/healthz' && s.method === 'GET'), 'the check is a GET of the path');
    for (let i = 0; i < 10; i++) assert.equal(backendOf((await send(px.port, { path: `/hc/${i}` })).body), 'a');
    assert.equal(b.traffic.length, 0);
    assert.equal(a.traffic.length, 10);

    b.health = 200;
    await waitFor(() => rowOf(discovery, b.port).healthy, 'b to pass its check');
    for (let i = 0; i < 4; i++) assert.equal((await send(px.port, { path: `/hc-back/${i}` })).status, 200);
    assert.equal(b.traffic.length, 2);
  });

  it('least_connections sends new requests to the endpoint with fewer in flight', async (t) => {
    const bs = await backends(t, ['a', 'b']);
    const { px, discovery } = await proxyOver(
      t,
      bs.map((x) => x.origin),
      { policy: 'least_connections' },
    );
    const held = send(px.port, { path: '/hold' });
    await waitFor(() => bs.some((b) => b.seen.some((s) => s.path === '/hold')), 'the held request to arrive');
    const busy = bs.find((b) => b.seen.some((s) => s.path === '/hold'))!;
    const idle = bs.find((b) => b !== busy)!;
    assert.equal(rowOf(discovery, busy.port).active, 1);
    for (let i = 0; i < 6; i++) assert.equal(backendOf((await send(px.port, { path: `/lc/${i}` })).body), idle.name);
    busy.releaseHeld();
    assert.equal((await held).status, 200);
    await waitFor(() => discovery.snapshot().every((r) => r.active === 0), 'every endpoint released');
  });
});

describe('HTTP proxy over discovery: what is and is not retried', () => {
  it('retries a streamed upload refused at connect time, delivering every byte to the next endpoint', async (t) => {
    const [alive] = (await backends(t, ['alive'], { route: echoRoute })) as [Backend];
    const dead = await new Backend('dead', {}).start();
    await dead.stop();
    const { px } = await proxyOver(t, [dead.origin, alive.origin]);
    const chunks = Array.from({ length: 16 }, (_, i) => Buffer.alloc(32 * 1024, i));
    const r = await send(px.port, { method: 'POST', path: '/upload', body: asyncChunks(chunks) });
    assert.equal(r.status, 200);
    const echo = JSON.parse(r.body.toString()) as { length: number; sha256: string };
    assert.equal(echo.length, 16 * 32 * 1024);
    assert.equal(echo.sha256, createHash('sha256').update(Buffer.concat(chunks)).digest('hex'));
    assert.equal(px.observer.retries, 1);
    await waitFor(() => px.recorder.drafts.length === 1, 'the draft');
    assert.equal(px.recorder.drafts[0]!.downstream, alive.origin);
  });

  it('does not retry a POST whose body reached the downstream: 502, counted once', async (t) => {
    const resetter = await new Backend('resetter', {
      route: (req) => {
        req.socket.resetAndDestroy();
        return true;
      },
    }).start();
    t.after(() => resetter.stop());
    const [other] = (await backends(t, ['other'])) as [Backend];
    const { px, discovery } = await proxyOver(t, [resetter.origin, other.origin]);
    const r = await send(px.port, { method: 'POST', path: '/pay', body: 'amount=100' });
    assert.equal(r.status, 502);
    assert.equal((JSON.parse(r.body.toString()) as { code: string }).code, 'QP_ERR_DOWNSTREAM_RESET');
    assert.equal(resetter.seen.length, 1);
    assert.equal(resetter.seen[0]!.body.toString(), 'amount=100');
    assert.equal(other.seen.length, 0, 'the request was not sent again');
    assert.equal(px.observer.retries, 0);
    await waitFor(() => px.recorder.drafts.length === 1, 'the draft');
    assert.equal(px.observer.exchanges.length, 1);
    assert.equal(px.observer.exchanges[0]!.status, 502);
    assert.equal(px.recorder.drafts[0]!.downstream, resetter.origin);
    assert.equal(rowOf(discovery, resetter.port).total_failures, 0, 'a reset after the request is not a connect failure');
  });

  it('answers 502 after trying every endpoint when none accepts, and counts the retries in the metrics', async (t) => {
    const deadPorts: string[] = [];
    for (let i = 0; i < 2; i++) {
      const d = await new Backend('dead', {}).start();
      await d.stop();
      deadPorts.push(d.origin);
    }
    const discovery = await startDiscovery(deadPorts);
    const metrics = new Metrics({ collectDefault: false });
    const proxy = new HttpProxyServer({
      host: '127.0.0.1',
      port: 0,
      downstreams: discovery,
      downstreamTls: { rejectUnauthorized: true },
      trustedProxies: [],
      limits: { maxHeaderSize: 16 * 1024, maxHeadersCount: 100, maxBodySize: 0, maxConnections: 0 },
      timeouts: { headerReadMs: 5_000, requestMs: 30_000, idleMs: 5_000, downstreamConnectMs: 2_000, downstreamResponseMs: 10_000, downstreamIdleMs: 10_000 },
      recorder: new CollectingRecorder(false),
      observer: metrics.http,
      logger: pino({ level: 'silent' }),
    });
    const { port } = await proxy.listen();
    t.after(async () => {
      await proxy.close(1_000);
      await discovery.close();
    });
    const r = await send(port, { path: '/nowhere' });
    assert.equal(r.status, 502);
    assert.equal((JSON.parse(r.body.toString()) as { code: string }).code, 'QP_ERR_DOWNSTREAM_CONNECT');
    assert.ok(discovery.snapshot().every((row) => row.total_failures === 1 && row.active === 0), 'each endpoint tried once and released');
    assert.match(await metrics.registry.metrics(), /^qproxy_downstream_retries_total\{protocol="http"\} 1$/m);
  });
});

describe('HTTP proxy over discovery: host names', () => {
  it('keeps the client Host, and names the target host (not the address) when the client sent none', async (t) => {
    const [a] = (await backends(t, ['a'])) as [Backend];
    const target = `http://localhost:${a.port}`;
    const { px } = await proxyOver(t, [target], { lookup: ipv4Lookup });
    const r = await send(px.port, { path: '/named', headers: { Host: 'api.example.test' } });
    assert.equal(r.status, 200);
    assert.equal(a.seen.at(-1)!.host, 'api.example.test');

    const raw = (await rawExchange(px.port, 'GET /http10 HTTP/1.0\r\n\r\n')).toString('latin1');
    assert.match(raw, /^HTTP\/1\.1 200 /);
    assert.equal(a.seen.at(-1)!.path, '/http10');
    assert.equal(a.seen.at(-1)!.host, `localhost:${a.port}`);

    await waitFor(() => px.recorder.drafts.length === 2, 'the drafts');
    assert.equal(px.recorder.drafts[0]!.downstream, `http://127.0.0.1:${a.port}`);
  });

  describe('https targets', () => {
    it('sends the target host name as SNI and verifies the certificate against it', async (t) => {
      const pki = await makeTestPki();
      t.after(() => pki.cleanup());
      const [s] = (await backends(t, ['secure'], { tls: pki.server })) as [Backend];
      const { px } = await proxyOver(t, [`https://localhost:${s.port}`], { lookup: ipv4Lookup }, { ca: pki.ca });
      const r = await send(px.port, { path: '/tls', headers: { Host: 'front.example.test' } });
      assert.equal(r.status, 200);
      assert.equal(s.seen.at(-1)!.servername, 'localhost', 'SNI is the target host, not the client Host');
      assert.equal(s.seen.at(-1)!.host, 'front.example.test');
      await waitFor(() => px.recorder.drafts.length === 1, 'the draft');
      assert.equal(px.recorder.drafts[0]!.downstream, `https://127.0.0.1:${s.port}`);

      // A name the certificate does not carry fails verification, although the address would pass.
      const anyName: Lookup = () => Promise.resolve([{ address: '127.0.0.1', family: 4 }]);
      const wrong = await proxyOver(t, [`https://qproxy-other.test:${s.port}`], { lookup: anyName }, { ca: pki.ca });
      const bad = await send(wrong.px.port, { path: '/wrong-name' });
      assert.equal(bad.status, 502);
      assert.equal((JSON.parse(bad.body.toString()) as { code: string }).code, 'QP_ERR_DOWNSTREAM_CONNECT');
      await waitFor(() => wrong.px.recorder.drafts.length === 1, 'the draft');
      assert.match(wrong.px.recorder.drafts[0]!.error!.message, /qproxy-other\.test|altname/i);
    });

    it('sends no SNI to an IP target and verifies the certificate against the address', async (t) => {
      const pki = await makeTestPki();
      t.after(() => pki.cleanup());
      const [s] = (await backends(t, ['secure'], { tls: pki.server, keepAlive: true })) as [Backend];
      const { px } = await proxyOver(t, [s.origin], {}, { ca: pki.ca });
      for (const host of ['one.example.test', 'two.example.test', 'one.example.test']) {
        const r = await send(px.port, { path: '/ip', headers: { Host: host } });
        assert.equal(r.status, 200);
        assert.equal(s.seen.at(-1)!.servername, null, 'no SNI for an IP address (RFC 6066 §3), whatever the client Host');
      }
      assert.equal(s.accepted, 1, 'one pooled connection serves every client Host');
    });

    it('moves a request on when the TLS handshake fails, before anything was sent', async (t) => {
      const pki = await makeTestPki();
      t.after(() => pki.cleanup());
      const [plain] = (await backends(t, ['plain'])) as [Backend];
      const [s] = (await backends(t, ['secure'], { tls: pki.server })) as [Backend];
      const { px } = await proxyOver(t, [`https://localhost:${plain.port}`, `https://localhost:${s.port}`], { lookup: ipv4Lookup }, { ca: pki.ca });
      for (let i = 0; i < 4; i++) assert.equal(backendOf((await send(px.port, { path: `/hs/${i}` })).body), 'secure');
      assert.equal(plain.seen.length, 0);
      // The retry's pick advances round-robin too, so every request met the plain endpoint first.
      assert.equal(px.observer.retries, 4);
    });
  });
});

describe('HTTP proxy over discovery: WebSocket and retired endpoints', () => {
  it('balances WebSocket upgrades and retries a refused handshake elsewhere', async (t) => {
    const ws: WsBackend[] = [await startWsEchoBackend(), await startWsEchoBackend()];
    t.after(() => Promise.all(ws.map((w) => w.close())));
    const dead = await new Backend('dead', {}).start();
    await dead.stop();
    const { px, discovery } = await proxyOver(t, [dead.origin, ...ws.map((w) => w.origin)]);
    for (let i = 0; i < 4; i++) {
      const client = new WebSocket(`ws://127.0.0.1:${px.port}/ws/${i}`);
      await once(client, 'open');
      client.send(`hello ${i}`);
      const [data] = (await once(client, 'message')) as [Buffer];
      assert.equal(data.toString(), `hello ${i}`);
      client.close();
      await once(client, 'close');
    }
    assert.ok(ws.every((w) => w.handshakes.length > 0), 'both WebSocket backends got upgrades');
    assert.equal(ws[0]!.handshakes.length + ws[1]!.handshakes.length, 4);
    assert.ok(px.observer.retries >= 1, 'the refused endpoint was skipped');
    await waitFor(() => px.recorder.drafts.length === 4, 'the handshake drafts');
    assert.ok(px.recorder.drafts.every((d) => d.status === 101 && d.downstream !== dead.origin));
    await waitFor(() => discovery.snapshot().every((r) => r.active === 0), 'every tunnel released its endpoint');
  });

  it('closes the pool of an endpoint that left DNS once it is idle', async (t) => {
    const first = new Backend('first', { keepAlive: true });
    await first.start();
    t.after(() => first.stop());
    const second = new Backend('second', { host: '127.0.0.2', port: first.port, keepAlive: true });
    try {
      await second.start();
    } catch (err) {
      t.skip(`cannot listen on 127.0.0.2:${first.port} (${(err as Error).message})`);
      return;
    }
    t.after(() => second.stop());
    let addresses = ['127.0.0.1', '127.0.0.2'];
    const lookup: Lookup = () => Promise.resolve(addresses.map((address) => ({ address, family: 4 })));
    const discovery = await startDiscovery([`http://svc.test:${first.port}`], { lookup, resolveIntervalMs: 30 });
    const px = await startProxy([], { downstreams: discovery, poolSweepMs: 30 });
    t.after(async () => {
      await px.close();
      await discovery.close();
    });
    for (let i = 0; i < 4; i++) assert.equal((await send(px.port, { path: `/two/${i}` })).status, 200);
    assert.equal(second.traffic.length, 2);
    assert.equal(second.openSockets, 1, 'a pooled keep-alive connection to the second address');

    addresses = ['127.0.0.1'];
    await waitFor(() => discovery.snapshot().length === 1, 'the second address to leave');
    await waitFor(() => second.openSockets === 0, 'the retired pool to close its connection');
    for (let i = 0; i < 3; i++) assert.equal(backendOf((await send(px.port, { path: `/one/${i}` })).body), 'first');
    assert.equal(first.openSockets, 1, 'the remaining pool keeps its connection');
  });
});

/** Answers with the length and sha256 of the request body. */
const echoRoute: Route = (_req, res, body) => {
  const json = JSON.stringify({ length: body.length, sha256: createHash('sha256').update(body).digest('hex') });
  res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(json), Connection: 'close' });
  res.end(json);
  return true;
};

async function* asyncChunks(chunks: Buffer[]): AsyncIterable<Buffer> {
  for (const c of chunks) {
    yield c;
    await new Promise((r) => setImmediate(r));
  }
}
