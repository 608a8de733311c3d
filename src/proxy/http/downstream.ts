import { Pool } from 'undici';
import type { DownstreamTlsOptions, HttpTimeouts } from './options.js';
import { ConfigError } from '../../errors.js';

/**
 * Downstream selection and the keep-alive pools behind it: one undici Pool per origin, created on
 * first use and reused for every request to that origin.
 *
 * @module
 */

/**
 * Chooses the downstream for the next exchange. Load balancing arrives with the discovery
 * component; until then the first configured origin serves everything.
 */
export function pickDownstream(downstreams: readonly string[]): string {
  return downstreams[0]!;
}

/** Normalises and checks configured origins ("http://host:port" or "https://…"). */
export function parseDownstreams(downstreams: readonly string[]): string[] {
  if (downstreams.length === 0) throw new ConfigError('downstreams: at least one origin is needed (e.g. "http://127.0.0.1:8081")');
  return downstreams.map((d) => {
    let url: URL;
    try {
      url = new URL(d);
    } catch {
      throw new ConfigError(`downstreams: "${d}" is not a URL; expected an origin like "http://127.0.0.1:8081"`);
    }
    if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.username !== '' || (url.pathname !== '/' && url.pathname !== '')) {
      throw new ConfigError(`downstreams: "${d}" must be an http:// or https:// origin without path or credentials`);
    }
    return url.origin;
  });
}

/** What the pools need: TLS trust for https origins and the downstream timeouts. */
export interface DownstreamPoolOptions {
  tls: DownstreamTlsOptions;
  timeouts: HttpTimeouts;
}

/** The pools, keyed by origin. */
export class DownstreamPools {
  private readonly pools = new Map<string, Pool>();

  constructor(private readonly opts: DownstreamPoolOptions) {}

  get(origin: string): Pool {
    let pool = this.pools.get(origin);
    if (pool === undefined) {
      pool = this.create(origin);
      this.pools.set(origin, pool);
    }
    return pool;
  }

  private create(origin: string): Pool {
    const { tls, timeouts } = this.opts;
    const https = origin.startsWith('https:');
    return new Pool(origin, {
      connect: {
        timeout: timeouts.downstreamConnectMs,
        ...(https ? { ca: tls.ca, rejectUnauthorized: tls.rejectUnauthorized, servername: tls.servername } : {}),
      },
      headersTimeout: timeouts.downstreamResponseMs,
      bodyTimeout: timeouts.downstreamIdleMs,
    });
  }

  /** Graceful when nothing is in flight; `force` aborts whatever is left. */
  async close(force: boolean): Promise<void> {
    const pools = [...this.pools.values()];
    this.pools.clear();
    await Promise.all(pools.map((p) => (force ? p.destroy() : p.close()).catch(() => undefined)));
  }
}
