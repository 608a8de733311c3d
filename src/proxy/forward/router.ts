import { isIP } from 'node:net';
import type { SecureContext } from 'node:tls';
import type { Logger } from '../../core/log.js';
import { Pool, buildConnector } from 'undici';
import type { Endpoint } from '../../discovery/index.js';
import type { Downstream, DownstreamRow, DownstreamTlsOptions, HttpDownstreams, HttpRoute, HttpRouter, HttpTimeouts, RouteRefusal, RouteRequest } from '../http/index.js';
import { PROXY_AUTHENTICATE, type Denial, type ForwardAccess, type SelfCheck } from './access.js';
import type { ForwardObserver } from './options.js';
import { formatOrigin, splitAuthority } from './origin.js';
import { guardedLookup } from './self-guard.js';

/**
 * The forward proxy's router: one route per origin a client asks for — the `CONNECT host:port` of
 * an intercepted connection (https, or http when the client spoke plain HTTP inside it; the Host
 * inside the tunnel does not redirect it, as in mitmproxy), or the origin of an absolute-form request on the listener itself. Each route has its
 * own keep-alive pool; the least recently used pools beyond `maxOrigins` are closed (gracefully:
 * requests under way finish).
 *
 * @module
 */

export interface ForwardRouterOptions {
  access: ForwardAccess;
  isSelf: SelfCheck;
  /** Trust for the real hosts: a context with Node's roots plus forward.upstream_ca, or undefined for the default. */
  upstreamContext: SecureContext | undefined;
  rejectUnauthorized: boolean;
  timeouts: HttpTimeouts;
  observer: ForwardObserver;
  logger: Logger;
  /** Origins with an open pool at most; default 256. */
  maxOrigins?: number;
}

const DEFAULT_MAX_ORIGINS = 256;

/** One origin: its single endpoint, its pool, and how its records name it. */
class OriginRoute implements HttpRoute, HttpDownstreams {
  readonly downstreams = this;
  readonly recordOrigin: string;
  readonly tls: DownstreamTlsOptions;
  readonly dial: HttpRoute['dial'];
  private readonly endpoint: Endpoint;
  private readonly ds: Downstream;

  constructor(scheme: 'http' | 'https', host: string, port: number, o: ForwardRouterOptions) {
    const tls = scheme === 'https';
    this.recordOrigin = formatOrigin(scheme, host, port);
    const key = isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
    this.endpoint = { key, target: { host, port, tls, label: this.recordOrigin }, address: host, port, active: 0 };
    this.tls = { rejectUnauthorized: o.rejectUnauthorized };
    const lookup = guardedLookup(o.isSelf, port, () => o.observer.denied('loop'));
    this.dial = { lookup, ...(o.upstreamContext !== undefined && { secureContext: o.upstreamContext }) };
    // SNI cannot carry an IP literal (RFC 6066 §3).
    const servername = tls && isIP(host) === 0 ? host : undefined;
    const connect = buildConnector({
      timeout: o.timeouts.downstreamConnectMs,
      lookup,
      ...(tls && { rejectUnauthorized: o.rejectUnauthorized, ...(o.upstreamContext !== undefined && { secureContext: o.upstreamContext }) }),
    });
    const pool = new Pool(`${scheme}://${key}`, {
      connect: (opts, callback) => connect({ ...opts, servername }, callback),
      headersTimeout: o.timeouts.downstreamResponseMs,
      bodyTimeout: o.timeouts.downstreamIdleMs,
    });
    this.ds = { pool, origin: `${scheme}://${key}`, servername: servername ?? key };
  }

  pick(exclude?: ReadonlySet<string>): Endpoint | null {
    return exclude?.has(this.endpoint.key) === true ? null : this.endpoint;
  }

  acquire(): () => void {
    return noop;
  }

  // One endpoint, nothing to balance: connect outcomes do not steer anything.
  reportSuccess(): void {}
  reportFailure(): void {}

  snapshot(): readonly DownstreamRow[] {
    return [{ endpoint: this.endpoint.key, target: this.recordOrigin, retiring: false }];
  }

  pool(): Downstream {
    return this.ds;
  }

  close(force: boolean): Promise<void> {
    return (force ? this.ds.pool.destroy() : this.ds.pool.close()).catch(() => undefined);
  }
}

function noop(): void {}

export class ForwardRouter implements HttpRouter {
  readonly mode = 'forward';
  private readonly routes = new Map<string, OriginRoute>();
  private readonly maxOrigins: number;

  constructor(private readonly o: ForwardRouterOptions) {
    this.maxOrigins = o.maxOrigins ?? DEFAULT_MAX_ORIGINS;
  }

  route(req: RouteRequest): HttpRoute | RouteRefusal {
    const { conn, target } = req;
    if (conn.connect !== undefined) return this.routeFor(conn.proto, conn.connect.host, conn.connect.port);
    const denial = this.o.access.checkClient(conn.client.address, req.rawHeaders);
    if (denial !== null) return this.refuse(denial, conn.client.address, target.authority ?? target.path);
    if (target.authority === null || target.scheme === null) {
      return this.refuse({ reason: 'target', status: 403, message: 'this is a forward proxy: send absolute-form requests (GET http://host/path) or CONNECT host:port' }, conn.client.address, target.path);
    }
    const hp = splitAuthority(target.authority, target.scheme === 'https' ? 443 : 80);
    if (hp === null) return { refuse: 'bad_request', error: `cannot route to ${JSON.stringify(target.authority)}` };
    if (isIP(hp.host) !== 0 && this.o.isSelf(hp.host, hp.port)) {
      const loop: Denial = { reason: 'loop', status: 403, message: `${target.authority} is this QProxy node itself; a forward proxy does not connect to its own listeners` };
      return this.refuse(loop, conn.client.address, target.authority);
    }
    return this.routeFor(target.scheme, hp.host, hp.port);
  }

  async close(force: boolean): Promise<void> {
    const routes = [...this.routes.values()];
    this.routes.clear();
    await Promise.all(routes.map((r) => r.close(force)));
  }

  private routeFor(scheme: 'http' | 'https', host: string, port: number): OriginRoute {
    const key = `${scheme}://${host}:${port}`;
    let route = this.routes.get(key);
    if (route !== undefined) {
      this.routes.delete(key);
    } else {
      route = new OriginRoute(scheme, host, port, this.o);
      if (this.routes.size >= this.maxOrigins) {
        const [oldestKey, oldest] = this.routes.entries().next().value as [string, OriginRoute];
        this.routes.delete(oldestKey);
        void oldest.close(false);
      }
    }
    this.routes.set(key, route);
    return route;
  }

  private refuse(d: Denial, client: string, target: string): RouteRefusal {
    this.o.observer.denied(d.reason);
    this.o.logger.info({ client, target, reason: d.reason }, `forward proxy refused a request: ${d.message}`);
    return {
      refuse: d.status === 407 ? 'proxy_auth_required' : 'forward_denied',
      error: d.message,
      ...(d.status === 407 && { headers: PROXY_AUTHENTICATE }),
    };
  }
}
