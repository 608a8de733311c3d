/**
 * The HTTP/HTTPS reverse proxy: what the composition root needs.
 *
 * @module
 */
export { HttpProxyServer } from './server.js';
export type { DownstreamRow, DownstreamTlsOptions, HttpDownstreams, HttpLimits, HttpProxyOptions, HttpTimeouts, ListenerTlsOptions } from './options.js';
export type { ExchangeEvent, ExchangeOutcome, HttpProxyObserver, RejectReason } from '../observer.js';
export { sanitizeHopByHop } from './hop-by-hop.js';
export { downstreamFailure } from './failures.js';
export type { FailureResponse } from './failures.js';
