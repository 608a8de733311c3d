import { recordTime, type RecordTimes } from '../lag.js';
import type { SenderStore } from '../store-port.js';

const NONE = { count: 0, bytes: 0 } as const;

/**
 * How long a full count of what is left to send is reused: at least this long, and 50 times what
 * the count took, so that status and scrapes spend at most ~2 % of the event loop on it however
 * large the backlog (a count is a range scan: ~7 ms per 150k records here, on the thread that
 * proxies). In between, the figure is kept exact by counting only what moved (see {@link read}).
 */
const PENDING_TTL_MS = 1000;
const PENDING_TTL_COST_FACTOR = 50;
const PENDING_TTL_MAX_MS = 30_000;

interface Reading {
  cursor: number;
  lastSeq: number;
  count: number;
  bytes: number;
  oldest: number | null;
}

/** What a sending link has left to send after its cursor, and the store facts beside it. */
export class PendingFigures {
  private hit: Reading | null = null;
  /** Until when {@link hit} may be adjusted instead of counted again. */
  private freshUntil = 0;

  constructor(
    private readonly store: SenderStore,
    /** The oldest record sent and not yet acknowledged, when the link knows it without a store read. */
    private readonly oldestInFlight: () => RecordTimes | undefined = () => undefined,
    /** The least time a full count is reused for (tests set a long one, not to depend on the clock). */
    private readonly minFreshMs = PENDING_TTL_MS,
  ) {}

  /**
   * Records and bytes after `cursor`, and the time of the oldest of them. Counted in full at most
   * every {@link PENDING_TTL_MS} or more; between full counts the last one is adjusted by the
   * records sent since (feed positions between the two cursors) and the records added since (above
   * the store's previous last seq), two short range counts. A TCP session that grew while it was
   * waiting counts twice until the next full count, and records deleted meanwhile until then too.
   */
  read(cursor: number): { count: number; bytes: number; oldest: number | null } {
    const now = Date.now();
    try {
      const lastSeq = this.store.stats().lastSeq;
      const hit = this.hit;
      if (hit && hit.cursor === cursor && hit.lastSeq === lastSeq && now < this.freshUntil) return hit;
      let count: number;
      let bytes: number;
      if (cursor >= lastSeq) {
        // Every feed position comes from the seq sequence: nothing lies above the last one.
        count = 0;
        bytes = 0;
      } else if (hit && cursor >= hit.cursor && lastSeq >= hit.lastSeq && now < this.freshUntil) {
        const sent = cursor > hit.cursor ? this.store.countAfter(hit.cursor, cursor) : NONE;
        const added = lastSeq > hit.lastSeq ? this.store.countAfter(hit.lastSeq) : NONE;
        count = Math.max(0, hit.count - sent.count + added.count);
        bytes = Math.max(0, hit.bytes - sent.bytes + added.bytes);
      } else {
        const t0 = performance.now();
        ({ count, bytes } = this.store.countAfter(cursor));
        const took = performance.now() - t0;
        this.freshUntil = now + Math.max(this.minFreshMs, Math.min(PENDING_TTL_MAX_MS, took * PENDING_TTL_COST_FACTOR));
      }
      // Only its time is needed: none of a TCP session's chunks are read.
      const first = this.oldestInFlight() ?? (count > 0 ? this.store.readAfter(cursor, 1, () => Number.POSITIVE_INFINITY)[0]?.record : undefined);
      this.hit = { cursor, lastSeq, count, bytes, oldest: first ? recordTime(first) : null };
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
