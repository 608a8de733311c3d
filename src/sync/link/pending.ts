import { recordTime, type RecordTimes } from '../lag.js';
import type { SenderStore } from '../store-port.js';

/**
 * A count of what is left to send is a range scan; status and scrapes reuse it for a second while
 * neither the cursor nor the store's last seq moved (new records make it stale at once).
 */
const PENDING_TTL_MS = 1000;

interface Reading {
  at: number;
  cursor: number;
  lastSeq: number;
  count: number;
  bytes: number;
  oldest: number | null;
}

/** What a sending link has left to send after its cursor, cached briefly, and the store facts beside it. */
export class PendingFigures {
  private hit: Reading | null = null;

  constructor(
    private readonly store: SenderStore,
    /** The oldest record sent and not yet acknowledged, when the link knows it without a store read. */
    private readonly oldestInFlight: () => RecordTimes | undefined = () => undefined,
  ) {}

  read(cursor: number): { count: number; bytes: number; oldest: number | null } {
    const now = Date.now();
    try {
      const lastSeq = this.store.stats().lastSeq;
      if (this.hit && this.hit.cursor === cursor && this.hit.lastSeq === lastSeq && now - this.hit.at < PENDING_TTL_MS) return this.hit;
      const { count, bytes } = this.store.countAfter(cursor);
      // Only its time is needed: none of a TCP session's chunks are read.
      const first = this.oldestInFlight() ?? (count > 0 ? this.store.readAfter(cursor, 1, () => Number.POSITIVE_INFINITY)[0]?.record : undefined);
      this.hit = { at: now, cursor, lastSeq, count, bytes, oldest: first ? recordTime(first) : null };
    } catch {
      // The store is closing: report what was known.
      return this.hit ?? { count: 0, bytes: 0, oldest: null };
    }
    return this.hit;
  }

  /** Records the store purged before they were sent (since the store was created). */
  purged(): { records: number; bytes: number } {
    try {
      return this.store.purgedUnsent();
    } catch {
      return { records: 0, bytes: 0 };
    }
  }

  lastSeq(): number {
    try {
      return this.store.stats().lastSeq;
    } catch {
      // closing
      return 0;
    }
  }
}
