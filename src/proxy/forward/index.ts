/**
 * The forward proxy (issue 15): absolute-form requests and CONNECT, with interception by QProxy's
 * CA or byte tunnels, behind access rules. What the composition root needs.
 *
 * @module
 */
export { ForwardAccess, PROXY_AUTHENTICATE, proxyCredentials } from './access.js';
export type { AccessOptions, Denial, SelfCheck } from './access.js';
export { ConnectHandler } from './connect.js';
export { hostMatcher } from './host-patterns.js';
export type { ConnectOptions, ForwardDenyReason, ForwardObserver, InterceptSink } from './options.js';
export { formatOrigin, splitAuthority } from './origin.js';
export { rawAnswer } from './answer.js';
export { ForwardProxyServer, upstreamContext } from './server.js';
export type { ForwardProxyOptions } from './server.js';
export { resolveAll, selfCheck } from './self-guard.js';
export type { BoundListener } from './self-guard.js';
export type { TunnelOptions } from './tunnel.js';
