import type { AddressInfo, Server } from 'node:net';
import { setImmediate as yieldTurn } from 'node:timers/promises';
import { errorMessage } from '../../core/errors.js';
import { listen } from '../../core/listen.js';
import type { Logger } from '../../core/log.js';
import type { QRecord } from '../../recording/model.js';
import type { PlaybackStore } from '../source/store-port.js';

const PAGE = 500;

/**
 * Feeds a serving index from the store: everything at start, then whatever arrives (sync,
 * forwarded misses), polled every `pollMs`. Records are read with their bodies once and dropped;
 * the index keeps digests only.
 */
export class StoreFollower {
  private cursor = 0;
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;

  private failed = false;

  constructor(
    private readonly store: Pick<PlaybackStore, 'readAfter'>,
    private readonly take: (record: QRecord) => void,
    private readonly pollMs: number,
    private readonly logger: Pick<Logger, 'warn'>,
  ) {}

  /** Reads every stored record (yielding to the event loop between pages), then follows new ones. */
  async start(): Promise<void> {
    while (!this.stopped && this.readPage()) await yieldTurn();
    if (this.stopped) return;
    this.timer = setInterval(() => this.poll(), this.pollMs);
    this.timer.unref();
  }

  /** Reads what arrived since the last look (tests and forwarded misses call it to be sure). */
  catchUp(): void {
    while (!this.stopped && this.readPage());
  }

  /** A failing store (closed, unreadable) must not throw out of a timer: warn once, try again next time. */
  private poll(): void {
    try {
      while (!this.stopped && this.readPage());
      this.failed = false;
    } catch (err) {
      if (!this.failed) this.logger.warn({ err: (err as Error).message }, 'new recordings could not be read from the store; serving goes on with those indexed');
      this.failed = true;
    }
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
  }

  /**
   * How a serving listener starts: index what is stored, then bind host:port. A bind failure
   * stops the following again and is a ListenError naming the `protocol` section's port key.
   */
  async startServing(server: Server, host: string, port: number, protocol: 'http' | 'tcp'): Promise<AddressInfo> {
    await this.start();
    try {
      return await listen(server, host, port, (err) => `the serving ${protocol} listener could not listen on ${host}:${port} (${err.code ?? errorMessage(err)}); free the port or change ${protocol}.port`);
    } catch (err) {
      this.stop();
      throw err;
    }
  }

  /** True when the page was full (more may follow). */
  private readPage(): boolean {
    // Open TCP sessions are indexed once closed: their bytes are not read before (see live-source.ts).
    const rows = this.store.readAfter(this.cursor, PAGE, (_id, open) => (open ? Number.POSITIVE_INFINITY : 0));
    for (const row of rows) {
      this.cursor = row.seq;
      this.take(row.record);
    }
    return rows.length === PAGE;
  }
}
