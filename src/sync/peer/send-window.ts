import type { OutBatch, OutEntry } from './batch-reader.js';

type SlotState = 'queued' | 'sending' | 'acked' | 'refused';

/** A batch in the window. */
export interface Slot {
  readonly batch: OutBatch;
  state: SlotState;
}

/** What acknowledging a slot settled. */
export interface Settled {
  /** The cursor can move here (every entry up to it is acknowledged or refused for good); null if it cannot move. */
  cursor: number | null;
  /** Slots that left the window, in feed order. */
  done: Slot[];
}

/**
 * The batches between the feed reader and the peer, in feed order. Several are sent at once (one
 * HTTP/2 stream each) and may be acknowledged in any order; the cursor only moves over the
 * acknowledged prefix, so after a crash nothing unacknowledged is ever skipped:
 *
 *   [acked][acked][sending][acked][queued]     cursor → end of the second batch
 *
 * A batch the peer refuses for its content is split in two and both halves are sent again, until
 * the offending entry is alone; that one is refused for good and the cursor passes it.
 */
export class SendWindow {
  private slots: Slot[] = [];

  /** Slots not yet settled (queued or sending). */
  get size(): number {
    return this.slots.length;
  }

  get sending(): number {
    return this.slots.filter((s) => s.state === 'sending').length;
  }

  get records(): number {
    return this.slots.reduce((n, s) => n + s.batch.entries.length, 0);
  }

  /** The oldest entry not yet acknowledged, if any. */
  oldest(): OutEntry | null {
    return this.slots[0]?.batch.entries[0] ?? null;
  }

  add(batch: OutBatch): Slot {
    const slot: Slot = { batch, state: 'queued' };
    this.slots.push(slot);
    return slot;
  }

  /**
   * The next queued slot that may go now. A batch that starts with the continuation of a split TCP
   * session waits until everything before it is settled: the receiver appends parts in the order
   * they arrive.
   */
  nextToSend(): Slot | null {
    for (let i = 0; i < this.slots.length; i++) {
      const s = this.slots[i]!;
      if (s.state !== 'queued') continue;
      if (s.batch.entries[0]?.continuation && i > 0) return null;
      return s;
    }
    return null;
  }

  /** Marks a slot acknowledged and settles the prefix. */
  ack(slot: Slot): Settled {
    slot.state = 'acked';
    return this.settle();
  }

  /** The peer refused a one-entry slot for good: it counts as settled. */
  refuse(slot: Slot): Settled {
    slot.state = 'refused';
    return this.settle();
  }

  /** Replaces a refused multi-entry slot by its two halves, queued in its place. */
  split(slot: Slot): void {
    const i = this.slots.indexOf(slot);
    if (i < 0) return;
    const entries = slot.batch.entries;
    const mid = Math.ceil(entries.length / 2);
    const half = (part: OutEntry[]): Slot => ({
      batch: { entries: part, estBytes: Math.round((slot.batch.estBytes * part.length) / entries.length) },
      state: 'queued',
    });
    this.slots.splice(i, 1, half(entries.slice(0, mid)), half(entries.slice(mid)));
  }

  /** Forgets everything (after a connection failure the reader starts again from the cursor). */
  reset(): void {
    this.slots = [];
  }

  private settle(): Settled {
    const done: Slot[] = [];
    let cursor: number | null = null;
    while (this.slots[0] && (this.slots[0].state === 'acked' || this.slots[0].state === 'refused')) {
      const s = this.slots.shift()!;
      done.push(s);
      for (const e of s.batch.entries) if (e.complete) cursor = e.seq;
    }
    return { cursor, done };
  }
}
