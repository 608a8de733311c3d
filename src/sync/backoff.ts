/**
 * Exponential back-off with "equal jitter": the n-th consecutive failure waits between half and
 * all of min(max, initial · 2^n). The jitter spreads the reconnects of many Record nodes after a
 * Playback node restarts; the floor of half keeps a node from retrying in a hot loop.
 */
export class Backoff {
  private failures = 0;

  constructor(
    private readonly initialMs: number,
    private readonly maxMs: number,
    private readonly random: () => number = Math.random,
  ) {}

  /** Consecutive failures so far. */
  get attempts(): number {
    return this.failures;
  }

  /** Counts a failure and returns how long to wait before the next attempt. */
  next(): number {
    const ceiling = Math.min(this.maxMs, this.initialMs * 2 ** Math.min(this.failures, 30));
    this.failures++;
    return Math.round(ceiling / 2 + (this.random() * ceiling) / 2);
  }

  /** A wait at the ceiling, for failures that only an operator can fix (wrong token, untrusted certificate). */
  long(): number {
    this.failures++;
    return Math.round(this.maxMs / 2 + (this.random() * this.maxMs) / 2);
  }

  /** The wait after `f`: at the ceiling when only an operator can fix it, else the next step. */
  after(f: { operatorFix: boolean }): number {
    return f.operatorFix ? this.long() : this.next();
  }

  reset(): void {
    this.failures = 0;
  }
}
