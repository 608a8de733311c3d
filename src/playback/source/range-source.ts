/**
 * On-demand replay input: the records of a time range (or a list of ids) in ascending
 * `started_at` order, through the store's public list/get API only. The store lists newest first,
 * so the range is walked in time windows that adapt to the density of records: a window that holds
 * more than a page is split, an almost empty one doubles. Records are read (with their bodies) only
 * a few at a time, when the replay has room for them.
 */
import type { RecordSummary } from '../../recording/model.js';
import { uuidv7Time } from '../../core/uuidv7.js';
import { CompiledFilter, type RecordFilter } from './record-filter.js';
import type { PlaybackStore, RecordSource, SourceItem } from './store-port.js';

/** Summaries per list call. */
const PAGE = 500;
/** Records read per `next()`. */
const CHUNK = 32;
const FIRST_WINDOW_MS = 1_000;
const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i;

export interface RangeOptions {
  /** Epoch ms, inclusive. */
  start: number;
  /** Epoch ms, exclusive. */
  end: number;
  filter: RecordFilter;
  /** Most records taken; Infinity for all. */
  limit: number;
}

interface Pending {
  id: string;
  started: number;
}

function byTime(a: Pending, b: Pending): number {
  return a.started - b.started || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

/** The records of a time range, oldest first. */
export class RangeSource implements RecordSource {
  private readonly filter: CompiledFilter;
  private from: number;
  private width = FIRST_WINDOW_MS;
  private buffer: Pending[] = [];
  private taken = 0;

  constructor(
    private readonly store: PlaybackStore,
    private readonly opts: RangeOptions,
  ) {
    this.filter = new CompiledFilter(opts.filter);
    this.from = opts.start;
  }

  /** Records handed out so far. */
  get seen(): number {
    return this.taken;
  }

  next(): Promise<SourceItem[] | null> {
    while (this.buffer.length === 0) {
      if (this.from >= this.opts.end || this.taken >= this.opts.limit) return Promise.resolve(null);
      this.fillWindow();
    }
    const room = Math.min(CHUNK, this.opts.limit - this.taken);
    const batch = this.buffer.splice(0, room);
    this.taken += batch.length;
    if (this.taken >= this.opts.limit) this.buffer = [];
    return Promise.resolve(batch.map((p) => ({ id: p.id, record: this.store.get(p.id), seq: -1 })));
  }

  /** Reads the next window [from, from + width), splitting it while it holds more than a page. */
  private fillWindow(): void {
    const protocol = this.opts.filter.protocol;
    for (;;) {
      const to = Math.min(this.opts.end, this.from + this.width);
      const page = this.store.list({ start: this.from, end: to, limit: PAGE, ...(protocol && { protocol }) });
      if (page.next !== null && to - this.from > 1) {
        this.width = Math.max(1, Math.floor((to - this.from) / 4));
        continue;
      }
      const rows = page.next === null ? page.records : this.allPages(this.from, to, page.records, page.next);
      this.buffer = rows
        .filter((r) => this.filter.accepts(r))
        .map((r) => ({ id: r.id, started: Date.parse(r.started_at) }))
        .sort(byTime);
      this.from = to;
      // Doubling without a cap crosses empty stretches (years, from a start of 0) in a few dozen calls.
      if (rows.length < PAGE / 4) this.width *= 2;
      return;
    }
  }

  /** More than a page of records within one millisecond: page through all of them. */
  private allPages(start: number, end: number, first: RecordSummary[], cursor: string): RecordSummary[] {
    const protocol = this.opts.filter.protocol;
    const rows = [...first];
    let next: string | null = cursor;
    while (next !== null) {
      const page = this.store.list({ start, end, limit: PAGE, cursor: next, ...(protocol && { protocol }) });
      rows.push(...page.records);
      next = page.next;
    }
    return rows;
  }
}

/** An explicit list of record ids, in recorded order; ids not in the store come out as missing. */
export class IdSource implements RecordSource {
  private readonly order: string[];
  private done = false;

  constructor(
    private readonly store: PlaybackStore,
    ids: readonly string[],
  ) {
    // A UUIDv7 carries its millisecond: no need to read every record up front to order them.
    const known = ids.map((id) => ({ id, started: UUID_V7.test(id) ? uuidv7Time(id) : (this.store.get(id)?.started_at ?? -Infinity) }));
    this.order = known.sort(byTime).map((k) => k.id);
  }

  next(): Promise<SourceItem[] | null> {
    if (this.done || this.order.length === 0) {
      this.done = true;
      return Promise.resolve(null);
    }
    const batch = this.order.splice(0, CHUNK);
    return Promise.resolve(batch.map((id) => ({ id, record: this.store.get(id), seq: -1 })));
  }
}
