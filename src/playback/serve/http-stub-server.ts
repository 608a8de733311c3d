/**
 * @module The serving HTTP listener of a Playback node: it answers each request with a recorded
 * answer (SPEC §6 "serve"), found through the StubIndex. A miss gets 404 with a JSON body naming
 * the closest recording, or (forward_on_miss) the downstream's answer, which is recorded.
 *
 * As a forward proxy (`forward` option) it is what an application in zone B reaches through
 * HTTPS_PROXY: absolute-form requests and the decrypted requests of intercepted CONNECTs are
 * matched on origin and path against forward-proxy recordings.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createH2Server, type Http2Server, type ServerHttp2Session } from 'node:http2';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { errorMessage } from '../../core/errors.js';
import type { Logger } from '../../core/log.js';
import { httpServerTimeouts } from '../../net/http-server-timeouts.js';
import type { HeaderLine, HttpRecord } from '../../recording/model.js';
import type { PlaybackObserver } from '../observer.js';
import type { PlaybackStore } from '../source/store-port.js';
import type { Forwarder } from './forwarder.js';
import { HOP_BY_HOP } from './forwarder.js';
import type { MatchRules, RequestParts } from './request-key.js';
import { StoreFollower } from './stub-feed.js';
import { StubIndex, type Closest } from './stub-index.js';
import { WsStub } from './ws-stub.js';
import { originPathOf } from '../../core/path-glob.js';

/** Serving as a forward proxy: who may, and where CONNECTs go (the forward proxy's handler). */
export interface StubForwardOptions {
  /** Takes CONNECT requests (interception hands the decrypted socket back through `accept`). */
  onConnect: (req: IncomingMessage, socket: Duplex, head: Buffer) => void;
  /** Access rules for absolute-form requests: null when allowed, else the answer. */
  check: (clientAddress: string, rawHeaders: readonly string[]) => { status: number; message: string; code: string; headers: readonly string[] } | null;
  /** Stops CONNECT handling (pending handshakes end). */
  close: () => void;
}

/** The CONNECT origin of an intercepted socket (read through the HTTP/2 compat socket proxy too). */
const kOrigin = Symbol('qproxy.stubOrigin');
type OriginCarrier = { [kOrigin]?: string };

export interface HttpStubOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  tls?: { cert: string | Buffer; key: string | Buffer; ca?: string | Buffer };
  store: Pick<PlaybackStore, 'get' | 'readAfter'>;
  match: MatchRules;
  limits: { maxHeaderSize: number; maxBodyBytes: number; maxConnections: number };
  timeouts: { headerReadMs: number; requestMs: number; idleMs: number };
  /** Forward-on-miss, or null for 404. */
  forwarder: Forwarder | null;
  /** Serve as a forward proxy (plain listener; `tls` is not used then). */
  forward?: StubForwardOptions;
  observer: PlaybackObserver;
  logger: Pick<Logger, 'info' | 'warn'>;
  /** How often new recordings are picked up from the store. */
  pollMs: number;
}

export interface StubStatus {
  recordings: number;
  hits: number;
  misses: number;
  forwarded: number;
}

function flat(lines: readonly HeaderLine[], extra: Array<[string, string]>): string[] {
  const out: string[] = [];
  for (const [name, value] of lines) if (!name.startsWith(':') && !HOP_BY_HOP.has(name.toLowerCase())) out.push(name, value);
  for (const [name, value] of extra) out.push(name, value);
  return out;
}

function pairs(raw: readonly string[]): HeaderLine[] {
  const out: HeaderLine[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) out.push([raw[i]!, raw[i + 1]!]);
  return out;
}

export class HttpStubServer {
  readonly index: StubIndex;
  private readonly server: Server;
  private h2: Http2Server | null = null;
  private readonly sessions = new Set<ServerHttp2Session>();
  private readonly follower: StoreFollower;
  private readonly counts = { hits: 0, misses: 0, forwarded: 0 };
  private closing: Promise<void> | null = null;

  constructor(private readonly o: HttpStubOptions) {
    this.index = new StubIndex(
      o.match,
      (id) => {
        const r = o.store.get(id);
        return r?.protocol === 'http' ? r : null;
      },
      o.forward !== undefined ? originPathOf : undefined,
    );
    this.ws = new WsStub(o.limits.maxBodyBytes);
    this.follower = new StoreFollower(o.store, (r) => r.protocol === 'http' && this.index.add(r), o.pollMs, o.logger);
    const handler = (req: IncomingMessage, res: ServerResponse): void => {
      this.handle(req, res).catch((err: unknown) => {
        this.o.logger.warn({ err: errorMessage(err) }, 'serving a recorded answer failed');
        if (!res.headersSent) this.reply(res, 500, { error: `serving failed: ${errorMessage(err)}`, code: 'QP_ERR_SERVE_INTERNAL' });
        else res.socket?.destroy();
      });
    };
    const deadlines = httpServerTimeouts(o.timeouts.headerReadMs, o.timeouts.requestMs);
    const common = { maxHeaderSize: o.limits.maxHeaderSize, ...deadlines, keepAliveTimeout: o.timeouts.idleMs };
    this.server = o.tls && o.forward === undefined
      ? createHttpsServer(
          {
            ...common,
            cert: o.tls.cert,
            key: o.tls.key,
            ...(o.tls.ca !== undefined && { ca: o.tls.ca, requestCert: true }),
            // The head deadline starts once the handshake is done; the handshake gets the same time (Node's default: 120 s).
            handshakeTimeout: deadlines.headersTimeout,
          },
          handler,
        )
      : createServer(common, handler);
    if (o.limits.maxConnections > 0) this.server.maxConnections = o.limits.maxConnections;
    if (o.forward !== undefined) this.server.on('connect', o.forward.onConnect);
    else this.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => this.upgrade(req, socket, head));
    this.handler = handler;
  }

  private readonly handler: (req: IncomingMessage, res: ServerResponse) => void;
  private readonly ws: WsStub;

  /** An intercepted CONNECT's socket (forward mode): TLS served over HTTP/2 or HTTP/1.1 by ALPN, or plain HTTP/1.x. */
  accept(socket: Socket | TLSSocket, info: { proto: 'http' | 'https'; connect?: { host: string; port: number } }): void {
    if (info.connect !== undefined) (socket as Socket & OriginCarrier)[kOrigin] = `${info.proto}://${info.connect.host.includes(':') ? `[${info.connect.host}]` : info.connect.host}:${info.connect.port}`;
    if ((socket as Partial<TLSSocket>).alpnProtocol === 'h2') (this.h2 ??= this.createH2()).emit('connection', socket);
    else this.server.emit('connection', socket);
  }

  private createH2(): Http2Server {
    const server = createH2Server({ settings: { maxConcurrentStreams: 100 } });
    server.setTimeout(this.o.timeouts.idleMs);
    server.on('timeout', (session: ServerHttp2Session) => session.close());
    server.on('session', (session: ServerHttp2Session) => {
      this.sessions.add(session);
      session.once('close', () => this.sessions.delete(session));
      session.on('error', () => session.destroy());
    });
    // The compat request and response carry what the handler reads and writes (HTTP/1 shapes).
    server.on('request', this.handler as unknown as (...args: unknown[]) => void);
    return server;
  }

  /** Indexes every stored recording, then listens. */
  async listen(): Promise<AddressInfo> {
    const address = await this.follower.startServing(this.server, this.o.host, this.o.port, 'http');
    this.o.logger.info({ address: address.address, port: address.port, recordings: this.index.size }, 'serving recorded HTTP answers');
    return address;
  }

  status(): StubStatus {
    return { recordings: this.index.size, ...this.counts };
  }

  /** Picks up recordings stored since the last poll (forwarded misses, sync). */
  refresh(): void {
    this.follower.catchUp();
  }

  /** Stops accepting; requests being answered get until the deadline. Idempotent. */
  close(deadlineMs: number): Promise<void> {
    this.closing ??= (async () => {
      this.follower.stop();
      this.o.forward?.close();
      this.ws.close();
      for (const session of this.sessions) session.close();
      if (!this.server.listening) return;
      const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
      this.server.closeIdleConnections();
      const force = setTimeout(() => this.server.closeAllConnections(), Math.max(0, deadlineMs));
      force.unref();
      await closed;
      clearTimeout(force);
      for (const session of this.sessions) session.destroy();
      await this.o.forwarder?.close();
    })();
    return this.closing;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = this.targetOf(req, res);
    if (url === null) return;
    const body = await this.readBody(req, res);
    if (body === null) return;
    const parts: RequestParts = { method: req.method ?? 'GET', url, headers: pairs(req.rawHeaders), body };
    for (let attempt = 0; attempt < 3; attempt++) {
      const found = this.index.lookup(parts);
      if ('miss' in found) return this.miss(req, res, parts, found.miss);
      const record = this.o.store.get(found.hit.id);
      if (record?.protocol !== 'http') {
        this.index.forget(found.hit.id); // deleted or purged since it was indexed
        continue;
      }
      this.counts.hits++;
      this.o.observer.served('http', 'hit');
      return this.answer(req, res, record);
    }
    return this.miss(req, res, parts, null);
  }

  /**
   * A WebSocket handshake: answered with the recorded connection that matches it (a record with
   * WebSocket messages), else refused with the JSON 404 a request would get.
   */
  private upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => socket.destroy());
    const parts: RequestParts = { method: req.method ?? 'GET', url: req.url ?? '/', headers: pairs(req.rawHeaders), body: Buffer.alloc(0) };
    const found = req.headers.upgrade?.toLowerCase() === 'websocket' ? this.index.lookup(parts) : { miss: null };
    const record = 'hit' in found ? this.o.store.get(found.hit.id) : null;
    if (record?.protocol !== 'http' || record.websocket === undefined || record.status !== 101) {
      this.counts.misses++;
      this.o.observer.served('http', 'miss');
      const body = JSON.stringify({ error: `no recorded WebSocket connection matched ${parts.method} ${parts.url}`, code: 'QP_ERR_SERVE_NO_MATCH' });
      socket.end(`HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
      return;
    }
    this.counts.hits++;
    this.o.observer.served('http', 'hit');
    this.ws.accept(req, socket, head, record);
  }

  /**
   * The target as matched: the request target, or (forward proxy) the absolute URL — inside an
   * intercepted CONNECT the CONNECT origin plus the path. Null after answering a refusal.
   */
  private targetOf(req: IncomingMessage, res: ServerResponse): string | null {
    const target = req.url ?? '/';
    const fwd = this.o.forward;
    if (fwd === undefined) return target;
    const origin = (req.socket as (typeof req.socket & OriginCarrier) | undefined)?.[kOrigin];
    if (origin !== undefined) return target.startsWith('/') ? `${origin}${target}` : target;
    const denied = fwd.check(req.socket?.remoteAddress ?? '', req.rawHeaders);
    if (denied !== null) {
      this.reply(res, denied.status, { error: denied.message, code: denied.code }, false, denied.headers);
      return null;
    }
    if (target.startsWith('/')) {
      this.reply(res, 403, { error: 'this is a forward proxy: send absolute-form requests (GET http://host/path) or CONNECT host:port', code: 'QP_ERR_FORWARD_DENIED' });
      return null;
    }
    return target;
  }

  private answer(req: IncomingMessage, res: ServerResponse, r: HttpRecord): void {
    const tag: Array<[string, string]> = [['x-qproxy-record-id', r.id]];
    if (r.response === null) {
      const error = r.error ? `${r.error.code}: ${r.error.message}` : 'no response was recorded';
      this.reply(res, r.status ?? 502, { error: `the recorded exchange failed (${error})`, code: 'QP_ERR_SERVE_RECORDED_FAILURE', record: r.id });
      return;
    }
    const data = r.response.body.data;
    if (r.response.body.truncated) tag.push(['x-qproxy-truncated', `${data.length}/${r.response.body.size}`]);
    const headers = flat(r.response.headers, [...tag, ['content-length', String(req.method === 'HEAD' ? r.response.body.size : data.length)]]);
    res.writeHead(r.response.status, headers);
    res.end(req.method === 'HEAD' ? undefined : data);
  }

  private async miss(req: IncomingMessage, res: ServerResponse, parts: RequestParts, closest: Closest | null): Promise<void> {
    if (this.o.forwarder) {
      try {
        const client = { address: req.socket.remoteAddress ?? '', port: req.socket.remotePort ?? 0 };
        const out = await this.o.forwarder.forward(parts, client, req.httpVersion);
        this.counts.forwarded++;
        this.o.observer.served('http', 'forwarded');
        res.writeHead(out.status, flat(out.headers, [['content-length', String(out.body.length)]]));
        res.end(req.method === 'HEAD' ? undefined : out.body);
        return;
      } catch (err) {
        this.counts.misses++;
        this.o.observer.served('http', 'miss');
        this.reply(res, 502, { error: `no recording matched and forwarding to the downstream failed: ${errorMessage(err)}`, code: 'QP_ERR_SERVE_FORWARD' });
        return;
      }
    }
    this.counts.misses++;
    this.o.observer.served('http', 'miss');
    this.reply(res, 404, {
      error: `no recording matched ${parts.method} ${parts.url}`,
      code: 'QP_ERR_SERVE_NO_MATCH',
      closest: closest && {
        id: closest.entry.id,
        method: closest.entry.method,
        url: closest.entry.url,
        differs: closest.differs,
      },
    });
  }

  /** The whole body, or null after answering 413 (too large to match) or when the client went away. */
  private async readBody(req: IncomingMessage, res: ServerResponse): Promise<Buffer | null> {
    const chunks: Buffer[] = [];
    let size = 0;
    try {
      for await (const chunk of req) {
        size += (chunk as Buffer).length;
        if (size > this.o.limits.maxBodyBytes) {
          this.reply(res, 413, { error: `request body is larger than ${this.o.limits.maxBodyBytes} bytes, the most serving matches`, code: 'QP_ERR_SERVE_BODY_TOO_LARGE' }, true);
          return null;
        }
        chunks.push(chunk as Buffer);
      }
    } catch {
      return null;
    }
    return Buffer.concat(chunks);
  }

  private reply(res: ServerResponse, status: number, body: object, close = false, extra: readonly string[] = []): void {
    const text = JSON.stringify(body);
    const head: Record<string, string> = {
      'content-type': 'application/json; charset=utf-8',
      'content-length': String(Buffer.byteLength(text)),
      'cache-control': 'no-store',
      // HTTP/2 has no Connection field (RFC 9113 §8.2.2).
      ...(close && req2(res) === false && { connection: 'close' }),
    };
    for (let i = 0; i + 1 < extra.length; i += 2) head[extra[i]!.toLowerCase()] = extra[i + 1]!;
    res.writeHead(status, head);
    res.end(text);
  }
}

/** Whether a response goes out over HTTP/2 (the compat response has a `stream`). */
function req2(res: ServerResponse): boolean {
  return (res as ServerResponse & { stream?: unknown }).stream !== undefined;
}
