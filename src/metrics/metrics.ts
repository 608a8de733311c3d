/**
 * @module One node's Prometheus metrics: a private prom-client Registry (never the global one,
 * so several nodes can live in one process, as they do in tests) plus the observer objects the
 * proxy, recorder and store report to. Metric names and labels are listed in docs/metrics.md.
 */
import { Registry, collectDefaultMetrics } from 'prom-client';
import { CpuWindow } from './cpu-window.js';
import { ForwardMetrics } from './forward-metrics.js';
import { HttpMetrics } from './http-metrics.js';
import type { HttpMetricsObserver } from './http-metrics.js';
import { BYTES_SLOT, createProxyBytes } from './proxy-bytes.js';
import type { ScrapedCounter } from './scraped-counter.js';
import { TcpMetrics } from './tcp-metrics.js';
import type { TcpMetricsObserver } from './tcp-metrics.js';
import { SyncMetrics } from './sync-metrics.js';
import { PlaybackMetrics } from './playback-metrics.js';
import { RecordMetrics } from './record-metrics.js';
import type { RecorderMetricsObserver, StoreHealthFigures, StoreFigures, StoreMetricsObserver } from './record-metrics.js';
import type { LatencyWindow, RecordingStatus, ResourcesStatus } from '../core/documents.js';

export type { HttpExchangeEvent, HttpMetricsObserver, HttpOutcome } from './http-metrics.js';
export type { RecorderMetricsObserver, StoreHealthFigures, StoreFigures, StoreMetricsObserver } from './record-metrics.js';
export type { TcpMetricsObserver } from './tcp-metrics.js';
export type { ForwardConnectMode, ForwardDenyReason, ForwardMetricsObserver } from './forward-metrics.js';
export type { SyncMetricsObserver } from './sync-metrics.js';
export type { PlaybackGauges, PlaybackObserver } from './playback-metrics.js';

export interface MetricsOptions {
  /**
   * Export prom-client's process metrics (CPU seconds, resident memory, heap, event-loop lag,
   * file descriptors, GC) with the `qproxy_` prefix. Default true. They start an event-loop
   * delay monitor and a GC observer that live as long as the process, so tests that build many
   * Metrics turn them off.
   */
  collectDefault?: boolean;
}

/** Counters since start, for `/api/status`: exchanges, and the figures of its `recording` section. */
export interface TotalFigures extends Omit<RecordingStatus, 'enabled'> {
  /** Proxied exchanges, whatever their outcome. */
  requests: number;
  /** Exchanges that did not end "ok" (downstream error, timeout, client abort). */
  errors: number;
}

/** TCP session counters since start, for `/api/status`. */
export interface TcpFigures {
  /** Sessions ended, whatever the outcome. */
  sessions: number;
  /** Sessions open now. */
  active: number;
  /** Sessions that ended in a reset, a connect or TLS failure, or another error. */
  errors: number;
}

/** All metrics of one QProxy node. */
export class Metrics {
  readonly registry: Registry;
  readonly http: HttpMetricsObserver;
  readonly store: StoreMetricsObserver;
  readonly recorder: RecorderMetricsObserver;
  /** The TCP proxy's observer. */
  readonly tcp: TcpMetricsObserver;
  /** The sync sender's and receiver's observer (`qproxy_sync_*`). */
  readonly sync: SyncMetrics;
  /** Playback's observer (`qproxy_playback_*`): replay results, lateness, serving hits and misses. */
  readonly playback: PlaybackMetrics;
  /** The forward proxy's observer (`qproxy_forward_*`). */
  readonly forward: ForwardMetrics;

  private readonly proxyBytes: ScrapedCounter<'protocol' | 'direction'>;
  private readonly httpMetrics: HttpMetrics;
  private readonly tcpMetrics: TcpMetrics;
  private readonly recordMetrics: RecordMetrics;
  private readonly cpu = new CpuWindow();

  constructor(opts: MetricsOptions = {}) {
    this.registry = new Registry();
    this.proxyBytes = createProxyBytes(this.registry);
    this.httpMetrics = new HttpMetrics(this.registry, this.proxyBytes);
    this.tcpMetrics = new TcpMetrics(this.registry, this.proxyBytes);
    this.tcp = this.tcpMetrics;
    this.sync = new SyncMetrics(this.registry);
    this.playback = new PlaybackMetrics(this.registry);
    this.forward = new ForwardMetrics(this.registry);
    this.recordMetrics = new RecordMetrics(this.registry);
    this.http = this.httpMetrics;
    this.store = this.recordMetrics.store;
    this.recorder = this.recordMetrics.recorder;
    if (opts.collectDefault ?? true) collectDefaultMetrics({ register: this.registry, prefix: 'qproxy_' });
  }

  /** Content type of {@link render}'s output (Prometheus text format 0.0.4). */
  get contentType(): string {
    return this.registry.contentType;
  }

  /**
   * Source of the store gauges (records, bytes, queue depth), read on every scrape. Called once
   * by the wiring; a later call replaces the function.
   */
  setStoreStats(fn: () => StoreFigures): void {
    this.recordMetrics.setStoreStats(fn);
  }

  /** Source of `qproxy_store_healthy`, read on every scrape. */
  setStoreHealth(fn: () => StoreHealthFigures): void {
    this.recordMetrics.setStoreHealth(fn);
  }

  resources(): ResourcesStatus {
    const mem = process.memoryUsage();
    return {
      cpu_percent: this.cpu.percent(),
      rss_bytes: mem.rss,
      heap_used_bytes: mem.heapUsed,
      net_rx_bytes: this.proxyBytes.value(BYTES_SLOT.httpRx) + this.proxyBytes.value(BYTES_SLOT.tcpRx),
      net_tx_bytes: this.proxyBytes.value(BYTES_SLOT.httpTx) + this.proxyBytes.value(BYTES_SLOT.tcpTx),
    };
  }

  totals(): TotalFigures {
    return {
      requests: this.httpMetrics.requestCount,
      errors: this.httpMetrics.errorCount,
      recorded: this.recordMetrics.recorded,
      recorded_bytes: this.recordMetrics.recordedBytes,
      dropped: this.recordMetrics.dropped.sum,
      dropped_by_reason: this.recordMetrics.dropped.byReason(),
      ...this.skips(),
    };
  }

  private skips(): { skipped: number; skipped_by_reason: Record<string, number> } {
    const byReason = this.recordMetrics.skippedByReason();
    return { skipped: Object.values(byReason).reduce((a, b) => a + b, 0), skipped_by_reason: byReason };
  }

  /** HTTP exchange latency over the last seconds (from the duration histogram's observations). */
  recentLatency(): LatencyWindow {
    return this.httpMetrics.recent.quantiles();
  }

  tcpTotals(): TcpFigures {
    const t = this.tcpMetrics;
    return { sessions: t.sessionCount, active: t.activeCount, errors: t.errorCount };
  }

  /** Every metric in Prometheus text format. */
  render(): Promise<string> {
    return this.registry.metrics();
  }
}
