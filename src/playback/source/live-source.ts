/**
 * Live replay input: follows the store's feed (`readAfter`) from a durable cursor, so whatever sync
 * stores is replayed once, across restarts. The cursor that is saved is a completion watermark: the
 * highest feed position up to which every record has its result, so a crash replays at most the
 * records that were in flight (at-least-once), never skips one.
 */
import type { PlaybackStore, RecordSource, SourceItem } from './store-port.js';

const BATCH = 64;

/** Feed positions handed out, and which of them are finished. */
export class Watermark {
  private readonly order: number[] = [];
  private head = 0;
  private readonly done = new Set<number>();

  constructor(private mark: number) {}

  /** Positions must be added in ascending order. */
  add(seq: number): void {
    this.order.push(seq);
  }

  finish(seq: number): void {
    this.done.add(seq);
    while (this.head < this.order.length && this.done.has(this.order[this.head]!)) {
      const s = this.order[this.head++]!;
      this.done.delete(s);
      this.mark = s;
    }
    if (this.head > 4096) {
      this.order.splice(0, this.head);
      this.head = 0;
    }
  }

  /** Every position up to this one is finished. */
  get value(): number {
    return this.mark;
  }

  /** Positions handed out and not finished. */
  get open(): number {
    return this.order.length - this.head;
  }
}

/** Follows the store feed after `cursor`; never exhausted (returns [] when nothing new is there). */
export class LiveSource implements RecordSource {
  private cursor: number;

  constructor(
    private readonly store: PlaybackStore,
    start: number,
  ) {
    this.cursor = start;
  }

  /** The feed position read up to (not the completion watermark). */
  get position(): number {
    return this.cursor;
  }

  next(): Promise<SourceItem[] | null> {
    // A session still open is not replayed yet (it comes back along the feed once closed), so its
    // bytes are not read: a long session would otherwise be read whole at every append.
    const rows = this.store.readAfter(this.cursor, BATCH, (_id, open) => (open ? Number.POSITIVE_INFINITY : 0));
    const last = rows[rows.length - 1];
    if (last) this.cursor = last.seq;
    return Promise.resolve(rows.map((r) => ({ id: r.record.id, record: r.record, seq: r.seq })));
  }
}
