import type { LookupFunction } from 'node:net';
import type { SecureContext } from 'node:tls';
import type { Endpoint } from '../../discovery/index.js';
import type { RejectReason } from './observer.js';
import type { ConnectionInfo } from './connection-info.js';
import { DownstreamPools, type Downstream, type DownstreamPoolOptions } from './downstream.js';
import type { DownstreamTlsOptions, HttpDownstreams } from './options.js';
import type { ForwardTarget } from './target.js';

/**
 * Where an exchange goes. The reverse proxy has one route for everything (the balanced downstreams
 * of `http.downstream`); the forward proxy has one per origin a client asked for. An exchange asks
 * its server's {@link HttpRouter} once, when the request head is in, and keeps the route.
 *
 * @module
 */

/** The endpoints of one route and how to reach them. */
export interface HttpRoute {
  /** Picks, holds and reports on endpoints (balanced for the reverse proxy; one origin for the forward proxy). */
  readonly downstreams: HttpDownstreams;
  /** The keep-alive pool of an endpoint this route picked. */
  pool(ep: Endpoint): Downstream;
  /** TLS towards https endpoints (upgrades dial with node:https rather than a pool). */
  readonly tls: DownstreamTlsOptions;
  /** Extra options for upgrades' own dials (name resolution, a prepared TLS trust store). */
  readonly dial?: { lookup?: LookupFunction; secureContext?: SecureContext };
  /**
   * Put before the origin-form target in the record's `url`: "" for the reverse proxy (its records
   * keep the target as received), `"https://api.example.com"` for the forward proxy.
   */
  readonly recordOrigin: string;
}

/** A request the router will not route: the reason (counted) and what the client is told. */
export interface RouteRefusal {
  refuse: RejectReason;
  /** Specific, safe to show; replaces the reason's standard text. */
  error: string;
  /** Extra response header lines, flat (`Proxy-Authenticate` on a 407). */
  headers?: readonly string[];
}

/** What a router sees of a request. */
export interface RouteRequest {
  conn: ConnectionInfo;
  target: ForwardTarget;
  /** The client's header block as received (flat raw list). */
  rawHeaders: readonly string[];
}

/** Picks each request's route; the server owns it and closes it after the last exchange. */
export interface HttpRouter {
  route(req: RouteRequest): HttpRoute | RouteRefusal;
  /**
   * "reverse": the request gets `X-Forwarded-For/-Proto/-Host` and `Via` (RFC 9110 §7.6.3).
   * "forward": only `Via`, and the client's `Proxy-Authorization` is consumed: an application's
   * outbound call should reach a third party as sent, without the client's internal addresses.
   */
  readonly mode: 'reverse' | 'forward';
  /** Closes the pools; `force` aborts requests still in flight. */
  close(force: boolean): Promise<void>;
}

export function isRefusal(r: HttpRoute | RouteRefusal): r is RouteRefusal {
  return (r as RouteRefusal).refuse !== undefined;
}

/** The reverse proxy's router: every request takes the balanced downstreams of the listener. */
export class BalancedRouter implements HttpRouter, HttpRoute {
  readonly mode = 'reverse';
  readonly recordOrigin = '';
  readonly downstreams: HttpDownstreams;
  readonly tls: DownstreamTlsOptions;
  private readonly pools: DownstreamPools;

  constructor(opts: DownstreamPoolOptions) {
    this.downstreams = opts.downstreams;
    this.tls = opts.tls;
    this.pools = new DownstreamPools(opts);
  }

  route(): HttpRoute {
    return this;
  }

  pool(ep: Endpoint): Downstream {
    return this.pools.get(ep);
  }

  close(force: boolean): Promise<void> {
    return this.pools.close(force);
  }
}
