import type { SenderStatusCommon } from '../../core/documents.js';
import { notifyObserver } from '../../core/observer-guard.js';
import { Backoff } from '../backoff.js';
import { lagSeconds, recordTime, type RecordTimes } from '../lag.js';
import type { SyncFailureReason, SyncMetricsObserver } from '../observer.js';
import type { SenderStore, SyncLogger } from '../store-port.js';
import { DurableCursor, type CursorLayout } from './durable-cursor.js';
import { FeedPoller, type FeedSource } from './feed-poller.js';
import { LinkLog } from './link-log.js';
import { PendingFigures } from './pending.js';

/** The recording side of the ledger, since this process started (from metrics). */
export interface UpstreamFigures {
  /** Exchanges and TCP sessions proxied. */
  proxied: number;
  /** Records (and TCP segments) durably stored. */
  recorded: number;
  /** Records lost before the store, by reason. */
  dropped: Record<string, number>;
}

/** The counters every sending link keeps beside its cursor. */
export type SentCounter = 'sent_records' | 'sent_bytes';

/** What every sending transport is configured with (the node wires it from `peer` or `nats`). */
export interface SendingLinkOptions {
  /** This node's id: the origin the other side records. */
  nodeId: string;
  store: SenderStore;
  backoffInitialMs: number;
  backoffMaxMs: number;
  /** How often the store is checked for new records once everything is sent. */
  pollIntervalMs: number;
  observer?: SyncMetricsObserver;
  logger: SyncLogger;
  /** The recording side of the ledger (proxied, recorded, dropped since start). */
  upstream?: () => UpstreamFigures;
}

export interface SenderCoreOptions<C extends string, T extends string> extends SendingLinkOptions {
  cursor: CursorLayout<C | SentCounter, T>;
  /** The other side (peer "host:port", or the NATS stream), kept with the cursor. */
  target: string;
  /** Starts the log lines of failures ("sync", "NATS sync"). */
  logPrefix: string;
  /** Whether the link is up now (gauges). */
  connected: () => boolean;
  /** The oldest record sent and not yet acknowledged, when known without a store read. */
  oldestInFlight?: () => RecordTimes | undefined;
}

/** A failure as a sending link reports it. */
export interface SendFailure {
  reason: SyncFailureReason;
  code: string;
  message: string;
}

/** Where a sending link is in its lifecycle, for the status `state`. */
export interface LinkPhase {
  stopping: boolean;
  connected: boolean;
  /** Waiting out a back-off. */
  retrying: boolean;
  nextRetryAt: string | null;
}

/**
 * What the two sending transports (the peer sender and the NATS publisher) share: the durable
 * cursor and its ledger counters, the back-off, the log of failures, the figures every sender
 * reports since start (last success, last error, lag, records and bytes sent) with the metrics
 * that go with them, the common keys of the status document, and the poller of the store's feed.
 * A transport cuts the feed into what it sends, sends, and tells the core what was acknowledged
 * and what failed.
 */
export class SenderCore<C extends string, T extends string> {
  readonly cursor: DurableCursor<C | SentCounter, T>;
  readonly pending: PendingFigures;
  readonly backoff: Backoff;
  readonly log: LinkLog;
  /** Since start. */
  readonly sent = { records: 0, rawBytes: 0, wireBytes: 0 };
  private lastSuccessAt: string | null = null;
  private lastError: SenderStatusCommon['last_error'] = null;
  private lastLagMs: number | null = null;

  constructor(private readonly opts: SenderCoreOptions<C, T>) {
    this.cursor = new DurableCursor(opts.store, opts.cursor, opts.target, opts.logger);
    this.pending = new PendingFigures(opts.store, opts.oldestInFlight);
    this.backoff = new Backoff(opts.backoffInitialMs, opts.backoffMaxMs);
    this.log = new LinkLog(opts.logger, opts.logPrefix);
    opts.observer?.setSenderGauges(() => {
      const p = this.pending.read(this.cursor.cursor);
      return { connected: opts.connected(), cursor: this.cursor.durableCursor, pendingRecords: p.count, pendingBytes: p.bytes, purgedUnsent: this.pending.purged().records };
    });
  }

  /**
   * The poller of `source`, reading from the cursor on; it calls `wake` when the poll timer fires.
   * `dryRereadMs`: how long a feed found empty is not read again (0: read on every ask).
   */
  feed<U>(source: FeedSource<U>, wake: () => void, dryRereadMs: number): FeedPoller<U> {
    const { pollIntervalMs: intervalMs, logger, logPrefix } = this.opts;
    const poller = new FeedPoller(source, { wake, intervalMs, dryRereadMs, logger, logPrefix });
    poller.reset(this.cursor.cursor);
    return poller;
  }

  /** The other side acknowledged `records` (`raw` bytes encoded, `wire` sent, in `seconds`): figures, metrics, back-off. */
  acked(records: readonly RecordTimes[], a: { raw: number; wire: number; seconds: number }): void {
    const now = Date.now();
    const newest = records.reduce((t, r) => Math.max(t, recordTime(r)), 0);
    this.lastLagMs = Math.max(0, now - newest);
    this.lastSuccessAt = new Date(now).toISOString();
    this.sent.records += records.length;
    this.sent.rawBytes += a.raw;
    this.sent.wireBytes += a.wire;
    const lags = lagSeconds(records, now);
    this.observe((o) => o.batchAcked({ records: records.length, rawBytes: a.raw, wireBytes: a.wire, seconds: a.seconds, lagSeconds: lags }));
    this.backoff.reset();
  }

  /** A send attempt failed: status and metrics get every failure (the log only changes, see {@link LinkLog}). */
  failed(f: SendFailure): void {
    this.lastError = { code: f.code, reason: f.reason, message: f.message, at: new Date().toISOString(), attempts: this.backoff.attempts + 1 };
    this.observe((o) => o.sendFailed(f.reason));
  }

  observe(fn: (o: SyncMetricsObserver) => void): void {
    notifyObserver(this.opts.observer, this.opts.logger, 'sync metrics', fn);
  }

  /** The status keys every sending link reports. */
  status(phase: LinkPhase): SenderStatusCommon {
    const figures = this.cursor.figures;
    const p = this.pending.read(figures.cursor);
    const up = this.opts.upstream?.();
    return {
      role: 'sender',
      state: phase.stopping ? 'stopped' : phase.connected ? 'connected' : phase.retrying ? 'backoff' : 'connecting',
      connected: phase.connected,
      last_success_at: this.lastSuccessAt,
      last_error: this.lastError,
      next_retry_at: phase.nextRetryAt,
      cursor: figures.cursor,
      last_seq: this.pending.lastSeq(),
      pending: { records: p.count, bytes: p.bytes },
      lag_ms: this.lastLagMs,
      behind_ms: p.count > 0 && p.oldest !== null ? Math.max(0, Date.now() - p.oldest) : 0,
      ledger: {
        node_id: this.opts.nodeId,
        proxied: up?.proxied ?? null,
        recorded: up?.recorded ?? null,
        dropped: up?.dropped ?? null,
        purged_unsent: this.pending.purged(),
        sent: figures.sent_records,
        sent_bytes: figures.sent_bytes,
        pending: p.count,
      },
    };
  }
}
