/** The record store: SQLite, written by one worker thread, read on the main thread. */
export { Store } from './store.js';
export { SCHEMA_VERSION } from './schema.js';
export type { IngestChain, ListQuery, ListResult, StoreHealth, StoreLogger, StoreObserver, StoreOptions, StoreStats } from './types.js';
export type { IngestResult } from './writer-protocol.js';
export type { TcpFrom } from './reader.js';
export type { FeedItem, StoredFeedItem, StoredHttp } from './feed-item.js';
export type { LazyHttpRecord, StoredBody } from './stored-body.js';
export type { IngestTally } from './meta-keys.js';
export type { ReceivedHttp } from './record-frames.js';
