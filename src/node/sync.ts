/**
 * Builds the cross-zone sync components from the configuration: the sender on a Record node with a
 * `peer` (HTTP/2) or a `nats` section (NATS JetStream publisher), the receiver on a Playback node
 * (HTTP/2 listener, or the NATS JetStream consumer with a `nats` section). The composition root
 * (node.ts) starts them after the store and stops them before it; both report into `/api/status`
 * `sync`.
 */
import type { AddressInfo } from 'node:net';
import type { QProxyConfig } from '../config/schema.js';
import type { ConsumerStatus, PublisherStatus, ReceiverStatus, SenderStatus } from '../core/documents.js';
import {
  NatsConsumer,
  NatsPublisher,
  SyncReceiver,
  SyncSender,
  durableName,
  readDurableCursor,
  readNatsCursor,
  serverOptions,
  streamPlan,
  type ReceiverStore,
  type SenderStore,
  type SyncLink,
  type SyncLogger,
  type SyncMetricsObserver,
  type UpstreamFigures,
} from '../sync/index.js';
import { readPem } from './tls-files.js';

/** What the sync components need from the node. */
export interface SyncDeps {
  store: SenderStore & ReceiverStore;
  metrics: {
    sync: SyncMetricsObserver;
    totals(): { requests: number; recorded: number; dropped_by_reason: Record<string, number> };
    tcpTotals?(): { sessions: number; active: number };
  };
  logger: SyncLogger & { child?(bindings: object): SyncLogger };
}

function childLogger(logger: SyncDeps['logger']): SyncLogger {
  return logger.child ? logger.child({ module: 'sync' }) : logger;
}

function upstreamOf(metrics: SyncDeps['metrics']): () => UpstreamFigures {
  return () => {
    const t = metrics.totals();
    const tcp = metrics.tcpTotals?.();
    return { proxied: t.requests + (tcp ? tcp.sessions + tcp.active : 0), recorded: t.recorded, dropped: t.dropped_by_reason };
  };
}

/** The NATS section when it selects the NATS JetStream backend. */
function natsOf(config: QProxyConfig): NonNullable<QProxyConfig['nats']> | null {
  return config.nats?.enabled ? config.nats : null;
}

/** The HTTP/2 sender of a Record node with a `peer` section (and no `nats`); null otherwise. Throws ConfigError for unreadable PEM files. */
export function createSyncSender(config: QProxyConfig, deps: SyncDeps): SyncLink<void, SenderStatus> | null {
  if (natsOf(config)) return null;
  const peer = config.peer;
  if (config.mode !== 'Record' || !peer) return null;
  return new SyncSender({
    nodeId: config.node_id,
    peer: {
      host: peer.host,
      port: peer.port,
      tls: peer.tls,
      ...(peer.token !== undefined && { token: peer.token }),
      ...(peer.ca !== undefined && { ca: readPem(peer.ca, 'peer.ca') }),
      ...(peer.cert !== undefined && { cert: readPem(peer.cert, 'peer.cert') }),
      ...(peer.key !== undefined && { key: readPem(peer.key, 'peer.key') }),
    },
    timers: {
      connectTimeoutMs: peer.connect_timeout,
      pingIntervalMs: peer.ping_interval,
      pingTimeoutMs: peer.ping_timeout,
      ackTimeoutMs: peer.ack_timeout,
    },
    batch: { maxRecords: peer.batch_max_records, maxBytes: peer.batch_max_bytes },
    compression: peer.compression,
    streams: peer.streams,
    backoffInitialMs: peer.backoff_initial,
    backoffMaxMs: peer.backoff_max,
    pollIntervalMs: peer.poll_interval,
    store: deps.store,
    observer: deps.metrics.sync,
    logger: childLogger(deps.logger),
    upstream: upstreamOf(deps.metrics),
  });
}

/** The HTTP/2 receiver of a Playback node without `nats`; null otherwise. Throws ConfigError for unreadable PEM files. */
export function createSyncReceiver(config: QProxyConfig, deps: SyncDeps): SyncLink<AddressInfo, ReceiverStatus> | null {
  if (config.mode !== 'Playback' || natsOf(config)) return null;
  const sync = config.sync;
  return new SyncReceiver({
    host: sync.host,
    port: sync.port,
    ...(sync.tls && {
      tls: {
        cert: readPem(sync.tls.tls_cert, 'sync.tls.tls_cert'),
        key: readPem(sync.tls.tls_key, 'sync.tls.tls_key'),
        ...(sync.tls.ca !== undefined && { ca: readPem(sync.tls.ca, 'sync.tls.ca') }),
      },
    }),
    ...(sync.token !== undefined && { token: sync.token }),
    allowedClients: sync.allowed_clients,
    maxBatchBytes: sync.max_batch_bytes,
    limits: { maxConnections: sync.max_connections, maxConnectionsPerAddress: sync.max_connections_per_address, authTimeoutMs: sync.auth_timeout },
    store: deps.store,
    observer: deps.metrics.sync,
    logger: childLogger(deps.logger),
  });
}

/**
 * The NATS JetStream side of a node with a `nats` section: the publisher on a Record node, the
 * durable consumer on a Playback node (which then opens no sync listener); null without one.
 * Throws ConfigError for unreadable creds or TLS files.
 */
export function createNatsSync(config: QProxyConfig, deps: SyncDeps): SyncLink<void, PublisherStatus | ConsumerStatus> | null {
  const nats = natsOf(config);
  if (!nats) return null;
  const plan = streamPlan(nats);
  const common = {
    nodeId: config.node_id,
    server: serverOptions(nats),
    stream: plan,
    subjects: plan.subjects,
    backoffInitialMs: nats.backoff_initial,
    backoffMaxMs: nats.backoff_max,
    store: deps.store,
    observer: deps.metrics.sync,
    logger: childLogger(deps.logger),
  };
  return config.mode === 'Record'
      ? new NatsPublisher({
          ...common,
          maxInFlight: nats.max_in_flight,
          publishTimeoutMs: nats.publish_timeout,
          compression: nats.compression,
          compressMinBytes: nats.compress_min_bytes,
          pollIntervalMs: nats.poll_interval,
          upstream: upstreamOf(deps.metrics),
        })
      : new NatsConsumer({
          ...common,
          durable: durableName(nats, config.node_id),
          group: nats.group ?? null,
          batch: nats.batch,
          ackWaitMs: nats.ack_wait,
          maxAckPending: nats.max_ack_pending,
        });
}

/**
 * The store's retention floor on a Record node with a `peer` or `nats`: records above the durable
 * sync cursor are kept by retention until sent (only `storage.max_size` may purge them, and that loss is counted).
 * Pass it as `StoreOptions.purgeFloor`; `store` is called lazily, so it may be assigned after open
 * (until then the floor is 0: retention keeps everything for that round).
 */
export function syncPurgeFloor(config: QProxyConfig, store: () => Pick<SenderStore, 'getMeta'> | null): (() => number) | undefined {
  if (config.mode !== 'Record' || (!config.peer && !natsOf(config))) return undefined;
  // The cursor of the backend in use: NATS keeps its own, apart from the peer sender's.
  const read = natsOf(config) ? readNatsCursor : readDurableCursor;
  return () => {
    const s = store();
    return s ? read((k) => s.getMeta(k)) : 0;
  };
}
