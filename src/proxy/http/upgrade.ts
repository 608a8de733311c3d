import { request as httpRequest } from 'node:http';
import type { ClientRequest, IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { pipeline } from 'node:stream';
import type { Duplex } from 'node:stream';
import type { Endpoint } from '../../discovery/index.js';
import { QProxyError, errorCode, errorMessage } from '../../core/errors.js';
import { BodyCapture } from '../../recording/capture.js';
import { WebSocketRecorder } from '../../recording/ws-recorder.js';
import type { ExchangeOutcome } from './observer.js';
import type { ConnectionInfo } from './connection-info.js';
import type { ProxyContext } from './context.js';
import type { DraftResponse } from './draft.js';
import { defaultHostOf, endpointOrigin, noEndpoint, serverNameOf } from './downstream.js';
import { ExchangeCore } from './exchange-core.js';
import { errorBody } from './failures.js';
import { sanitizeHopByHop } from './hop-by-hop.js';
import { ForwardingTap } from './request-head.js';
import { targetForLog } from './target.js';

/**
 * `Upgrade` (WebSocket and friends) pass-through. undici refuses upgrade headers on plain
 * requests, so the downstream leg uses node:http(s) on a fresh connection to an endpoint picked like
 * an ordinary request's (and retried elsewhere on a connect-time failure). After a 101 both sockets
 * are piped into each other; any other answer is relayed as an ordinary response and the client
 * connection closed. The handshake is recorded as an HTTP exchange (status 101) when the tunnel ends;
 * for a WebSocket, with the messages a WebSocketRecorder read beside the relay.
 *
 * @module
 */

/** Takes over a client socket that Node's HTTP server handed out with its `'upgrade'` event. */
export function proxyUpgrade(ctx: ProxyContext, req: IncomingMessage, socket: Duplex, head: Buffer, conn: ConnectionInfo): void {
  try {
    new UpgradeExchange(ctx, req, socket as Socket, conn).start(head);
  } catch (err) {
    // A bug in QProxy: drop this connection rather than leave it hanging (it records on close).
    ctx.logger.error({ err: errorMessage(err), url: targetForLog(req.url ?? '') }, 'HTTP proxy failed to handle an upgrade');
    socket.destroy();
  }
}

class UpgradeExchange extends ExchangeCore {
  private downstreamReq: ClientRequest | null = null;
  private headers: string[] = [];
  /** The client sent a Host; when not, each attempt names its target's host. */
  private hasHost = true;
  private timer: NodeJS.Timeout | null = null;
  private tunnel: Socket | null = null;
  private response: DraftResponse | null = null;
  private statusSent: number | null = null;
  private committed = false;
  /** Reads the frames of a recorded WebSocket; null for other upgrades, or when frames are not recorded. */
  private ws: WebSocketRecorder | null = null;

  constructor(
    ctx: ProxyContext,
    req: IncomingMessage,
    private readonly client: Socket,
    conn: ConnectionInfo,
  ) {
    super(ctx, req, conn);
    // A handshake has no body (one that declares a body is refused).
    this.requestEnd = 0;
  }

  start(head: Buffer): void {
    const { ctx, req, client } = this;
    this.begin();
    client.on('error', (err) => this.clientFailed(err));
    client.on('close', () => this.clientClosed());
    if (this.routeHead(false, true) === null) return;

    const tap = new ForwardingTap(this.conn, this.authority, false, ctx.router.mode);
    this.headers = tap.finish(sanitizeHopByHop(req.rawHeaders, true, tap), req.httpVersion);
    this.hasHost = tap.forwardedHost !== null;
    this.headers.push('Connection', 'Upgrade');
    const ep = this.route!.downstreams.pick();
    if (ep === null) return this.downstreamFailed(noEndpoint());
    this.connectTo(ep, head);
  }

  /** One attempt on `ep`; events of an attempt that was given up are ignored. */
  private connectTo(ep: Endpoint, head: Buffer): void {
    this.useEndpoint(ep, endpointOrigin(ep));
    const dsReq = this.openDownstream(ep);
    this.downstreamReq = dsReq;
    dsReq.on('upgrade', (res: IncomingMessage, socket: Socket, dsHead: Buffer) => {
      if (dsReq === this.downstreamReq) this.switched(res, socket, dsHead, head);
      else socket.destroy();
    });
    dsReq.on('response', (res: IncomingMessage) => {
      if (dsReq === this.downstreamReq) this.refused(res);
    });
    dsReq.on('error', (err) => {
      if (dsReq === this.downstreamReq) this.downstreamError(err, head);
    });
    dsReq.end();
  }

  private openDownstream(ep: Endpoint): ClientRequest {
    const target = ep.target;
    const { tls, dial } = this.route!;
    const { timeouts } = this.ctx;
    const options = {
      host: ep.address,
      port: ep.port,
      ...dial,
      method: this.req.method ?? 'GET',
      path: this.target,
      // A raw list is written as is (node:http adds no Host of its own to one).
      headers: this.hasHost ? this.headers : [...this.headers, 'Host', defaultHostOf(target)],
      agent: false as const,
    };
    const req = target.tls
      ? httpsRequest({
          ...options,
          ca: tls.ca,
          rejectUnauthorized: tls.rejectUnauthorized,
          // '' sends no SNI and verifies against the address (an IP target without a configured name).
          servername: serverNameOf(target, tls) ?? '',
        })
      : httpRequest(options);
    this.arm(timeouts.downstreamConnectMs, 'connect');
    req.on('socket', (s: Socket) => {
      s.once(target.tls ? 'secureConnect' : 'connect', () => {
        if (req !== this.downstreamReq) return;
        this.connected = true;
        this.arm(timeouts.downstreamResponseMs, 'response');
      });
    });
    return req;
  }

  /**
   * A failure of the current attempt. Before its connection was up nothing was sent, so a
   * connect-time failure moves the handshake to another endpoint; anything else is answered.
   */
  private downstreamError(err: Error, head: Buffer): void {
    // failure set: QProxy itself ended it (the client went away), not the endpoint's doing.
    const next = this.failure === null ? this.retryAfter(err, !this.client.destroyed) : null;
    if (next === null) return this.downstreamFailed(err);
    this.disarm();
    this.downstreamReq?.destroy();
    this.connectTo(next, head);
  }

  /** One timer for the phase we are in (connect, then response head). */
  private arm(ms: number, phase: string): void {
    this.disarm();
    this.timer = setTimeout(() => {
      this.downstreamReq?.destroy(new QProxyError('QP_ERR_DOWNSTREAM_TIMEOUT', `downstream ${phase} took longer than ${ms} ms`));
    }, ms);
  }

  private disarm(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  /** 101: relay the handshake answer, then splice the two sockets. */
  private switched(res: IncomingMessage, socket: Socket, dsHead: Buffer, clientHead: Buffer): void {
    this.disarm();
    if (this.endpoint !== null) this.route!.downstreams.reportSuccess(this.endpoint);
    this.tunnel = socket;
    this.noteResponse(res, null);
    if (this.client.destroyed) {
      socket.destroy();
      return;
    }
    this.ctx.observer.upgrade('open');
    const lines = sanitizeHopByHop(res.rawHeaders, true);
    lines.push('Connection', 'Upgrade');
    this.client.write(responseHead(res.statusCode ?? 101, res.statusMessage ?? '', lines));
    this.statusSent = res.statusCode ?? 101;
    if (dsHead.length > 0) this.client.write(dsHead);
    if (clientHead.length > 0) socket.write(clientHead);
    this.bytesIn += clientHead.length;
    this.bytesOut += dsHead.length;
    this.ws = this.frameRecorder(res);
    if (clientHead.length > 0) this.observe(true, clientHead);
    if (dsHead.length > 0) this.observe(false, dsHead);
    this.relay(this.client, socket);
  }

  /** A recorder of the frames when this is a recorded WebSocket (the client asked for one, the server switched to it). */
  private frameRecorder(res: IncomingMessage): WebSocketRecorder | null {
    const { recorder } = this.ctx;
    if (!this.recording || !recorder.websocket.frames) return null;
    const asked = this.req.headers.upgrade?.toLowerCase() === 'websocket';
    const given = res.headers.upgrade?.toLowerCase() === 'websocket';
    if (!asked || !given) return null;
    return new WebSocketRecorder({ maxMessage: recorder.maxBody, maxBytes: recorder.websocket.maxBytes, extensions: res.headers['sec-websocket-extensions'] });
  }

  /** Hands relayed bytes to the frame recorder; a fault in it ends frame recording, never the relay. */
  private observe(fromClient: boolean, chunk: Buffer): void {
    const ws = this.ws!;
    try {
      if (fromClient) ws.client(chunk);
      else ws.server(chunk);
    } catch (err) {
      ws.stop(fromClient ? 'c2s' : 's2c', `frame recording failed: ${errorMessage(err)}`);
    }
  }

  /**
   * The tunnel after the handshake: the client's socket and the downstream's, piped into each
   * other, bytes counted per direction. Whatever is read from `client` goes to `downstream` and
   * the other way round; the frame recorder, when there is one, sees the same Buffers after them.
   */
  private relay(client: Socket, downstream: Socket): void {
    const idle = this.ctx.timeouts.downstreamIdleMs;
    client.setTimeout(idle, () => this.tunnelIdle());
    downstream.setTimeout(idle, () => this.tunnelIdle());
    if (this.ws !== null) {
      downstream.on('data', (chunk: Buffer) => {
        this.bytesOut += chunk.length;
        this.observe(false, chunk);
      });
      client.on('data', (chunk: Buffer) => {
        this.bytesIn += chunk.length;
        this.observe(true, chunk);
      });
    } else {
      downstream.on('data', (chunk: Buffer) => (this.bytesOut += chunk.length));
      client.on('data', (chunk: Buffer) => (this.bytesIn += chunk.length));
    }
    downstream.on('error', (err) => this.tunnelFailed(err, 'downstream_error'));
    downstream.on('close', () => this.tunnelClosed());
    // Errors are handled by the listeners above; pipeline destroys both sides on any of them.
    pipeline(client, downstream, noop);
    pipeline(downstream, client, noop);
  }

  /** Anything but 101: relay it as a plain response and close the client connection. */
  private refused(res: IncomingMessage): void {
    this.disarm();
    if (this.endpoint !== null) this.route!.downstreams.reportSuccess(this.endpoint);
    const capture = this.recording ? BodyCapture.forRecording(this.ctx.recorder.maxBody) : null;
    this.noteResponse(res, capture);
    const lines = sanitizeHopByHop(res.rawHeaders);
    lines.push('Connection', 'close');
    this.statusSent = res.statusCode ?? 502;
    this.client.write(responseHead(this.statusSent, res.statusMessage ?? '', lines));
    res.on('data', (chunk: Buffer) => {
      this.bytesOut += chunk.length;
      capture?.push(chunk);
    });
    this.client.setTimeout(this.ctx.timeouts.downstreamIdleMs, () => this.tunnelIdle());
    pipeline(res, this.client, (err) => {
      if (err) this.tunnelFailed(err, 'downstream_error');
    });
  }

  private noteResponse(res: IncomingMessage, body: BodyCapture | null): void {
    this.responseStart = performance.now() - this.t0;
    this.response = {
      status: res.statusCode ?? 0,
      message: res.statusMessage ?? '',
      headers: res.rawHeaders,
      body,
      trailers: [],
    };
  }

  protected override downstreamFailed(err: Error): void {
    this.disarm();
    if (this.failure === null) super.downstreamFailed(err);
  }

  /** A QProxy-made answer on the raw socket, then close; once the handshake was answered, a broken connection. */
  protected end(status: number, error: string, code: string, _close: boolean, extra: readonly string[]): void {
    if (this.statusSent !== null) return void this.client.destroy();
    const body = errorBody(error, code);
    this.statusSent = status;
    const head = ['Content-Type', 'application/json', 'Content-Length', String(Buffer.byteLength(body)), 'Connection', 'close', ...extra];
    this.client.end(responseHead(status, '', head) + body);
  }

  private tunnelIdle(): void {
    this.failure ??= { code: 'QP_ERR_TUNNEL_IDLE', message: `no traffic for ${this.ctx.timeouts.downstreamIdleMs} ms` };
    this.outcome = 'timeout';
    this.client.destroy();
    this.tunnel?.destroy();
  }

  private tunnelFailed(err: Error, outcome: ExchangeOutcome): void {
    // One side closing without the courtesy of a half-close (WebSocket servers do that after the
    // close handshake) makes pipeline report a premature close: that is an ordinary end.
    if (this.failure === null && errorCode(err) !== 'ERR_STREAM_PREMATURE_CLOSE') {
      this.failure = { code: errorCode(err) || 'QP_ERR_DOWNSTREAM_RESET', message: errorMessage(err) };
      this.outcome = outcome;
      this.ctx.observer.upgrade('error');
    }
    this.client.destroy();
    this.tunnel?.destroy();
  }

  private clientFailed(err: Error): void {
    if (this.tunnel !== null) return this.tunnelFailed(err, 'client_abort');
    this.failure ??= { code: 'QP_ERR_CLIENT_ABORT', message: errorMessage(err) };
    this.outcome = 'client_abort';
  }

  private clientClosed(): void {
    if (this.tunnel === null) {
      if (this.statusSent === null && this.failure === null) {
        this.failure = { code: 'QP_ERR_CLIENT_ABORT', message: 'client closed the connection before the upgrade completed' };
        this.outcome = 'client_abort';
      }
      this.disarm();
      this.downstreamReq?.destroy();
      return this.commit();
    }
    this.tunnel.destroy();
    this.tunnelClosed();
  }

  private tunnelClosed(): void {
    if (this.client.destroyed && this.tunnel?.destroyed === true) this.commit();
  }

  private commit(): void {
    if (this.committed) return;
    this.committed = true;
    if (this.tunnel !== null) this.ctx.observer.upgrade('close');
    const ws = this.ws;
    if (ws === null) return this.report(this.statusSent, this.statusSent !== null);
    // Compressed messages may still be inflating; the record waits for them (the relay is over).
    ws.settled()
      .then(() => {
        const capture = ws.result();
        this.websocket = capture;
        let c2s = 0;
        for (const m of capture.messages) if (m.dir === 'c2s') c2s++;
        this.ctx.observer.websocket?.({ c2s, s2c: capture.messages.length - c2s, dropped: capture.dropped, stopped: capture.stopped !== null });
        this.report(this.statusSent, this.statusSent !== null);
      })
      .catch((err: unknown) => this.ctx.logger.error({ err: errorMessage(err) }, 'HTTP proxy failed to record a WebSocket connection'));
  }

  protected responseDraft(): DraftResponse | null {
    return this.response;
  }
}

function responseHead(status: number, message: string, flat: readonly string[]): string {
  let head = `HTTP/1.1 ${status} ${message}\r\n`;
  for (let i = 0; i + 1 < flat.length; i += 2) head += `${flat[i]}: ${flat[i + 1]}\r\n`;
  return head + '\r\n';
}

function noop(): void {}
