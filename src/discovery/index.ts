/**
 * Downstream discovery and load balancing, shared by the HTTP and TCP proxies. Depends only on
 * `errors.ts`: nothing here may import from `proxy/` or `config/`.
 */
export { Discovery } from './discovery.js';
export type { DiscoverySnapshot } from './discovery.js';
export type { Endpoint, EndpointStateName, PassiveOptions } from './endpoint.js';
export type { DiscoveryOptions } from './options.js';
export { leastConnections, policies, roundRobin } from './policy.js';
export type { PolicyName, SelectionPolicy } from './policy.js';
export type { HealthCheckOptions } from './probe.js';
export type { Lookup } from './resolve.js';
export { formatHostPort, parseHttpTarget, parseTcpTarget } from './target.js';
export type { DiscoveryTarget } from './target.js';
