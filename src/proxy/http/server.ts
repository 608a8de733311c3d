import { createServer as createHttpServer } from 'node:http';
import type { IncomingMessage, Server as HttpServer, ServerResponse } from 'node:http';
import { createServer as createH2Server } from 'node:http2';
import type { Http2Server, Http2ServerRequest, Http2ServerResponse, ServerHttp2Session } from 'node:http2';
import type { AddressInfo, BlockList, Server as NetServer, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { createServer as createTlsServer } from 'node:tls';
import type { Server as TlsServer, TLSSocket } from 'node:tls';
import type { Logger } from '../../core/log.js';
import { ConfigError, errorCode, errorMessage } from '../../core/errors.js';
import { listen } from '../../core/listen.js';
import { httpServerTimeouts } from '../../net/http-server-timeouts.js';
import type { HttpExchangeRecorder } from '../../recording/sink.js';
import type { HttpProxyObserver } from './observer.js';
import { onClientError, refuseConnect } from './client-errors.js';
import { buildTrustList, describeSocket, kConnectionInfo, socketInfo } from './connection-info.js';
import type { ConnectionInfo } from './connection-info.js';
import type { ProxyContext } from './context.js';
import { POOL_SWEEP_MS } from './downstream.js';
import { proxyRequest } from './exchange.js';
import type { HttpDownstreams, HttpLimits, HttpProxyOptions, HttpTimeouts } from './options.js';
import { BalancedRouter, type HttpRouter } from './route.js';
import { proxyUpgrade } from './upgrade.js';

/**
 * The HTTP/HTTPS reverse proxy listener and its lifecycle.
 *
 * Plain listener: one `http.Server`. TLS listener: a `tls.Server` offering ALPN h2 and http/1.1
 * that hands each handshaken socket to an `http2.Server` (h2) or to an `http.Server` (anything
 * else), so HTTP/1.1 behaviour — upgrades, 100-continue, the smuggling checks — is the same code on
 * both listeners (the http2 compat layer's `allowHTTP1` mishandles upgrades).
 *
 * @module
 */

type CarriesInfo = { [kConnectionInfo]?: ConnectionInfo };

/** Upper bound on waiting for destroyed exchanges to record themselves after the drain deadline. */
const SETTLE_AFTER_DESTROY_MS = 1_000;

/**
 * Reverse proxy for HTTP/1.1 and (on TLS) HTTP/2 clients, forwarding to HTTP/1.1 downstreams
 * balanced by `opts.downstreams`. The constructor validates the options (ConfigError,
 * QP_ERR_CONFIG) but binds nothing.
 */
export class HttpProxyServer<D extends HttpDownstreams = HttpDownstreams> {
  /** The downstreams given in the options (a `Discovery` for its snapshot); the caller closes them after `close()`. Null with a router. */
  readonly discovery: D | null;
  private readonly ctx: ServerContext;
  private readonly http: HttpServer;
  private h2: Http2Server | null;
  private readonly listener: NetServer;
  private readonly sessions = new Set<ServerHttp2Session>();
  private readonly sockets = new Set<Socket>();
  private listenerClosed: Promise<void> | null = null;
  private closing: Promise<void> | null = null;
  /** What a connection gets to deliver a request head: header_read, or request when that is shorter. */
  private readonly headDeadlineMs: number;

  constructor(private readonly opts: HttpProxyOptions<D>) {
    this.headDeadlineMs = httpServerTimeouts(opts.timeouts.headerReadMs, opts.timeouts.requestMs).headersTimeout;
    const trust = buildTrustList(opts.trustedProxies);
    this.discovery = opts.router === undefined ? (opts.downstreams ?? null) : null;
    this.ctx = new ServerContext(opts, trust);
    this.http = this.createHttp1();
    if (opts.tls === undefined) {
      this.h2 = null;
      this.listener = this.http;
    } else {
      this.h2 = this.createHttp2();
      this.listener = this.createTls(trust);
      // This http.Server never listens itself; 'listening' starts its connection tracking, which
      // drives headersTimeout/requestTimeout and closeIdleConnections().
      this.http.emit('listening');
    }
    this.watchConnections();
  }

  /** Exchanges (and upgraded tunnels) not finished yet. */
  get inFlight(): number {
    return this.ctx.inFlight;
  }

  /** Binds host:port (port 0 = ephemeral) and resolves with the bound address; rejects with ListenError (QP_ERR_LISTEN). */
  async listen(): Promise<AddressInfo> {
    const { host, port } = this.opts;
    const address = await listen(this.listener, host, port, (err) => `HTTP proxy cannot listen on ${host}:${port}: ${errorMessage(err)} — pick a free port or another address`);
    this.listener.on('error', (err) => this.opts.logger.error({ err: errorMessage(err) }, 'HTTP proxy listener error'));
    return address;
  }

  /** Start draining: Connection: close on every response from now, GOAWAY on h2 sessions, stop accepting. */
  beginDrain(): void {
    if (this.ctx.draining) return;
    this.ctx.draining = true;
    this.listenerClosed = new Promise((resolve) => this.listener.close(() => resolve()));
    this.http.closeIdleConnections();
    for (const session of this.sessions) session.close();
  }

  /** Drain then close: waits for in-flight exchanges up to deadlineMs, then destroys what is left. Idempotent. */
  close(deadlineMs: number): Promise<void> {
    this.closing ??= this.shutdown(deadlineMs);
    return this.closing;
  }

  private async shutdown(deadlineMs: number): Promise<void> {
    this.beginDrain();
    await this.ctx.settled(deadlineMs);
    const leftovers = this.ctx.inFlight;
    if (leftovers > 0) this.opts.logger.warn({ leftovers, deadlineMs }, 'HTTP proxy drain deadline passed; closing what is left');
    this.http.closeAllConnections();
    for (const session of this.sessions) session.destroy();
    for (const socket of this.sockets) socket.destroy();
    if (this.listener !== this.http) this.http.close();
    // Destroyed exchanges record themselves from their 'close' events, a tick or two from now.
    await this.ctx.settled(SETTLE_AFTER_DESTROY_MS);
    await this.ctx.router.close(leftovers > 0);
    await this.listenerClosed;
  }

  private createHttp1(): HttpServer {
    const { limits, timeouts } = this.opts;
    const server = createHttpServer({
      maxHeaderSize: limits.maxHeaderSize,
      ...httpServerTimeouts(timeouts.headerReadMs, timeouts.requestMs),
      keepAliveTimeout: timeouts.idleMs,
      // checkRequestHead answers a missing Host itself, counted and recorded.
      requireHostHeader: false,
    });
    // One more than the limit so that a request over it arrives with a countable header list
    // (Node truncates silently at maxHeadersCount; 0 means no truncation).
    server.maxHeadersCount = limits.maxHeadersCount > 0 ? limits.maxHeadersCount + 1 : 0;
    const ctx = this.ctx;
    const onRequest = (expectContinue: boolean) => (req: IncomingMessage, res: ServerResponse) => {
      proxyRequest(ctx, req, res, socketInfo(req.socket, ctx.trust), expectContinue);
    };
    server.on('request', onRequest(false));
    server.on('checkContinue', onRequest(true));
    // Any other Expect value: checkRequestHead answers 417.
    server.on('checkExpectation', onRequest(false));
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      proxyUpgrade(ctx, req, socket, head, socketInfo(req.socket, ctx.trust));
    });
    const onConnect = this.opts.onConnect;
    if (onConnect !== undefined) server.on('connect', onConnect);
    else server.on('connect', (_req: IncomingMessage, socket: Duplex) => refuseConnect(socket, ctx.observer));
    server.on('clientError', (err: Error, socket: Duplex) => onClientError(err, socket, ctx.observer));
    return server;
  }

  private createHttp2(): Http2Server {
    const { limits, timeouts } = this.opts;
    const server = createH2Server({
      settings: { maxConcurrentStreams: 100, maxHeaderListSize: limits.maxHeaderSize },
      // Pseudo-headers count against this too; QProxy counts regular fields itself.
      ...(limits.maxHeadersCount > 0 ? { maxHeaderListPairs: limits.maxHeadersCount + 8 } : {}),
    });
    server.setTimeout(timeouts.idleMs);
    // Idle session: GOAWAY and let running streams finish, rather than Node's default destroy.
    server.on('timeout', (session: ServerHttp2Session) => session.close());
    server.on('session', (session: ServerHttp2Session) => this.trackSession(session));
    server.on('sessionError', (err: Error) => this.opts.logger.debug({ err: errorMessage(err) }, 'HTTP/2 session error'));
    const ctx = this.ctx;
    const onRequest = (expectContinue: boolean) => (req: Http2ServerRequest, res: Http2ServerResponse) => {
      const info = (req.stream.session as (ServerHttp2Session & CarriesInfo) | undefined)?.[kConnectionInfo];
      if (info === undefined) {
        req.stream.close();
        return;
      }
      proxyRequest(ctx, req, res, info, expectContinue);
    };
    server.on('request', onRequest(false));
    server.on('checkContinue', onRequest(true));
    return server;
  }

  private trackSession(session: ServerHttp2Session): void {
    // session.socket is Node's proxy of the TLS socket; the info was attached at secureConnection.
    (session as ServerHttp2Session & CarriesInfo)[kConnectionInfo] = (session.socket as unknown as CarriesInfo)[kConnectionInfo];
    this.sessions.add(session);
    // Node's HTTP/2 server has no head deadline, and its idle timer is reset by any frame (PING,
    // SETTINGS): without this, a session that never opens a stream lives as long as it pings.
    const firstStream = setTimeout(() => {
      this.ctx.observer.rejected('request_timeout');
      session.close();
    }, this.headDeadlineMs);
    session.once('stream', () => clearTimeout(firstStream));
    session.once('close', () => {
      clearTimeout(firstStream);
      this.sessions.delete(session);
    });
    session.on('error', (err) => this.opts.logger.debug({ err: errorMessage(err) }, 'HTTP/2 session failed'));
    if (this.ctx.draining) session.close();
  }

  private createTls(trust: BlockList | null): TlsServer {
    const tls = this.opts.tls!;
    const server = createTlsServer({
      cert: tls.cert,
      key: tls.key,
      ...(tls.ca !== undefined ? { ca: tls.ca } : {}),
      ALPNProtocols: ['h2', 'http/1.1'],
      handshakeTimeout: this.headDeadlineMs,
    });
    server.on('secureConnection', (socket: TLSSocket) => this.accept(socket, describeSocket(socket, trust)));
    server.on('tlsClientError', (err: Error, socket: TLSSocket) => {
      // A peer that connects and leaves (TCP health checks) is not a failed handshake.
      const code = errorCode(err);
      if (code !== 'ECONNRESET' && code !== 'EPIPE') this.ctx.observer.rejected('tls_handshake');
      this.opts.logger.debug({ err: errorMessage(err), code }, 'TLS handshake failed');
      socket.destroy();
    });
    return server;
  }

  /**
   * Serves a TLS socket whose handshake is done (this listener's own, or one a forward proxy
   * intercepted after CONNECT): HTTP/2 when ALPN chose h2, HTTP/1.1 otherwise; or a plain socket a
   * forward proxy found speaking HTTP/1.x inside a CONNECT.
   */
  accept(socket: Socket | TLSSocket, info: ConnectionInfo): void {
    (socket as Socket & CarriesInfo)[kConnectionInfo] = info;
    if ((socket as Partial<TLSSocket>).alpnProtocol === 'h2') (this.h2 ??= this.createHttp2()).emit('connection', socket);
    else this.http.emit('connection', socket);
  }

  private watchConnections(): void {
    const { maxConnections } = this.opts.limits;
    if (maxConnections > 0) {
      this.listener.maxConnections = maxConnections;
      this.listener.on('drop', () => this.ctx.observer.rejected('too_many_connections'));
    }
    this.listener.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
  }
}

/** The ProxyContext of one server, plus the in-flight bookkeeping that drain waits on. */
class ServerContext implements ProxyContext {
  readonly limits: HttpLimits;
  readonly timeouts: HttpTimeouts;
  readonly router: HttpRouter;
  readonly recorder: HttpExchangeRecorder;
  readonly observer: HttpProxyObserver;
  readonly logger: Logger;
  draining = false;
  inFlight = 0;
  private onSettled: (() => void) | null = null;

  constructor(
    opts: HttpProxyOptions<HttpDownstreams>,
    readonly trust: BlockList | null,
  ) {
    this.limits = opts.limits;
    this.timeouts = opts.timeouts;
    this.recorder = opts.recorder;
    this.observer = opts.observer;
    this.logger = opts.logger;
    this.router = opts.router ?? balancedRouter(opts);
  }

  exchangeStarted(): void {
    this.inFlight++;
  }

  exchangeEnded(): void {
    if (--this.inFlight === 0) this.onSettled?.();
  }

  /** Resolves when nothing is in flight, or after deadlineMs, whichever comes first. */
  settled(deadlineMs: number): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.onSettled = null;
        resolve();
      };
      const timer = setTimeout(done, deadlineMs);
      this.onSettled = done;
    });
  }
}

function balancedRouter(opts: HttpProxyOptions<HttpDownstreams>): HttpRouter {
  if (opts.downstreams === undefined) throw new ConfigError('the HTTP proxy needs downstreams or a router');
  return new BalancedRouter({ downstreams: opts.downstreams, tls: opts.downstreamTls, timeouts: opts.timeouts, sweepMs: opts.poolSweepMs ?? POOL_SWEEP_MS });
}
