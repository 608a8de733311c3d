import { performance } from 'node:perf_hooks';
import { errorMessage } from '../../core/errors.js';
import type { SyncLogger } from '../store-port.js';

/**
 * A transport's reader of the store's feed (through the SenderStore port): it cuts the feed into
 * what the transport sends (a batch, a message). Records the store cannot read back (damaged, or
 * their segment gone) never reach it: the store skips, logs and counts them.
 */
export interface FeedSource<U> {
  /** Reads after `cursor` again (at start, and after a failure drops everything unacknowledged). */
  reset(cursor: number): void;
  /** The next unit after the read position, or null when the feed has nothing more. */
  next(): U | null;
}

export interface FeedPollerOptions {
  /** Called when the poll timer fires: the transport fills its window again. */
  wake: () => void;
  /** How long the poll timer waits (the link's `poll_interval`). */
  intervalMs: number;
  /**
   * After the feed was found empty, reads return null without a store query for this long (the
   * poll timer reads again). 0: every read asks the store.
   */
  dryRereadMs: number;
  logger: SyncLogger;
  /** Starts the log lines, e.g. "sync" or "NATS sync". */
  logPrefix: string;
}

/**
 * How a sending link follows the store's feed once it has sent everything: reads that never throw
 * (a store that is closing or broken is warned about once and asked again on the next read, the
 * link itself stays up), and one poll timer that wakes the transport to look again, stopped
 * with the link.
 */
export class FeedPoller<U> {
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  /** performance.now() before which the feed is not read again (it was found empty). */
  private dryUntil = 0;
  /** The store error last warned about, until a read works again. */
  private failing: string | null = null;

  constructor(
    private readonly source: FeedSource<U>,
    private readonly opts: FeedPollerOptions,
  ) {}

  /** Reads after `cursor` again, at once. */
  reset(cursor: number): void {
    this.dryUntil = 0;
    this.source.reset(cursor);
  }

  /** Whether the feed was found empty (or unreadable) less than `dryRereadMs` ago: reads wait for the poll timer. */
  get dry(): boolean {
    return performance.now() < this.dryUntil;
  }

  /** The next unit of the feed, or null: nothing new, the store failed (warned), or found empty less than `dryRereadMs` ago. */
  next(): U | null {
    if (this.dry) return null;
    const unit = this.read();
    this.dryUntil = unit === null ? performance.now() + this.opts.dryRereadMs : 0;
    return unit;
  }

  /** Wakes the transport after the poll interval; one timer however often it is asked. */
  schedule(): void {
    if (this.timer || this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.dryUntil = 0;
      this.opts.wake();
    }, this.opts.intervalMs);
  }

  /** The link is closing: no more polls. */
  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private read(): U | null {
    let unit: U | null;
    try {
      unit = this.source.next();
    } catch (err) {
      // The store is closing or broken: try again on the next poll rather than fail the link.
      const message = errorMessage(err);
      if (this.failing !== message) this.opts.logger.warn({ err: message }, `${this.opts.logPrefix} could not read records from the store; retrying`);
      this.failing = message;
      return null;
    }
    if (this.failing !== null) this.opts.logger.info({}, `${this.opts.logPrefix} reads records from the store again`);
    this.failing = null;
    return unit;
  }
}
