/**
 * @module The HTTP API (SPEC §7) on its own node:http listener: records, status, metrics and
 * probes, and the web UI's files and login when it is mounted. Request flow:
 *
 *   request ─ shape (headers, no body) ─ route? ─ public? ───────────────────────────────────────────┐
 *                                                 └ no ─ Host guard ─ anonymous? ────────────────────┤
 *                                                                     └ no ─ bearer token or session ┴ method ─ handler
 *
 * Every error, whoever raised it, becomes JSON in one place (errorReply).
 */
import { lookup } from 'node:dns/promises';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { isIP } from 'node:net';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from '../core/log.js';
import { ListenError, errorMessage } from '../core/errors.js';
import { listen } from '../core/listen.js';
import { httpServerTimeouts } from '../net/http-server-timeouts.js';
import { ApiError, UnsafeBindError, errorReply } from './api-errors.js';
import { BearerAuth } from './bearer-auth.js';
import { HostGuard, isLoopbackAddress } from './host-guard.js';
import { CLIENT_ERROR_REPLIES, toWire, writeReply } from './http-reply.js';
import type { WireReply } from './http-reply.js';
import { allowedMethods, handlerFor, Router } from './router.js';
import type { Reply, Route } from './router.js';
import { apiRoutes } from './routes.js';
import type { ApiRecords } from './routes.js';
import type { RecordImporter } from './har-routes.js';
import type { ReplaysApi } from './replay-routes.js';

export type { ApiRecords, RecordPage } from './routes.js';
export type { ReplaysApi } from './replay-routes.js';
export type { RecordImporter } from './har-routes.js';
export type { RecordQuery } from './records-query.js';
export type { Reply, RequestContext, Route } from './router.js';
export { ApiError } from './api-errors.js';
export { BearerAuth } from './bearer-auth.js';

export interface ApiOptions {
  host: string;
  /** 0 picks a free port (tests); `listen()` returns the one chosen. */
  port: number;
  /** Bearer token for every route but /healthz and /readyz; unset or empty = no authentication. */
  token?: string;
  /** Extra names the API may be called by (besides loopback names and the bound address). */
  allowedHosts: string[];
  records: ApiRecords;
  /** The whole /api/status document (a StatusDoc, core/documents.ts), built by the wiring; served as it is. */
  status: () => object;
  metrics: { render(): Promise<string>; contentType: string };
  /** /readyz: true when ready; false while the node drains; a reason when something else is wrong (e.g. the store file). */
  ready: () => boolean | string;
  logger: Logger;
  /** Replays of a Playback node (the /api/replays routes); absent on Record nodes. */
  replays?: ReplaysApi;
  /** QProxy's version, the `creator.version` of HAR exports; default "unknown". */
  version?: string;
  /**
   * Takes HAR imports (`POST /api/records?format=har`): the store of a Playback node. Absent on
   * Record nodes, whose store feeds sync; imports there answer 409.
   */
  importer?: RecordImporter;
  /** Time a connection gets to deliver a request head, and a whole request; default 10 s and 30 s. */
  timeouts?: { headerReadMs: number; requestMs: number };
  /** The web UI (src/ui): its routes and the cookie sessions it logs browsers in with; absent when `api.ui` is false. */
  ui?: ApiUi;
}

/** Cookie sessions: the second way, besides the bearer token, that a call is authenticated. */
export interface CookieSessions {
  /**
   * True when the request's cookies name a live session. Throws a 403 ApiError
   * (QP_ERR_API_CSRF) for a state-changing call of a session that lacks its CSRF token.
   */
  authenticate(req: IncomingMessage): boolean;
}

export interface ApiUi {
  routes: readonly Route[];
  sessions: CookieSessions;
}

// The API carries small answers and no request bodies but small JSON ones on POST; these bounds keep a misbehaving or hostile
// client from holding sockets or memory. Header limits follow reliability.md §1.2.
const MAX_HEADER_BYTES = 16 * 1024;
const MAX_HEADER_COUNT = 100;
/** Largest POST body (a replay request with its filters and rules) unless the route allows more (HAR imports). */
const MAX_BODY_BYTES = 64 * 1024;
const HEADERS_TIMEOUT_MS = 10_000;
const REQUEST_TIMEOUT_MS = 30_000;
const KEEP_ALIVE_TIMEOUT_MS = 5_000;
const SOCKET_IDLE_TIMEOUT_MS = 60_000;
/** Most connections the API holds at once (the node's start-up file-handle check counts them too). */
export const API_MAX_CONNECTIONS = 256;
/** In-flight API calls get this long after close() before their sockets are cut. */
const CLOSE_GRACE_MS = 5_000;

/** The API listener. `listen()` once, `close()` any number of times. */
export class ApiServer {
  private readonly server: Server;
  private readonly router: Router;
  private readonly auth: BearerAuth;
  private readonly hosts: HostGuard;
  private readonly log: Logger;
  private startup: Promise<AddressInfo> | null = null;
  private closing: Promise<void> | null = null;

  constructor(private readonly o: ApiOptions) {
    this.log = o.logger.child({ component: 'api' });
    this.auth = new BearerAuth(o.token);
    this.hosts = new HostGuard(o.allowedHosts);
    this.router = new Router(
      apiRoutes({
        records: o.records,
        status: o.status,
        metrics: o.metrics,
        ready: o.ready,
        audit: this.log,
        ...(o.replays !== undefined && { replays: o.replays }),
        version: o.version ?? 'unknown',
        ...(o.importer !== undefined && { importer: o.importer }),
      }).concat(o.ui?.routes ?? []),
    );
    const timeouts = o.timeouts ?? { headerReadMs: HEADERS_TIMEOUT_MS, requestMs: REQUEST_TIMEOUT_MS };
    this.server = createServer(
      {
        maxHeaderSize: MAX_HEADER_BYTES,
        // Also closes connections that never send a byte, on time (Node's default sweep is every 30 s).
        ...httpServerTimeouts(timeouts.headerReadMs, timeouts.requestMs),
        keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
      },
      (req, res) => this.onRequest(req, res),
    );
    this.server.maxConnections = API_MAX_CONNECTIONS;
    this.server.setTimeout(SOCKET_IDLE_TIMEOUT_MS);
    this.server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => this.onClientError(err, socket));
  }

  /**
   * Starts listening. Refuses (UnsafeBindError, QP_ERR_API_UNSAFE_BIND) to listen beyond loopback
   * without a token; a bind failure is a ListenError naming the address.
   */
  listen(): Promise<AddressInfo> {
    if (this.startup !== null) {
      return Promise.reject(new ListenError('the API server was already started; create a new one'));
    }
    this.startup = this.start();
    return this.startup;
  }

  /**
   * Stops accepting, lets in-flight calls finish (up to a few seconds), then cuts what is left.
   * Idempotent; also stops a listen() still in progress.
   */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async start(): Promise<AddressInfo> {
    await this.assertSafeBind();
    const address = await listen(
      this.server,
      this.o.host,
      this.o.port,
      (err) => `the API could not listen on ${this.o.host}:${this.o.port} (${err.code ?? errorMessage(err)}); free the port or choose another api.port/api.host`,
    );
    this.server.on('error', (err) => this.log.error({ err }, 'API server error'));
    this.hosts.bound(this.o.host, address.address);
    this.log.info({ address: address.address, port: address.port, auth: this.auth.enabled }, 'API listening');
    return address;
  }

  private async shutdown(): Promise<void> {
    // A listen() in flight finishes (or fails) first, so that no socket is left listening.
    await this.startup?.catch(() => undefined);
    if (!this.server.listening) return;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    // After close(), so that no connection accepted in between is missed (Node docs).
    this.server.closeIdleConnections();
    const force = setTimeout(() => this.server.closeAllConnections(), CLOSE_GRACE_MS);
    force.unref();
    await closed;
    clearTimeout(force);
  }

  private async assertSafeBind(): Promise<void> {
    if (this.auth.enabled || (await resolvesToLoopbackOnly(this.o.host))) return;
    throw new UnsafeBindError(
      `api.host "${this.o.host}" is reachable from other machines and no API token is set, so anyone ` +
        'could read and delete recordings: set an API token, or bind the API to 127.0.0.1',
    );
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    this.handle(req, res).catch((err: unknown) => {
      this.log.error({ err }, 'API response failed');
      res.destroy();
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = performance.now();
    let wire: WireReply;
    try {
      wire = toWire(await this.dispatch(req));
    } catch (err) {
      wire = toWire(this.replyForError(err, req));
    }
    // A POST answered before its body was read (refused, unknown route) leaves bytes on the socket.
    await writeReply(res, wire, this.closing !== null || (req.method === 'POST' && !req.readableEnded));
    this.log.debug(
      { method: req.method, path: pathOf(req.url), status: wire.status, ms: Math.round(performance.now() - started) },
      'API request',
    );
  }

  private async dispatch(req: IncomingMessage): Promise<Reply> {
    checkRequestShape(req);
    const url = req.url ?? '';
    const match = this.router.match(pathOf(url));
    if (!match?.route.public) {
      this.hosts.check(req.headers.host);
      if (!match?.route.anonymous) this.authenticate(req);
    }
    if (match === undefined) {
      throw new ApiError(404, 'QP_ERR_API_NOT_FOUND', `no API route ${JSON.stringify(pathOf(url).slice(0, 200))}`);
    }
    const handler = handlerFor(match.route, req.method);
    if (handler === undefined) {
      const allow = allowedMethods(match.route).join(', ');
      throw new ApiError(405, 'QP_ERR_API_METHOD_NOT_ALLOWED', `${req.method} is not allowed here; use ${allow}`, {
        Allow: allow,
      });
    }
    const body = req.method === 'POST' ? await readJsonBody(req, match.route.maxBodyBytes ?? MAX_BODY_BYTES) : null;
    return handler({ req, params: match.params, query: new URLSearchParams(queryOf(url)), body });
  }

  /** A bearer token, or else a web UI session cookie; a wrong token is refused even with a valid cookie. */
  private authenticate(req: IncomingMessage): void {
    if (!this.auth.enabled) return;
    if (req.headers.authorization === undefined && this.o.ui?.sessions.authenticate(req) === true) return;
    this.auth.check(req.headers.authorization);
  }

  private replyForError(err: unknown, req: IncomingMessage): Reply {
    const reply = errorReply(err);
    if (reply.internal) {
      this.log.error({ err, method: req.method, path: pathOf(req.url) }, 'API call failed');
    } else if (reply.status === 401 || reply.status === 403 || reply.status === 421 || reply.status === 429) {
      // Never the header values themselves: they may hold (wrong but real) secrets.
      this.log.warn({ code: reply.body.code, path: pathOf(req.url), client: req.socket.remoteAddress }, 'API request refused');
    }
    return { status: reply.status, json: reply.body, headers: { ...reply.headers } };
  }

  private onClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
    // Node's documented pattern: nothing can be answered on a reset or already-closed socket.
    if (err.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    const reply =
      err.code === 'HPE_HEADER_OVERFLOW'
        ? CLIENT_ERROR_REPLIES.headersTooLarge
        : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
          ? CLIENT_ERROR_REPLIES.timeout
          : CLIENT_ERROR_REPLIES.badRequest;
    socket.end(reply);
  }
}

/** Header count (Node truncates long header lists silently) and bodies (the API takes none). */
function checkRequestShape(req: IncomingMessage): void {
  if (req.rawHeaders.length / 2 > MAX_HEADER_COUNT) {
    throw new ApiError(431, 'QP_ERR_API_HEADERS_TOO_LARGE', `more than ${MAX_HEADER_COUNT} request headers`, {
      Connection: 'close',
    });
  }
  const length = req.headers['content-length'];
  if (req.method !== 'POST' && ((length !== undefined && length !== '0') || req.headers['transfer-encoding'] !== undefined)) {
    // The body is never read: closing the connection after the answer discards it.
    throw new ApiError(413, 'QP_ERR_API_BODY_NOT_ALLOWED', 'API calls take no request body', { Connection: 'close' });
  }
  if (!req.url?.startsWith('/')) {
    throw new ApiError(400, 'QP_ERR_API_BAD_REQUEST', 'the request target must be a path such as /api/records');
  }
}

/**
 * Reads a POST body of at most `limit` bytes. JSON only: a content type browsers cannot send
 * cross-origin without a preflight (which this API never answers) keeps pages from forging calls.
 */
async function readJsonBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/json') {
    throw new ApiError(415, 'QP_ERR_API_UNSUPPORTED_MEDIA_TYPE', 'send the body as JSON with Content-Type: application/json', {
      Connection: 'close',
    });
  }
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) {
    throw new ApiError(413, 'QP_ERR_API_BODY_NOT_ALLOWED', `the body is larger than ${limit} bytes, the most this call takes`, { Connection: 'close' });
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) {
      throw new ApiError(413, 'QP_ERR_API_BODY_NOT_ALLOWED', `the body is larger than ${limit} bytes, the most this call takes`, { Connection: 'close' });
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

function pathOf(url: string | undefined): string {
  const u = url ?? '';
  const q = u.indexOf('?');
  return q < 0 ? u : u.slice(0, q);
}

function queryOf(url: string): string {
  const q = url.indexOf('?');
  return q < 0 ? '' : url.slice(q + 1);
}

async function resolvesToLoopbackOnly(host: string): Promise<boolean> {
  if (host === '') return false;
  if (isIP(host) !== 0) return isLoopbackAddress(host);
  if (host.toLowerCase() === 'localhost') return true;
  try {
    const addresses = await lookup(host, { all: true });
    return addresses.length > 0 && addresses.every((a) => isLoopbackAddress(a.address));
  } catch (err) {
    throw new ListenError(`api.host "${host}" does not resolve (${errorMessage(err)}); use an IP address`, { cause: err });
  }
}
