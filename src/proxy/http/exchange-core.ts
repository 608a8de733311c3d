import type { IncomingMessage } from 'node:http';
import type { Http2ServerRequest } from 'node:http2';
import { performance } from 'node:perf_hooks';
import { QProxyError, errorMessage } from '../../core/errors.js';
import type { Endpoint } from '../../discovery/index.js';
import type { BodyCapture } from '../../recording/capture.js';
import type { RecordError, WebSocketCapture } from '../../recording/model.js';
import type { ExchangeOutcome, RejectReason } from './observer.js';
import type { ConnectionInfo } from './connection-info.js';
import type { ProxyContext } from './context.js';
import { nextEndpoint } from './downstream.js';
import { buildHttpDraft, type DraftInput, type DraftResponse } from './draft.js';
import { downstreamFailure, isConnectFailure, rejection } from './failures.js';
import { checkRequestHead, inspectRequestHead, type RequestHeadFacts } from './request-head.js';
import { isRefusal, type HttpRoute, type RouteRefusal } from './route.js';
import { parseRequestTarget } from './target.js';

const NO_LINES: readonly string[] = [];

/**
 * What every proxied exchange shares, plain (exchange.ts) or upgraded (upgrade.ts): admission by
 * the recorder, the head checks and the route, the endpoint held per attempt and the move to
 * another one after a connect-time failure, the failure and outcome it is recorded with, and the
 * one way it ends: `end()` answers an error (each side writes it its own way), `report()` counts
 * the exchange and hands the recorder its draft.
 *
 * The order of events is fixed: `begin()`, `routeHead()`, then per attempt `useEndpoint()` and
 * either a response or `retryAfter()` / `downstreamFailed()`; `reject()` may come at any point
 * before the response starts; `report()` exactly once, when the client side is over.
 */
export abstract class ExchangeCore {
  protected readonly t0 = performance.now();
  protected readonly startedAt = Date.now();
  /** The recorder admitted this exchange at its head: bodies are captured and a record is made. */
  protected recording = false;
  /** The request target as received; once routed, the path sent downstream. */
  protected target: string;
  /** Authority of an absolute-form target (the forward proxy's), for the forwarding headers. */
  protected authority: string | null = null;
  protected route: HttpRoute | null = null;
  protected endpoint: Endpoint | null = null;
  /** The endpoint's origin as records name it. */
  protected origin: string | null = null;
  private release: (() => void) | null = null;
  /** The current attempt reached a connection: request bytes may be out, so it is never retried. */
  protected connected = false;
  protected attempts = 0;
  /** Endpoint keys that failed to connect for this request; made on the first retry only. */
  private tried: Set<string> | null = null;
  /** Request body bytes from the client (tunnel bytes client → downstream once upgraded). */
  protected bytesIn = 0;
  /** Response body bytes to the client (tunnel bytes downstream → client once upgraded). */
  protected bytesOut = 0;
  protected requestBody: BodyCapture | null = null;
  /** Milliseconds from the start; null until the request is complete. */
  protected requestEnd: number | null = null;
  protected responseStart: number | null = null;
  protected failure: RecordError | null = null;
  protected outcome: ExchangeOutcome = 'ok';
  protected rejected: RejectReason | null = null;
  /** An upgraded WebSocket's messages, when its frames were recorded. */
  protected websocket: WebSocketCapture | undefined;

  constructor(
    protected readonly ctx: ProxyContext,
    protected readonly req: IncomingMessage | Http2ServerRequest,
    protected readonly conn: ConnectionInfo,
  ) {
    this.target = req.url ?? '';
  }

  /**
   * Answers an error the exchange ends with (status, JSON body `{error, code}`, `extra` header
   * lines, `close` the connection after it), or breaks the client connection when a response has
   * already started. `abort`: stop the downstream request with it, when one may still be running.
   */
  protected abstract end(status: number, error: string, code: string, close: boolean, extra: readonly string[], abort: Error | null): void;

  /** The downstream's answer for the record, or null when none came. */
  protected abstract responseDraft(): DraftResponse | null;

  /** Counts the exchange in flight and lets the recorder decide, from the head, whether to record it. */
  protected begin(): void {
    const { req, ctx } = this;
    ctx.exchangeStarted();
    this.recording = ctx.recorder.admit({ method: req.method ?? '', target: this.target, rawHeaders: req.rawHeaders, client: this.conn.client, tls: this.conn.tls });
  }

  /**
   * The head checks Node's parser does not make, then the route. A refusal is answered and gives
   * null; else `route`, `target` (now the path) and `authority` are set. `upgrade`: a handshake that
   * declares a body is refused too (it has no sane meaning and is a classic desync vehicle).
   */
  protected routeHead(h2: boolean, upgrade: boolean): RequestHeadFacts | null {
    const { req, ctx } = this;
    const facts = inspectRequestHead(req.rawHeaders, h2);
    const reason = checkRequestHead(facts, req.httpVersion, ctx.limits, h2);
    if (reason !== null) return this.refuse(reason);
    if (upgrade && (facts.hasTransferEncoding || (facts.contentLength ?? 0) > 0)) return this.refuse('bad_request');
    const target = parseRequestTarget(this.target);
    if (target === null) return this.refuse('bad_request');
    const route = ctx.router.route({ conn: this.conn, target, rawHeaders: req.rawHeaders });
    if (isRefusal(route)) return this.refuse(route.refuse, route);
    this.route = route;
    this.target = target.path;
    this.authority = target.authority;
    return facts;
  }

  /** One attempt on `ep`: the endpoint is held (least-connections) until released. */
  protected useEndpoint(ep: Endpoint, origin: string): void {
    this.endpoint = ep;
    this.origin = origin;
    this.release = this.route!.downstreams.acquire(ep);
    this.connected = false;
    this.attempts++;
  }

  protected releaseEndpoint(): void {
    const release = this.release;
    this.release = null;
    release?.();
  }

  /**
   * After `err` failed the current attempt. A connect-time failure (the connection never came up,
   * so nothing was sent) is reported against the endpoint; then, when `mayRetry` and an attempt
   * is left, the endpoint to move to is returned, the failed one released and the retry counted.
   * Null: the failure is the exchange's to answer.
   */
  protected retryAfter(err: Error, mayRetry: boolean): Endpoint | null {
    const failed = this.endpoint;
    if (this.connected || failed === null || !isConnectFailure(err)) return null;
    const downstreams = this.route!.downstreams;
    downstreams.reportFailure(failed);
    if (!mayRetry) return null;
    const next = nextEndpoint(downstreams, (this.tried ??= new Set()), failed, this.attempts);
    if (next === null) return null;
    this.releaseEndpoint();
    this.ctx.observer.retry();
    this.ctx.logger.debug({ failed: failed.key, next: next.key, attempt: this.attempts + 1 }, 'downstream connect failed; trying another endpoint');
    return next;
  }

  /** The downstream failed the exchange: recorded with its stable code, answered 502/504 (or 403 for a loop). */
  protected downstreamFailed(err: Error, abort: Error | null = null): void {
    const f = downstreamFailure(err);
    this.failure = { code: f.code, message: errorMessage(err) };
    this.outcome = f.outcome;
    this.ctx.logger.debug({ origin: this.origin, code: f.code, err: errorMessage(err) }, 'downstream failed');
    this.end(f.status, f.error, f.code, !this.req.complete, NO_LINES, abort);
  }

  /**
   * Refuses the request (or the rest of its body): answer, stop the downstream, count the reason.
   * A router's refusal brings its own message and header lines (a 407's Proxy-Authenticate).
   */
  protected reject(reason: RejectReason, refusal?: RouteRefusal): void {
    this.rejected = reason;
    const r = rejection(reason);
    // Debug only: refusals are counted (qproxy_http_rejected_total) and recorded; any client can cause them.
    this.ctx.logger.debug({ reason, client: this.conn.client.address, version: this.req.httpVersion }, 'request refused');
    const error = refusal?.error ?? r.error;
    this.failure = { code: r.code, message: error };
    this.end(r.status, error, r.code, r.close, refusal?.headers ?? NO_LINES, new QProxyError(r.code, error));
  }

  private refuse(reason: RejectReason, refusal?: RouteRefusal): null {
    this.reject(reason, refusal);
    return null;
  }

  /**
   * The end of every exchange, once its client side is over: release the endpoint, count it (as
   * rejected or with its outcome) and, when the recorder admitted it, hand over the draft. A
   * recorder failure never reaches traffic. `statusSent`: null when no response head went out.
   */
  protected report(statusSent: number | null, responseEnded: boolean): void {
    const { ctx } = this;
    this.releaseEndpoint();
    ctx.exchangeEnded();
    const duration = performance.now() - this.t0;
    if (this.rejected !== null) ctx.observer.rejected(this.rejected);
    else ctx.observer.exchange({ outcome: this.outcome, status: statusSent ?? 499, durationSec: duration / 1000, bytesIn: this.bytesIn, bytesOut: this.bytesOut });
    if (!this.recording) return;
    try {
      ctx.recorder.commit(buildHttpDraft(this.draft(duration, statusSent, responseEnded ? duration : null)));
    } catch (err) {
      ctx.logger.warn({ err: errorMessage(err) }, 'recorder threw; record dropped');
    }
  }

  private draft(duration: number, statusSent: number | null, responseEnd: number | null): DraftInput {
    const { req } = this;
    return {
      startedAt: this.startedAt,
      durationMs: duration,
      conn: this.conn,
      origin: this.origin,
      method: req.method ?? '',
      url: (this.route?.recordOrigin ?? '') + this.target,
      httpVersion: req.httpVersion,
      requestHeaders: req.rawHeaders,
      requestBody: this.requestBody,
      requestTrailers: req.rawTrailers,
      response: this.responseDraft(),
      statusSent,
      timings: { request_end: this.requestEnd, response_start: this.responseStart, response_end: responseEnd },
      error: this.failure,
      ...(this.websocket !== undefined && { websocket: this.websocket }),
    };
  }
}
