import { Counter } from 'prom-client';
import type { Registry } from 'prom-client';

export interface ScrapedCounterConfig<L extends string> {
  name: string;
  help: string;
  registers: Registry[];
  labelNames: readonly L[];
}

/**
 * A Prometheus counter over a fixed set of label combinations whose values live in a plain array.
 * The hot path only adds to an array slot; prom-client picks up the difference on scrape through
 * `collect` (the pattern prom-client itself uses for process_cpu_seconds_total). A labelled
 * prom-client child would resolve and hash its labels on every `inc`, several hundred
 * nanoseconds per call on a path that runs once per proxied request.
 */
export class ScrapedCounter<L extends string> {
  private readonly values: Float64Array;
  private readonly reported: Float64Array;

  /** `combos[i]` names slot `i`. Every combination is exported from the start, at 0. */
  constructor(config: ScrapedCounterConfig<L>, private readonly combos: readonly Record<L, string>[]) {
    this.values = new Float64Array(combos.length);
    this.reported = new Float64Array(combos.length);
    const counter: Counter<L> = new Counter<L>({ ...config, collect: () => this.flush(counter) });
    for (const labels of combos) counter.inc(labels, 0);
  }

  /** Adds `amount` to slot `index`; callers pass finite, non-negative amounts. */
  add(index: number, amount: number): void {
    this.values[index]! += amount;
  }

  /** Current value of slot `index`. */
  value(index: number): number {
    return this.values[index]!;
  }

  private flush(counter: Counter<L>): void {
    for (let i = 0; i < this.combos.length; i++) {
      const delta = this.values[i]! - this.reported[i]!;
      if (delta > 0) {
        counter.inc(this.combos[i]!, delta);
        this.reported[i] = this.values[i]!;
      }
    }
  }
}
