import type { ReceiverStore } from '../store-port.js';
import type { SyncEntry } from '../wire-format.js';

/** Sessions whose held chunk count stays cached. */
const CACHE_MAX = 10_000;

interface Held {
  chunks: number;
  closed: boolean;
}

/**
 * Keeps a consumer from storing an open TCP segment whose start it does not hold. The peer link
 * delivers a session's segments in order; a JetStream consumer may not: after a crash the
 * unacknowledged earlier segment comes back only after ack_wait, while later ones flow on, and in a
 * group the earlier segment may have gone to another member. Storing the later segment would leave
 * a hole the earlier one could never fill (the store only appends), so it is held back (nak) and,
 * if its start never arrives, skipped: the session's closing message carries it whole anyway.
 */
export class TcpGapGuard {
  private readonly held = new Map<string, Held | null>();

  constructor(private readonly store: Pick<ReceiverStore, 'get'>) {}

  /**
   * Splits entries (in delivery order) into those that can be stored now and those that start
   * after what this node holds. Segments earlier in the same list count as held.
   */
  admit<T extends { entry: SyncEntry }>(items: readonly T[]): { ready: T[]; gaps: T[] } {
    const ready: T[] = [];
    const gaps: T[] = [];
    const local = new Map<string, Held | null>();
    for (const item of items) {
      const r = item.entry.record;
      const base = item.entry.chunkBase ?? 0;
      if (r.protocol !== 'tcp') {
        ready.push(item);
        continue;
      }
      const known = local.has(r.id) ? local.get(r.id)! : this.load(r.id);
      const end = base + r.chunks.length;
      if (base > 0 && !known?.closed && base > (known?.chunks ?? 0)) {
        gaps.push(item);
        continue;
      }
      ready.push(item);
      local.set(r.id, known?.closed ? known : { chunks: Math.max(known?.chunks ?? 0, end), closed: r.state === 'closed' });
    }
    return { ready, gaps };
  }

  /** The entries were stored: remember how far each session got. */
  stored(entries: readonly SyncEntry[]): void {
    for (const e of entries) {
      const r = e.record;
      if (r.protocol !== 'tcp') continue;
      const known = this.held.get(r.id) ?? null;
      const end = (e.chunkBase ?? 0) + r.chunks.length;
      this.remember(r.id, { chunks: Math.max(known?.chunks ?? 0, end), closed: Boolean(known?.closed) || r.state === 'closed' });
    }
  }

  /** Forgets cached states (a store write failed: what committed is unknown). */
  reset(): void {
    this.held.clear();
  }

  private load(id: string): Held | null {
    if (this.held.has(id)) return this.held.get(id)!;
    const rec = this.store.get(id);
    const held = rec ? { chunks: rec.protocol === 'tcp' ? rec.chunks.length : 0, closed: rec.protocol !== 'tcp' || rec.state === 'closed' } : null;
    this.remember(id, held);
    return held;
  }

  private remember(id: string, h: Held | null): void {
    this.held.delete(id);
    this.held.set(id, h);
    if (this.held.size > CACHE_MAX) this.held.delete(this.held.keys().next().value!);
  }
}
