import { Gauge, Histogram } from 'prom-client';
import type { Registry } from 'prom-client';
import type {
  BatchAckedEvent,
  BatchStoredEvent,
  SenderGauges,
  SyncFailureReason,
  SyncMetricsObserver,
  SyncRejectReason,
  UpstreamLink,
} from '../sync/observer.js';
import { GATE_REFUSALS, type GateRefusal } from '../net/connection-gate.js';
import { ReasonCounter } from './reason-counter.js';
import { ScrapedCounter } from './scraped-counter.js';

export type { SyncMetricsObserver } from '../sync/observer.js';

/**
 * Sync lag spans a loopback hop (tens of ms) to a catch-up after an outage of hours, so the buckets
 * run from 50 ms to a day.
 */
export const LAG_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 14_400, 86_400];
/** One batch round trip: a loopback ack (ms) to a large batch over a slow link (tens of seconds). */
export const BATCH_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

const BATCH_COMBOS = [
  { role: 'sender', outcome: 'ok' },
  { role: 'sender', outcome: 'failed' },
  { role: 'receiver', outcome: 'ok' },
  { role: 'receiver', outcome: 'rejected' },
] as const;
const B = { sentOk: 0, sentFailed: 1, receivedOk: 2, receivedRejected: 3 } as const;

const RECORD_COMBOS = [
  { role: 'sender', outcome: 'sent' },
  { role: 'sender', outcome: 'refused' },
  { role: 'receiver', outcome: 'stored' },
  { role: 'receiver', outcome: 'duplicate' },
  { role: 'receiver', outcome: 'rejected' },
] as const;
const R = { sent: 0, refused: 1, stored: 2, duplicate: 3, rejected: 4 } as const;

const BYTE_COMBOS = [
  { role: 'sender', kind: 'wire' },
  { role: 'sender', kind: 'raw' },
  { role: 'receiver', kind: 'wire' },
  { role: 'receiver', kind: 'raw' },
] as const;
const Y = { sentWire: 0, sentRaw: 1, receivedWire: 2, receivedRaw: 3 } as const;

type Child = ReturnType<Histogram['labels']>;

/**
 * `qproxy_sync_*`: batches, records and bytes on both sides of the link, failures by reason, the
 * sender's backlog, and sync lag (receive or acknowledgement time minus record time). Counters keep
 * their sums in arrays (see ScrapedCounter); gauges are read from the sender/receiver on scrape.
 */
export class SyncMetrics implements SyncMetricsObserver {
  private readonly batches: ScrapedCounter<'role' | 'outcome'>;
  private readonly records: ScrapedCounter<'role' | 'outcome'>;
  private readonly bytes: ScrapedCounter<'role' | 'kind'>;
  private readonly failures: ReasonCounter;
  private readonly senderLag: Child;
  private readonly receiverLag: Child;
  private readonly batchSeconds: Histogram;
  private senderGauges: (() => SenderGauges) | null = null;
  private receiverPeers: (() => number) | null = null;
  private receiverConnections: (() => { open: number; untrusted: number }) | null = null;
  private readonly refusedConnections: ScrapedCounter<'reason'>;
  private upstream: (() => readonly UpstreamLink[]) | null = null;

  constructor(registry: Registry) {
    const registers = [registry];
    this.batches = new ScrapedCounter(
      {
        name: 'qproxy_sync_batches_total',
        help: 'Sync batches: sent and acknowledged or failed (sender), stored or rejected (receiver).',
        labelNames: ['role', 'outcome'],
        registers,
      },
      BATCH_COMBOS,
    );
    this.records = new ScrapedCounter(
      {
        name: 'qproxy_sync_records_total',
        help: 'Sync entries (records or TCP segments): sent or refused for good (sender); stored, duplicate or rejected (receiver).',
        labelNames: ['role', 'outcome'],
        registers,
      },
      RECORD_COMBOS,
    );
    this.bytes = new ScrapedCounter(
      {
        name: 'qproxy_sync_bytes_total',
        help: 'Bytes of acknowledged (sender) or stored (receiver) batches: wire = compressed body, raw = before compression.',
        labelNames: ['role', 'kind'],
        registers,
      },
      BYTE_COMBOS,
    );
    this.refusedConnections = new ScrapedCounter(
      {
        name: 'qproxy_sync_connections_refused_total',
        help: 'Receiver: connections to the sync listener refused at accept, or closed for not passing the access checks within sync.auth_timeout, by reason.',
        labelNames: ['reason'],
        registers,
      },
      GATE_REFUSALS.map((reason) => ({ reason })),
    );
    this.failures = new ReasonCounter({
      name: 'qproxy_sync_failures_total',
      help: 'Failed sync attempts (sender) and refused batches (receiver), by reason.',
      registers,
    });
    const lag = new Histogram({
      name: 'qproxy_sync_lag_seconds',
      help: 'Sync delay per record: receive time (receiver) or acknowledgement time (sender) minus the record\'s start time.',
      labelNames: ['role'] as const,
      buckets: LAG_BUCKETS,
      registers,
    });
    this.senderLag = lag.labels('sender');
    this.receiverLag = lag.labels('receiver');
    this.batchSeconds = new Histogram({
      name: 'qproxy_sync_batch_duration_seconds',
      help: 'Sender: time from sending a batch to its acknowledgement.',
      buckets: BATCH_BUCKETS,
      registers,
    });
    this.registerGauges(registers);
  }

  batchAcked(e: BatchAckedEvent): void {
    this.batches.add(B.sentOk, 1);
    this.records.add(R.sent, e.records);
    this.bytes.add(Y.sentWire, e.wireBytes);
    this.bytes.add(Y.sentRaw, e.rawBytes);
    this.batchSeconds.observe(e.seconds);
    for (const s of e.lagSeconds) this.senderLag.observe(s);
  }

  sendFailed(reason: SyncFailureReason): void {
    this.batches.add(B.sentFailed, 1);
    this.failures.add(reason, 1);
  }

  recordsRefused(count: number): void {
    this.records.add(R.refused, count);
  }

  batchStored(e: BatchStoredEvent): void {
    this.batches.add(B.receivedOk, 1);
    this.records.add(R.stored, e.stored);
    this.records.add(R.duplicate, e.skipped);
    this.bytes.add(Y.receivedWire, e.wireBytes);
    this.bytes.add(Y.receivedRaw, e.rawBytes);
    for (const s of e.lagSeconds) this.receiverLag.observe(s);
  }

  batchRefused(reason: SyncRejectReason, records: number): void {
    this.batches.add(B.receivedRejected, 1);
    this.records.add(R.rejected, records);
    this.failures.add(reason, 1);
  }

  setSenderGauges(fn: () => SenderGauges): void {
    this.senderGauges = fn;
  }

  setReceiverPeers(fn: () => number): void {
    this.receiverPeers = fn;
  }

  connectionRefused(reason: GateRefusal): void {
    const i = GATE_REFUSALS.indexOf(reason);
    if (i >= 0) this.refusedConnections.add(i, 1);
  }

  setReceiverConnections(fn: () => { open: number; untrusted: number }): void {
    this.receiverConnections = fn;
  }

  setUpstream(fn: () => readonly UpstreamLink[]): void {
    this.upstream = fn;
  }

  /** Failures by reason since start, for `/api/status`. */
  failuresByReason(): Record<string, number> {
    return this.failures.byReason();
  }

  private registerGauges(registers: Registry[]): void {
    // A failing or missing source leaves a gauge where it was instead of failing the whole scrape.
    const sender = (key: keyof SenderGauges): number | null => {
      try {
        const v = this.senderGauges?.()[key];
        return typeof v === 'boolean' ? Number(v) : typeof v === 'number' && Number.isFinite(v) ? v : null;
      } catch {
        return null;
      }
    };
    const gauge = (name: string, help: string, read: () => number | null): Gauge =>
      new Gauge({
        name,
        help,
        registers,
        collect() {
          const v = read();
          if (v !== null) this.set(v);
        },
      });
    gauge('qproxy_sync_pending_records', 'Sender: records (or grown TCP sessions) not yet acknowledged by the peer.', () => sender('pendingRecords'));
    gauge('qproxy_sync_pending_bytes', 'Sender: stored bytes of those records.', () => sender('pendingBytes'));
    gauge('qproxy_sync_cursor', 'Sender: store seq up to which every record was acknowledged (durable).', () => sender('cursor'));
    gauge('qproxy_sync_purged_unsent_records', 'Sender: records the store size limit purged before they were sent (since the store was created).', () =>
      sender('purgedUnsent'),
    );
    const upstream = (): readonly UpstreamLink[] => {
      try {
        return this.upstream?.() ?? [];
      } catch {
        return [];
      }
    };
    const linkGauge = (name: string, help: string, value: (l: UpstreamLink) => number | null): Gauge<'stream' | 'domain'> =>
      new Gauge({
        name,
        help,
        labelNames: ['stream', 'domain'] as const,
        registers,
        collect() {
          // Rebuilt on each scrape: a source removed from the stream disappears from the series.
          this.reset();
          for (const l of upstream()) {
            const v = value(l);
            if (v !== null) this.labels(l.stream, l.domain ?? '').set(v);
          }
        },
      });
    linkGauge(
      'qproxy_sync_upstream_lag_messages',
      'Playback on NATS: messages of a zone A stream not yet copied into this zone\'s mirror or sourced stream.',
      (l) => l.lag_messages,
    );
    linkGauge(
      'qproxy_sync_upstream_last_active_seconds',
      'Playback on NATS: seconds since this zone\'s mirror or source last heard from the zone A stream (grows while the link is cut).',
      (l) => (l.last_active_ms === null ? null : l.last_active_ms / 1000),
    );
    const connections = new Gauge({
      name: 'qproxy_sync_receiver_connections',
      help: 'Receiver: connections open on the sync listener, by whether they passed the access checks (token, client certificate) yet.',
      labelNames: ['state'] as const,
      registers,
      collect: () => {
        try {
          const c = this.receiverConnections?.();
          if (c === undefined) return;
          connections.set({ state: 'authenticated' }, c.open - c.untrusted);
          connections.set({ state: 'unauthenticated' }, c.untrusted);
        } catch {
          // Leave the gauge where it was rather than fail the whole scrape.
        }
      },
    });
    gauge('qproxy_sync_connected', 'Sender: 1 while the HTTP/2 connection to the peer is up. Receiver: peer connections open that passed the access checks.', () => {
      if (this.senderGauges) return sender('connected');
      try {
        return this.receiverPeers?.() ?? null;
      } catch {
        return null;
      }
    });
  }
}
