import { connect, isIP } from 'node:net';
import { request as httpRequest, type ClientRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { DiscoveryTarget } from './target.js';
import { formatHostPort } from './target.js';

/** Active health check settings. */
export interface HealthCheckOptions {
  /** `tcp`: a connect succeeds. `http`: GET `path` answers 2xx or 3xx (over TLS for https targets). */
  kind: 'tcp' | 'http';
  /** Request path of `http` checks, e.g. `"/healthz"`. */
  path: string;
  /** Time between checks of one endpoint. */
  intervalMs: number;
  /** A check that has not answered by then failed. */
  timeoutMs: number;
  /** Passing checks in a row that make an unhealthy endpoint healthy. */
  rise: number;
  /** Failed checks in a row that make a healthy endpoint unhealthy. */
  fall: number;
  /** TLS for https targets: pass the options the proxy uses for the downstream. */
  tls?: { ca?: string | Buffer; rejectUnauthorized: boolean; servername?: string };
}

/** Where a probe goes: the resolved address plus the target it came from (Host, SNI, TLS). */
export interface ProbeAddress {
  readonly address: string;
  readonly port: number;
  readonly target: DiscoveryTarget;
}

/**
 * Runs one check; resolves true when it passed. Never rejects: every failure (refused, reset,
 * TLS, status, timeout, abort) is a failed check, and the socket is destroyed before resolving.
 */
export function probe(to: ProbeAddress, hc: HealthCheckOptions, signal: AbortSignal): Promise<boolean> {
  return hc.kind === 'tcp' ? probeTcp(to, hc.timeoutMs, signal) : probeHttp(to, hc, signal);
}

/** Settles once: clears the timeout, detaches from the abort signal, runs `cleanup`. */
function bounded(timeoutMs: number, signal: AbortSignal, run: (finish: (ok: boolean) => void) => () => void): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal.aborted) {
      resolve(false);
      return;
    }
    let settled = false;
    let cleanup: () => void = () => undefined;
    const onAbort = (): void => finish(false);
    const timer = setTimeout(onAbort, timeoutMs);
    timer.unref();
    signal.addEventListener('abort', onAbort, { once: true });
    function finish(ok: boolean): void {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      cleanup();
      resolve(ok);
    }
    cleanup = run(finish);
    if (settled) cleanup();
  });
}

function probeTcp(to: ProbeAddress, timeoutMs: number, signal: AbortSignal): Promise<boolean> {
  return bounded(timeoutMs, signal, (finish) => {
    const socket = connect({ host: to.address, port: to.port });
    socket.on('error', () => finish(false));
    socket.once('connect', () => finish(true));
    return () => socket.destroy();
  });
}

function hostHeader(t: DiscoveryTarget): string {
  if (t.port !== (t.tls ? 443 : 80)) return formatHostPort(t.host, t.port);
  return isIP(t.host) === 6 ? `[${t.host}]` : t.host;
}

function probeHttp(to: ProbeAddress, hc: HealthCheckOptions, signal: AbortSignal): Promise<boolean> {
  return bounded(hc.timeoutMs, signal, (finish) => {
    const options = {
      host: to.address,
      port: to.port,
      path: hc.path,
      method: 'GET',
      // A fresh connection per check: a pooled socket would prove nothing about connecting.
      agent: false as const,
      headers: { host: hostHeader(to.target), 'user-agent': 'qproxy-health-check', connection: 'close' },
    };
    let req: ClientRequest;
    if (to.target.tls) {
      req = httpsRequest({
        ...options,
        ca: hc.tls?.ca,
        rejectUnauthorized: hc.tls?.rejectUnauthorized ?? true,
        // SNI cannot carry an IP literal (RFC 6066 §3).
        servername: hc.tls?.servername ?? (isIP(to.target.host) === 0 ? to.target.host : undefined),
      });
    } else {
      req = httpRequest(options);
    }
    req.on('error', () => finish(false));
    req.on('response', (res) => {
      res.on('error', () => undefined);
      const status = res.statusCode ?? 0;
      finish(status >= 200 && status < 400);
    });
    req.end();
    return () => req.destroy();
  });
}
