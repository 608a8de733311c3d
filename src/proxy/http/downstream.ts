import { isIP } from 'node:net';
import { Pool, buildConnector } from 'undici';
import type { DiscoveryTarget, Endpoint } from '../../discovery/index.js';
import { formatHostPort } from '../../discovery/index.js';
import { DownstreamError } from '../../core/errors.js';
import type { DownstreamRow, DownstreamTlsOptions, HttpDownstreams, HttpTimeouts } from './options.js';

/**
 * The keep-alive pools behind the balanced downstream endpoints: one undici Pool per endpoint
 * (resolved address and port), created on first use. The pool's origin is the configured target
 * (`https://svc.internal:8443`), so undici's default Host and the TLS server name stay the host
 * name, while its connector dials the endpoint's address.
 *
 * @module
 */

/** Attempts per request: a dead endpoint costs a client at most this many connect failures. */
export const MAX_CONNECT_ATTEMPTS = 3;

/** Default period of the look for pools whose endpoint left the downstream set. */
export const POOL_SWEEP_MS = 5_000;

/** One endpoint's pool and what every request to it needs. */
export interface Downstream {
  readonly pool: Pool;
  /** `"http://10.0.0.5:8081"`: the endpoint as records name it. */
  readonly origin: string;
  /**
   * Passed as undici's per-request `servername`. undici compares it with the connection's and
   * reconnects when they differ; left out, it would derive one from each client's Host, so a
   * connection would be torn down whenever two clients name the site differently. The real SNI
   * comes from the connector ({@link serverNameOf}), so this only has to be constant per pool.
   */
  readonly servername: string;
}

/** SNI and the name the certificate must carry: the configured one, else the target's host name (none for an IP). */
export function serverNameOf(target: DiscoveryTarget, tls: DownstreamTlsOptions): string | undefined {
  return tls.servername ?? (isIP(target.host) === 0 ? target.host : undefined);
}

/** `"http://10.0.0.5:8081"` / `"https://[::1]:8443"`: the origin of the endpoint actually used. */
export function endpointOrigin(ep: Endpoint): string {
  return `${ep.target.tls ? 'https' : 'http'}://${ep.key}`;
}

/** Host field for a request that came without one: the target's host, with its port unless the default. */
export function defaultHostOf(target: DiscoveryTarget): string {
  if (target.port !== (target.tls ? 443 : 80)) return formatHostPort(target.host, target.port);
  return isIP(target.host) === 6 ? `[${target.host}]` : target.host;
}

/**
 * After a connect-time failure on `failed`: the endpoint to try next, or null when the attempts
 * are used up or no other endpoint is left. Adds `failed` to `tried`.
 */
export function nextEndpoint(downstreams: HttpDownstreams, tried: Set<string>, failed: Endpoint, attempts: number): Endpoint | null {
  if (attempts >= MAX_CONNECT_ATTEMPTS) return null;
  tried.add(failed.key);
  return downstreams.pick(tried);
}

/** The failure of a request for which pick() found nothing: every endpoint retiring, or none resolved. */
export function noEndpoint(): DownstreamError {
  return new DownstreamError('QP_ERR_DOWNSTREAM_CONNECT', 'no downstream endpoint is available; check the downstream host names and DNS');
}

/** What the pools need: the endpoints, TLS trust for https targets and the downstream timeouts. */
export interface DownstreamPoolOptions {
  downstreams: HttpDownstreams;
  tls: DownstreamTlsOptions;
  timeouts: HttpTimeouts;
  /** How often pools of endpoints that left the set are closed. */
  sweepMs: number;
}

/** The pools, by target label and then endpoint key (two targets may resolve to one address). */
export class DownstreamPools {
  private readonly byTarget = new Map<string, Map<string, Downstream>>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(private readonly opts: DownstreamPoolOptions) {
    this.sweeper = setInterval(() => this.sweep(), opts.sweepMs);
    this.sweeper.unref();
  }

  /** The endpoint's pool, created on first use. */
  get(ep: Endpoint): Downstream {
    let byKey = this.byTarget.get(ep.target.label);
    if (byKey === undefined) {
      byKey = new Map();
      this.byTarget.set(ep.target.label, byKey);
    }
    let ds = byKey.get(ep.key);
    if (ds === undefined) {
      ds = this.create(ep);
      byKey.set(ep.key, ds);
    }
    return ds;
  }

  /**
   * Closes the pools of endpoints that are retiring or gone. `Pool.close()` lets the requests
   * under way finish first; no new ones arrive, since pick() never returns such an endpoint.
   */
  sweep(rows: readonly DownstreamRow[] = this.opts.downstreams.snapshot()): void {
    const live = new Set<string>();
    for (const r of rows) if (!r.retiring) live.add(`${r.target}\n${r.endpoint}`);
    for (const [label, byKey] of this.byTarget) {
      for (const [key, ds] of byKey) {
        if (live.has(`${label}\n${key}`)) continue;
        byKey.delete(key);
        ds.pool.close().catch(() => undefined);
      }
      if (byKey.size === 0) this.byTarget.delete(label);
    }
  }

  private create(ep: Endpoint): Downstream {
    const { tls, timeouts } = this.opts;
    const target = ep.target;
    const servername = target.tls ? serverNameOf(target, tls) : undefined;
    const base = buildConnector({
      timeout: timeouts.downstreamConnectMs,
      ...(target.tls ? { ca: tls.ca, rejectUnauthorized: tls.rejectUnauthorized } : {}),
    });
    const address = ep.address;
    // undici would dial the origin's host name; the endpoint is an address discovery resolved.
    const connect: buildConnector.connector = (o, callback) => base({ ...o, hostname: address, servername }, callback);
    const pool = new Pool(`${target.tls ? 'https' : 'http'}://${formatHostPort(target.host, target.port)}`, {
      connect,
      headersTimeout: timeouts.downstreamResponseMs,
      bodyTimeout: timeouts.downstreamIdleMs,
    });
    return { pool, origin: endpointOrigin(ep), servername: servername ?? ep.key };
  }

  /** Graceful when nothing is in flight; `force` aborts whatever is left. */
  async close(force: boolean): Promise<void> {
    clearInterval(this.sweeper);
    const pools = [...this.byTarget.values()].flatMap((byKey) => [...byKey.values()].map((ds) => ds.pool));
    this.byTarget.clear();
    await Promise.all(pools.map((p) => (force ? p.destroy() : p.close()).catch(() => undefined)));
  }
}
