import { Http2ServerRequest, constants as h2constants } from 'node:http2';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerResponse } from 'node:http2';
import { performance } from 'node:perf_hooks';
import type { Dispatcher } from 'undici';
import type { Endpoint } from '../../discovery/index.js';
import { QProxyError, errorMessage } from '../../core/errors.js';
import { BodyCapture } from '../../recording/capture.js';
import { RequestBodySource } from './body-source.js';
import type { ConnectionInfo } from './connection-info.js';
import type { ProxyContext } from './context.js';
import { noEndpoint } from './downstream.js';
import type { DraftResponse } from './draft.js';
import { ExchangeCore } from './exchange-core.js';
import { errorBody } from './failures.js';
import { sanitizeHopByHop } from './hop-by-hop.js';
import { ForwardingTap } from './request-head.js';
import { targetForLog } from './target.js';

/**
 * One proxied request/response: the client side (Node's HTTP/1 or HTTP/2-compat objects) and the
 * undici dispatch handler for the downstream side; what it shares with an upgrade is in
 * ExchangeCore. Listeners are shared functions that find the exchange through a symbol, so a
 * request allocates no closures.
 *
 * @module
 */

/** The client's request as Node hands it over, HTTP/1 or HTTP/2 (compat API). */
export type ClientRequest = IncomingMessage | Http2ServerRequest;
/** The matching response object. */
export type ClientResponse = ServerResponse | Http2ServerResponse;

/** The write side both response flavours share (their overload sets don't unify). */
type Writable = { write(chunk: Buffer): boolean };

/** undici takes a per-request `servername` its types leave out (see `Downstream.servername`). */
interface DownstreamRequest extends Dispatcher.DispatchOptions {
  servername: string;
}

const kExchange = Symbol('qproxy.exchange');
type Carrier = { [kExchange]?: Exchange };

const enum State {
  /** Downstream request in progress (or not started yet). */
  Active,
  /** Downstream side finished (complete, failed or aborted); the client side may still be flushing. */
  Settled,
  /** Recorded and counted. */
  Committed,
}

/** Starts proxying one request. `expectContinue`: the client sent `Expect: 100-continue`. */
export function proxyRequest(ctx: ProxyContext, req: ClientRequest, res: ClientResponse, conn: ConnectionInfo, expectContinue: boolean): void {
  const exchange = new Exchange(ctx, req, res, conn);
  try {
    exchange.start(expectContinue);
  } catch (err) {
    exchange.internalError(err);
  }
}

class Exchange extends ExchangeCore implements Dispatcher.DispatchHandler {
  private readonly h2: boolean;
  private state = State.Active;

  private source: RequestBodySource | null = null;
  private request: DownstreamRequest | null = null;

  private abortDownstream: ((err?: Error) => void) | null = null;
  private pendingAbort: Error | null = null;
  private resumeDownstream: (() => void) | null = null;
  private drainListening = false;

  private resStatus = 0;
  private resMessage = '';
  private resHeaders: string[] | null = null;
  private resTrailers: string[] = [];
  private resCapture: BodyCapture | null = null;

  constructor(
    ctx: ProxyContext,
    req: ClientRequest,
    private readonly res: ClientResponse,
    conn: ConnectionInfo,
  ) {
    super(ctx, req, conn);
    // What the request object is, not the version it claims: an HTTP/1 request line may say
    // "HTTP/2.0" too (refused by checkRequestHead), and carries no HTTP/2 stream.
    this.h2 = req instanceof Http2ServerRequest;
  }

  start(expectContinue: boolean): void {
    const { req, res, ctx } = this;
    (req as ClientRequest & Carrier)[kExchange] = this;
    (res as ClientResponse & Carrier)[kExchange] = this;
    res.on('close', onResponseClose);
    req.on('error', onRequestError);
    if (!this.h2) (res as ServerResponse).sendDate = false;
    this.begin();
    const facts = this.routeHead(this.h2, false);
    if (facts === null) return;
    if (expectContinue) res.writeContinue();

    const tap = new ForwardingTap(this.conn, this.authority, this.h2, ctx.router.mode);
    const headers = tap.finish(sanitizeHopByHop(req.rawHeaders, false, tap), this.h2 ? '2' : req.httpVersion);
    const hasBody = this.h2
      ? !(req as Http2ServerRequest).stream.endAfterHeaders && facts.contentLength !== 0
      : (facts.contentLength !== null && facts.contentLength > 0) || facts.hasTransferEncoding;
    const body = hasBody ? this.openBody() : this.noBody();

    const ep = this.route!.downstreams.pick();
    if (ep === null) return this.downstreamFailed(noEndpoint());
    this.request = { method: req.method ?? 'GET', path: this.target, headers, body, servername: '' };
    this.dispatchTo(ep);
  }

  /** One attempt: the endpoint is held (least-connections) until the exchange ends or moves on. */
  private dispatchTo(ep: Endpoint): void {
    const ds = this.route!.pool(ep);
    this.useEndpoint(ep, ds.origin);
    const request = this.request!;
    request.servername = ds.servername;
    ds.pool.dispatch(request, this);
  }

  private openBody(): RequestBodySource {
    const source = new RequestBodySource(this.req);
    this.source = source;
    if (this.recording) this.requestBody = BodyCapture.forRecording(this.ctx.recorder.maxBody);
    this.req.on('data', onRequestData);
    this.req.on('end', onRequestEnd);
    return source;
  }

  private noBody(): null {
    this.requestEnd = performance.now() - this.t0;
    // An HTTP/2 stream's readable side must still be drained for the stream to close.
    if (this.h2) this.req.resume();
    return null;
  }

  /** A chunk of the client's body: count, enforce the cap, tap for the recorder, pass on. */
  requestChunk(chunk: Buffer): void {
    if (this.state !== State.Active) return; // answered already: discard the rest, keep reading
    this.bytesIn += chunk.length;
    this.requestBody?.push(chunk);
    const max = this.ctx.limits.maxBodySize;
    if (max > 0 && this.bytesIn > max) return this.reject('body_too_large');
    if (!this.source!.push(chunk)) this.req.pause();
  }

  requestEnded(): void {
    this.requestEnd = performance.now() - this.t0;
    if (this.state === State.Active) this.source!.push(null);
  }

  // undici DispatchHandler (the legacy shape, which undici 7 calls without an adapter).

  onConnect(abort: (err?: Error) => void): void {
    this.connected = true;
    if (this.pendingAbort !== null) abort(this.pendingAbort);
    else this.abortDownstream = abort;
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void, statusText: string): boolean {
    if (this.state !== State.Active) return false;
    if (statusCode < 200) return true; // 1xx (103 Early Hints): not relayed
    if (this.endpoint !== null) this.route!.downstreams.reportSuccess(this.endpoint);
    this.responseStart = performance.now() - this.t0;
    this.resumeDownstream = resume;
    const raw = new Array<string>(rawHeaders.length);
    for (let i = 0; i < rawHeaders.length; i++) raw[i] = rawHeaders[i]!.toString('latin1');
    this.resStatus = statusCode;
    this.resMessage = statusText;
    this.resHeaders = raw;
    if (this.recording) this.resCapture = BodyCapture.forRecording(this.ctx.recorder.maxBody);
    const out = sanitizeHopByHop(raw);
    try {
      if (this.h2) {
        writeHeadH2(this.res as Http2ServerResponse, statusCode, out);
      } else {
        if (this.ctx.draining) out.push('Connection', 'close');
        // An empty reason phrase from the downstream: Node's standard one instead.
        if (statusText === '') (this.res as ServerResponse).writeHead(statusCode, out);
        else (this.res as ServerResponse).writeHead(statusCode, statusText, out);
      }
    } catch (err) {
      // A field the client side refuses (invalid for HTTP/2, bad characters): a bad downstream answer.
      const bad = new QProxyError('QP_ERR_DOWNSTREAM_PROTOCOL', `downstream response head cannot be relayed: ${errorMessage(err)}`);
      this.downstreamFailed(bad, bad);
      return false;
    }
    return true;
  }

  onData(chunk: Buffer): boolean {
    if (this.state !== State.Active) return false;
    this.bytesOut += chunk.length;
    this.resCapture?.push(chunk);
    if ((this.res as Writable).write(chunk)) return true;
    if (!this.drainListening) {
      this.drainListening = true;
      this.res.on('drain', onResponseDrain);
    }
    return false;
  }

  onComplete(rawTrailers: Buffer[] | string[] | null): void {
    if (this.state !== State.Active) return;
    this.state = State.Settled;
    this.releaseClientBody();
    if (rawTrailers !== null && rawTrailers.length > 0) this.relayTrailers(rawTrailers);
    this.res.end();
  }

  onError(err: Error): void {
    // Before onConnect nothing was written (undici errors queued requests when their connection
    // fails to come up), so neither the head nor a byte of the body stream was taken and the body
    // source still holds everything the client sent: the same request can go to another endpoint.
    const next = this.retryAfter(err, this.state === State.Active);
    if (next !== null) return this.dispatchTo(next);
    if (this.state !== State.Active) return; // QProxy aborted it (client gone, 413): already handled
    this.downstreamFailed(err);
  }

  resumeFromDrain(): void {
    this.resumeDownstream?.();
  }

  private relayTrailers(rawTrailers: Buffer[] | string[]): void {
    const t = rawTrailers.map((b) => (typeof b === 'string' ? b : b.toString('latin1')));
    this.resTrailers = t;
    try {
      if (this.h2) {
        const obj: Record<string, string> = {};
        for (let i = 0; i + 1 < t.length; i += 2) obj[t[i]!.toLowerCase()] = t[i + 1]!;
        (this.res as Http2ServerResponse).addTrailers(obj);
      } else {
        const pairs: [string, string][] = [];
        for (let i = 0; i + 1 < t.length; i += 2) pairs.push([t[i]!, t[i + 1]!]);
        (this.res as ServerResponse).addTrailers(pairs);
      }
    } catch (err) {
      this.ctx.logger.debug({ err: errorMessage(err) }, 'downstream trailers could not be relayed');
    }
  }

  /**
   * The one way an exchange ends early (downstream failure, refusal, internal error): settle, stop
   * the downstream, drop the rest of the client's body, then answer the error or, once the
   * response has started, break the client connection.
   */
  protected end(status: number, error: string, code: string, close: boolean, extra: readonly string[], abort: Error | null): void {
    this.state = State.Settled;
    if (abort !== null) this.abort(abort);
    else this.source?.destroy();
    this.releaseClientBody();
    if (!this.res.headersSent) this.sendError(status, error, code, close, extra);
    else this.destroyClient();
  }

  /**
   * The downstream no longer takes the client's body (answered early, failed, refused): read and
   * drop the rest, as Node does for unread bodies, so the client is not left blocked on a paused
   * request and a keep-alive connection stays usable.
   */
  private releaseClientBody(): void {
    if (this.source === null || this.req.complete) return;
    this.source.destroy();
    this.req.resume();
  }

  /** Stops the downstream request now, or as soon as undici hands over its abort function. */
  private abort(err: Error): void {
    this.source?.destroy();
    if (this.abortDownstream !== null) this.abortDownstream(err);
    else this.pendingAbort = err;
  }

  private sendError(status: number, error: string, code: string, close: boolean, extra: readonly string[]): void {
    const body = errorBody(error, code);
    const head = ['Content-Type', 'application/json', 'Content-Length', String(Buffer.byteLength(body)), ...extra];
    if (this.h2) {
      writeHeadH2(this.res as Http2ServerResponse, status, head);
    } else {
      if (close || this.ctx.draining) head.push('Connection', 'close');
      (this.res as ServerResponse).writeHead(status, head);
    }
    this.res.end(body);
  }

  /** The response already started, so the only honest signal left is breaking the connection. */
  private destroyClient(): void {
    if (this.h2) (this.res as Http2ServerResponse).stream.close(h2constants.NGHTTP2_INTERNAL_ERROR);
    else (this.res as ServerResponse).destroy();
  }

  /** The client side is over (response flushed, or the client went away). */
  clientClosed(): void {
    if (this.state === State.Committed) return;
    const completed = this.res.writableFinished;
    if (!completed && this.failure === null) {
      this.failure = { code: 'QP_ERR_CLIENT_ABORT', message: 'client closed the connection before the response was complete' };
      this.outcome = 'client_abort';
    }
    const wasActive = this.state === State.Active;
    // Before aborting: undici reports the abort back through onError synchronously.
    this.state = State.Committed;
    if (wasActive) this.abort(new QProxyError('QP_ERR_CLIENT_ABORT', 'client went away'));
    this.report(this.res.headersSent ? this.res.statusCode : null, completed);
  }

  protected responseDraft(): DraftResponse | null {
    if (this.resHeaders === null) return null;
    return { status: this.resStatus, message: this.resMessage, headers: this.resHeaders, body: this.resCapture, trailers: this.resTrailers };
  }

  /** A bug in QProxy surfaced while starting the exchange: answer 500 rather than hang. */
  internalError(err: unknown): void {
    this.ctx.logger.error({ err: errorMessage(err), url: targetForLog(this.target) }, 'HTTP proxy failed to handle a request');
    if (this.state !== State.Active) return;
    this.failure = { code: 'QP_ERR_INTERNAL', message: errorMessage(err) };
    this.outcome = 'downstream_error';
    this.end(500, 'internal proxy error', 'QP_ERR_INTERNAL', true, [], new QProxyError('QP_ERR_INTERNAL', errorMessage(err)));
  }

  /** The client's request stream failed (connection reset mid-body). */
  clientFailed(): void {
    if (this.state !== State.Active) return;
    this.failure = { code: 'QP_ERR_CLIENT_ABORT', message: 'client connection failed while sending the request' };
    this.outcome = 'client_abort';
    this.state = State.Settled;
    this.abort(new QProxyError('QP_ERR_CLIENT_ABORT', 'client went away'));
  }
}

/** Node's compat writeHead takes a flat raw list like HTTP/1's (keeps order); @types/node omits it. */
function writeHeadH2(res: Http2ServerResponse, status: number, flat: string[]): void {
  res.writeHead(status, flat as unknown as Record<string, string>);
}

function exchangeOf(emitter: unknown): Exchange | undefined {
  return (emitter as Carrier)[kExchange];
}

function onRequestData(this: ClientRequest, chunk: Buffer): void {
  exchangeOf(this)?.requestChunk(chunk);
}

function onRequestEnd(this: ClientRequest): void {
  exchangeOf(this)?.requestEnded();
}

function onRequestError(this: ClientRequest): void {
  exchangeOf(this)?.clientFailed();
}

function onResponseDrain(this: ClientResponse): void {
  exchangeOf(this)?.resumeFromDrain();
}

function onResponseClose(this: ClientResponse): void {
  exchangeOf(this)?.clientClosed();
}
