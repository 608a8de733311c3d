import { Gauge } from 'prom-client';
import type { Registry } from 'prom-client';
import type { StoreStats } from '../store/index.js';
import { SKIP_REASONS, type SkipReason } from '../recording/selector.js';
import { ReasonCounter } from './reason-counter.js';
import { ScrapedCounter } from './scraped-counter.js';

/** What the store reports to metrics. */
export interface StoreMetricsObserver {
  /** Records durably written, and their size in bytes. */
  stored(count: number, bytes: number): void;
  /** Records the store gave up on (queue full, write failed), by reason. */
  dropped(reason: string, count: number): void;
  /** Records deleted on purpose (retention, max_size, API delete), by reason. */
  purged(reason: string, count: number, bytes: number): void;
  /** Records lost with a store file deleted while open (a fresh file took its place). */
  lost(count: number, bytes: number): void;
  /** Opening cut `bytes` (`frames` complete frames) written after the last commit off the last segment. */
  tailCut(bytes: number, frames: number): void;
  /** Records whose stored bytes could not be read back (skipped by sync and live replay). */
  damaged(count: number): void;
}

const SKIP_PROTOCOLS = ['http', 'tcp'] as const;

/** What the recorder reports to metrics. */
export interface RecorderMetricsObserver {
  dropped(reason: string, count: number): void;
  /** A TCP session's relay was paused until the store had room (`on_overload: "backpressure"`). */
  paused(): void;
  /** One exchange or session not recorded because the recording rules left it out. */
  skipped(protocol: 'http' | 'tcp', reason: SkipReason): void;
}

/** Store figures read on every scrape. */
export type StoreFigures = Pick<StoreStats, 'count' | 'bytes' | 'queueDepth'>;

/** Store health read on every scrape. */
export interface StoreHealthFigures {
  healthy: boolean;
}

function positive(n: number): boolean {
  return n > 0 && Number.isFinite(n);
}

/**
 * Recording and storage metrics. Recorder and store drops share one counter: for an operator a
 * lost record is a lost record, and the reasons tell the stages apart.
 */
export class RecordMetrics {
  readonly dropped: ReasonCounter;
  readonly store: StoreMetricsObserver;
  readonly recorder: RecorderMetricsObserver;

  private readonly stored: ScrapedCounter<never>;
  private readonly skipped: ScrapedCounter<'protocol' | 'reason'>;
  private readonly storedBytes: ScrapedCounter<never>;
  private storeStats: (() => StoreFigures) | null = null;
  private storeHealth: (() => StoreHealthFigures) | null = null;

  constructor(registry: Registry) {
    const registers = [registry];
    const unlabelled = (name: string, help: string): ScrapedCounter<never> =>
      new ScrapedCounter({ name, help, labelNames: [], registers }, [{}]);
    this.stored = unlabelled('qproxy_records_stored_total', 'Records durably written to the store.');
    this.storedBytes = unlabelled('qproxy_recorded_bytes_total', 'Bytes of records durably written to the store.');
    this.dropped = new ReasonCounter({
      name: 'qproxy_records_dropped_total',
      help: 'Records lost before reaching the store (recorder or store), by reason.',
      registers,
    });
    const purged = new ReasonCounter({
      name: 'qproxy_records_purged_total',
      help: 'Records deleted from the store on purpose, by reason.',
      registers,
    });
    const purgedBytes = new ReasonCounter({
      name: 'qproxy_records_purged_bytes_total',
      help: 'Bytes of records deleted from the store on purpose, by reason.',
      registers,
    });
    const lost = unlabelled('qproxy_store_lost_records_total', 'Records lost because the store file was deleted while open (a fresh file took its place).');
    const lostBytes = unlabelled('qproxy_store_lost_bytes_total', 'Bytes of those records.');
    const tailCuts = unlabelled('qproxy_store_tail_cuts_total', 'Times opening the store cut bytes written after the last commit (a crash mid-batch) off the last segment.');
    const tailCutBytes = unlabelled('qproxy_store_tail_cut_bytes_total', 'Bytes cut that way.');
    const damaged = unlabelled('qproxy_store_damaged_records_total', 'Records whose stored bytes failed their checksum (or whose segment is missing) when read by sync or live replay; they are skipped.');
    this.registerStoreGauges(registers);
    // Slot = protocol index × reasons + reason index: a fixed, tiny set of series, all exported from 0.
    this.skipped = new ScrapedCounter(
      {
        name: 'qproxy_recording_skipped_total',
        help: 'Exchanges (http) and sessions (tcp) not recorded because recording.include / exclude / sample left them out, by reason.',
        labelNames: ['protocol', 'reason'],
        registers,
      },
      SKIP_PROTOCOLS.flatMap((protocol) => SKIP_REASONS.map((reason) => ({ protocol, reason }))),
    );

    this.store = {
      stored: (count, bytes) => {
        if (positive(count)) this.stored.add(0, count);
        if (positive(bytes)) this.storedBytes.add(0, bytes);
      },
      dropped: (reason, count) => this.dropped.add(reason, count),
      purged: (reason, count, bytes) => {
        purged.add(reason, count);
        purgedBytes.add(reason, bytes);
      },
      lost: (count, bytes) => {
        if (positive(count)) lost.add(0, count);
        if (positive(bytes)) lostBytes.add(0, bytes);
      },
      tailCut: (bytes) => {
        tailCuts.add(0, 1);
        if (positive(bytes)) tailCutBytes.add(0, bytes);
      },
      damaged: (count) => {
        if (positive(count)) damaged.add(0, count);
      },
    };
    const paused = unlabelled(
      'qproxy_tcp_recording_paused_total',
      'Times a TCP session stopped reading until the store had room again (tcp.recording.on_overload "backpressure").',
    );
    this.recorder = {
      dropped: (reason, count) => this.dropped.add(reason, count),
      paused: () => paused.add(0, 1),
      skipped: (protocol, reason) => {
        const r = SKIP_REASONS.indexOf(reason);
        if (r >= 0) this.skipped.add((protocol === 'tcp' ? SKIP_REASONS.length : 0) + r, 1);
      },
    };
  }

  /** Skips since start, over both protocols, by reason (every reason present, 0 when none). */
  skippedByReason(): Record<SkipReason, number> {
    const n = SKIP_REASONS.length;
    const out = {} as Record<SkipReason, number>;
    SKIP_REASONS.forEach((reason, r) => (out[reason] = this.skipped.value(r) + this.skipped.value(n + r)));
    return out;
  }

  /** Records durably stored since start. */
  get recorded(): number {
    return this.stored.value(0);
  }

  get recordedBytes(): number {
    return this.storedBytes.value(0);
  }

  setStoreStats(fn: () => StoreFigures): void {
    this.storeStats = fn;
  }

  setStoreHealth(fn: () => StoreHealthFigures): void {
    this.storeHealth = fn;
  }

  private registerStoreGauges(registers: Registry[]): void {
    // Read on scrape: the wiring's function must be cheap (running counters, not a COUNT(*)
    // query). A failing or missing function leaves the gauges where they were instead of
    // failing the whole scrape.
    const read = (key: keyof StoreFigures): number | null => {
      try {
        const value = this.storeStats?.()[key];
        return typeof value === 'number' && Number.isFinite(value) ? value : null;
      } catch {
        return null;
      }
    };
    const gauge = (name: string, help: string, key: keyof StoreFigures): Gauge =>
      new Gauge({
        name,
        help,
        registers,
        collect() {
          const value = read(key);
          if (value !== null) this.set(value);
        },
      });
    gauge('qproxy_store_records', 'Records in the store.', 'count');
    gauge('qproxy_store_bytes', 'Bytes of records in the store.', 'bytes');
    gauge('qproxy_store_queue_depth', 'Records accepted by the store, waiting to be written.', 'queueDepth');
    const health = (): number | null => {
      try {
        const h = this.storeHealth?.();
        return h ? (h.healthy ? 1 : 0) : null;
      } catch {
        return null;
      }
    };
    new Gauge({
      name: 'qproxy_store_healthy',
      help: 'Whether the store writes to the file at storage.path (0 after it was deleted or replaced while open, until recovered).',
      registers,
      collect() {
        const value = health();
        if (value !== null) this.set(value);
      },
    });
  }
}
