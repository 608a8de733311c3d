/**
 * Cross-zone sync: one link skeleton (src/sync/link: lifecycle, back-off, failure log, durable
 * cursor, deadline close, the common status keys) with two transports in sibling folders, `peer`
 * (HTTP/2) and `nats` (NATS JetStream). What the node builds a link from; metrics implements the
 * observer port (observer.ts).
 *
 * @module
 */
export type { SyncLink } from './link/sync-link.js';
export type { UpstreamFigures } from './link/sender-core.js';
export type { ReceiverStore, SenderStore, SyncLogger } from './store-port.js';
export type { SyncMetricsObserver } from './observer.js';
export { SyncSender, type SyncSenderOptions } from './peer/sender.js';
export { SyncReceiver, type SyncReceiverOptions } from './peer/receiver.js';
export { readDurableCursor } from './peer/sender-state.js';
export { NatsPublisher, type NatsPublisherOptions } from './nats/publisher.js';
export { NatsConsumer, type NatsConsumerOptions } from './nats/consumer.js';
export { readNatsCursor } from './nats/publisher-state.js';
export { durableName, serverOptions, streamPlan } from './nats/options.js';
