import type { ServerOptions } from 'node:http';

/**
 * The request-head and whole-request deadlines of a `node:http` (or `node:https`) server, set so
 * that they fire on time.
 *
 * Node enforces `headersTimeout` and `requestTimeout` in a sweep that runs every
 * `connectionsCheckingInterval` (30 s by default), so a 10 s header timeout closed a silent
 * connection after anything from 10 to 40 s. The sweep starts each connection's clock when it is
 * accepted (for https, when its handshake ends), so it also covers clients that never send a byte.
 * Sweeping every twentieth of the header timeout (50 ms to 1 s) keeps every deadline at most 5 %
 * or 1 s late; the sweep only walks connections with a request in progress.
 *
 * @module
 */

/** Node's timeout options for a head deadline of `headerReadMs` and a whole-request deadline of `requestMs` (0 = off). */
export function httpServerTimeouts(headerReadMs: number, requestMs: number): Required<Pick<ServerOptions, 'headersTimeout' | 'requestTimeout' | 'connectionsCheckingInterval'>> {
  // Node refuses a head deadline beyond the whole-request one; the earlier of the two is what applies anyway.
  const headersTimeout = requestMs > 0 ? Math.min(headerReadMs, requestMs) : headerReadMs;
  return {
    headersTimeout,
    requestTimeout: requestMs,
    connectionsCheckingInterval: checkingInterval(headersTimeout),
  };
}

/** A twentieth of the deadline, between 50 ms and 1 s. */
export function checkingInterval(deadlineMs: number): number {
  return Math.min(1_000, Math.max(50, Math.floor(deadlineMs / 20)));
}
