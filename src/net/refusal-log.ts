/**
 * Log lines about refused connections that a flood cannot turn into a flood of log lines: the
 * first refusal is logged at once; later ones are counted and summed up in one line per window
 * (by reason, with the last address seen) for as long as refusals go on.
 *
 * @module
 */
import type { Logger } from '../core/log.js';

export interface RefusalLogOptions {
  logger: Pick<Logger, 'warn'>;
  /** At most one line per window. */
  windowMs: number;
  /** What is refused, for the messages: "sync connection". */
  what: string;
  /** A sentence per reason saying why and what to do; used in the first line of a burst. */
  explain(reason: string): string;
}

/** Rate-limited warnings about refused connections. */
export class RefusalLog {
  private counts = new Map<string, number>();
  private lastAddress = '';
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly o: RefusalLogOptions) {}

  /** One refusal of a connection from `address` for `reason`. */
  refused(reason: string, address: string): void {
    if (this.timer === null) {
      this.o.logger.warn({ reason, address }, `${this.o.what} refused: ${this.o.explain(reason)}`);
      this.openWindow();
      return;
    }
    this.counts.set(reason, (this.counts.get(reason) ?? 0) + 1);
    this.lastAddress = address;
  }

  /** Writes what is still counted and stops the window timer. */
  flush(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.summarise();
  }

  private openWindow(): void {
    this.timer = setTimeout(() => {
      this.timer = null;
      // A window with refusals in it opens the next one; a quiet window ends the burst.
      if (this.summarise()) this.openWindow();
    }, this.o.windowMs);
    this.timer.unref();
  }

  private summarise(): boolean {
    if (this.counts.size === 0) return false;
    const byReason = Object.fromEntries(this.counts);
    const total = [...this.counts.values()].reduce((a, b) => a + b, 0);
    this.o.logger.warn(
      { refused: byReason, last_address: this.lastAddress, window_ms: this.o.windowMs },
      `${total} more ${this.o.what}s refused in the last ${Math.round(this.o.windowMs / 1000)} s`,
    );
    this.counts = new Map();
    return true;
  }
}
