import { performance } from 'node:perf_hooks';
import type { LatencyWindow } from '../core/documents.js';

export interface RecentLatencyOptions {
  /** Upper bounds (seconds) of the buckets, ascending: those of the exported histogram. */
  buckets: readonly number[];
  /** Length of the window in whole seconds; default 10. */
  windowS?: number;
  /** Monotonic milliseconds; tests pass their own clock. */
  now?: () => number;
}


/**
 * Latency percentiles of the last few seconds, for `/api/status` and the web UI's live chart: the
 * same observations and buckets as the Prometheus histogram, kept in one slot per second (a ring)
 * so that old seconds drop out. Quantiles are interpolated inside their bucket as PromQL's
 * histogram_quantile does, so they agree with a dashboard's figure over the same window.
 */
export class RecentLatency {
  private readonly bounds: readonly number[];
  private readonly windowS: number;
  private readonly now: () => number;
  /** One row of bucket counts per slot, plus one count for values above the last bound. */
  private readonly slots: Uint32Array[];
  /** The second each slot holds, -1 when empty. */
  private readonly slotSecond: Float64Array;

  constructor(o: RecentLatencyOptions) {
    this.bounds = o.buckets;
    this.windowS = o.windowS ?? 10;
    this.now = o.now ?? (() => performance.now());
    this.slots = Array.from({ length: this.windowS }, () => new Uint32Array(this.bounds.length + 1));
    this.slotSecond = new Float64Array(this.windowS).fill(-1);
  }

  observe(seconds: number): void {
    if (!(seconds >= 0) || !Number.isFinite(seconds)) return;
    const second = Math.floor(this.now() / 1000);
    const i = second % this.windowS;
    const slot = this.slots[i]!;
    if (this.slotSecond[i] !== second) {
      slot.fill(0);
      this.slotSecond[i] = second;
    }
    let b = 0;
    while (b < this.bounds.length && seconds > this.bounds[b]!) b++;
    slot[b]!++;
  }

  /** p50 and p99 in milliseconds over the window; nulls when nothing was observed in it. */
  quantiles(): LatencyWindow {
    const second = Math.floor(this.now() / 1000);
    const sums = new Float64Array(this.bounds.length + 1);
    let count = 0;
    for (let i = 0; i < this.windowS; i++) {
      const at = this.slotSecond[i]!;
      if (at < 0 || second - at >= this.windowS) continue;
      const slot = this.slots[i]!;
      for (let b = 0; b < slot.length; b++) {
        sums[b]! += slot[b]!;
        count += slot[b]!;
      }
    }
    return { p50: this.quantile(sums, count, 0.5), p99: this.quantile(sums, count, 0.99), count, window_s: this.windowS };
  }

  /** Milliseconds, rounded to µs. Above the last bound, the last bound is the answer (as in PromQL). */
  private quantile(sums: Float64Array, count: number, q: number): number | null {
    if (count === 0) return null;
    const rank = q * count;
    let seen = 0;
    for (let b = 0; b < sums.length; b++) {
      const inBucket = sums[b]!;
      if (seen + inBucket >= rank && inBucket > 0) {
        if (b === this.bounds.length) return round(this.bounds[b - 1]! * 1000);
        const lower = b === 0 ? 0 : this.bounds[b - 1]!;
        const upper = this.bounds[b]!;
        return round((lower + ((upper - lower) * (rank - seen)) / inBucket) * 1000);
      }
      seen += inBucket;
    }
    return round(this.bounds[this.bounds.length - 1]! * 1000);
  }
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
