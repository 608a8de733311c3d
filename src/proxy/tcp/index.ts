/** The raw TCP proxy (plain or TLS listener, optional TLS to the downstream) with session recording. */
export { TcpProxyServer } from './server.js';
export { MAX_CONNECT_ATTEMPTS, RELAY_HIGH_WATER_MARK } from './dial.js';
export type { DialFailure } from './dial.js';
export { TcpSession } from './session.js';
export type { SessionHost } from './session.js';
export type { TcpDownstreamTls, TcpDownstreams, TcpListenerTls, TcpProxyOptions, TcpTimeouts } from './options.js';
export type { TcpProxyObserver, TcpRejectReason } from './observer.js';
