import type { ServerOptions } from 'node:http';

/**
 * The request-head and whole-request deadlines of a `node:http` (or `node:https`) server, set so
 * that they fire on time.
 *
 * Node enforces `headersTimeout` and `requestTimeout` in a sweep that runs every
 * `connectionsCheckingInterval` (30 s by default), so a 10 s header timeout closed a silent
 * connection after anything from 10 to 40 s. The sweep starts each connection's clock when it is
 * accepted (for https, when its handshake ends), so it also covers clients that never send a byte.
 * Sweeping every fiftieth of the header timeout (20 to 250 ms) keeps every deadline at most 2 % and
 * 250 ms late. A sweep walks the connections with a request in progress (silent ones included):
 * measured about 1 ms per sweep with 4,000 of them, 0.4 % of a core at 250 ms.
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

/** A fiftieth of the deadline, between 20 and 250 ms. */
export function checkingInterval(deadlineMs: number): number {
  return Math.min(250, Math.max(20, Math.floor(deadlineMs / 50)));
}
