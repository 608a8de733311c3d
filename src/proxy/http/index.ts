/**
 * The HTTP/HTTPS reverse proxy: what the composition root needs.
 *
 * @module
 */
export { HttpProxyServer } from './server.js';
export type { DownstreamRow, DownstreamTlsOptions, HttpDownstreams, HttpLimits, HttpProxyOptions, HttpTimeouts, ListenerTlsOptions } from './options.js';
export type { ExchangeEvent, ExchangeOutcome, HttpProxyObserver, RejectReason } from './observer.js';
export { sanitizeHopByHop } from './hop-by-hop.js';
export { buildTrustList, describeSocket, normalizeAddress } from './connection-info.js';
export type { ConnectionInfo } from './connection-info.js';
export type { Downstream } from './downstream.js';
export type { HttpRoute, HttpRouter, RouteRefusal, RouteRequest } from './route.js';
export type { ForwardTarget } from './target.js';
export { errorBody, rejection } from './failures.js';
export { downstreamFailure } from './failures.js';
export type { FailureResponse } from './failures.js';
