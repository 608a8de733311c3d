/**
 * Playback: the replay engine, the serving listeners and the ports they read the store through.
 * What the composition root, the API and metrics use.
 *
 * @module
 */
export { PlaybackEngine } from './engine.js';
export type { EngineOptions } from './engine.js';
export type { PlaybackObserver } from './observer.js';
export type { ReplayRequest, ReplaysApi, ResultDetail } from './replay-params.js';
export { RESULT_STATUSES } from './results/result.js';
export { resultsPathFor } from './results/schema.js';
export type { ResponseSide } from './compare/types.js';
export { Forwarder } from './serve/forwarder.js';
export { HttpStubServer } from './serve/http-stub-server.js';
export type { MatchRules } from './serve/request-key.js';
export { LiveExclusions } from './source/live-exclusions.js';
export type { ExclusionStore } from './source/live-exclusions.js';
export type { PlaybackStore } from './source/store-port.js';
export { TcpStubServer } from './tcp/tcp-stub-server.js';
