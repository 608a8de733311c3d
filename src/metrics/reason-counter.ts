import { Counter } from 'prom-client';
import type { Registry } from 'prom-client';

/**
 * Label values beyond this many distinct reasons are folded into {@link OTHER_REASON}: reasons
 * come from other components' code, and a bug there (say, an error message used as a reason)
 * must not grow a Prometheus series per distinct string.
 */
export const MAX_REASONS = 32;
export const OTHER_REASON = 'other';

interface Tally {
  value: number;
  reported: number;
}

/**
 * A counter labelled by one free-form `reason`, with a bounded number of label values. Like
 * {@link ScrapedCounter} it keeps the sums itself (a Map lookup per event) and hands prom-client
 * the differences on scrape; `/api/status` reads the same sums synchronously.
 */
export class ReasonCounter {
  private readonly tallies = new Map<string, Tally>();
  private total = 0;

  constructor(config: { name: string; help: string; registers: Registry[] }) {
    const counter: Counter<'reason'> = new Counter({
      ...config,
      labelNames: ['reason'] as const,
      collect: () => this.flush(counter),
    });
  }

  /** Adds `amount` (finite, > 0; anything else is ignored so an observer never throws). */
  add(reason: string, amount: number): void {
    if (!(amount > 0) || !Number.isFinite(amount)) return;
    let tally = this.tallies.get(reason);
    if (tally === undefined) {
      const key = this.tallies.size < MAX_REASONS ? String(reason) : OTHER_REASON;
      tally = this.tallies.get(key) ?? { value: 0, reported: 0 };
      this.tallies.set(key, tally);
    }
    tally.value += amount;
    this.total += amount;
  }

  /** Sum over every reason. */
  get sum(): number {
    return this.total;
  }

  /** Per-reason sums, only reasons that were counted at least once. */
  byReason(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [reason, tally] of this.tallies) out[reason] = tally.value;
    return out;
  }

  private flush(counter: Counter<'reason'>): void {
    for (const [reason, tally] of this.tallies) {
      const delta = tally.value - tally.reported;
      if (delta > 0) {
        counter.inc({ reason }, delta);
        tally.reported = tally.value;
      }
    }
  }
}
