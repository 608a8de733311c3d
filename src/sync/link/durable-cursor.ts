import { errorMessage } from '../../core/errors.js';
import type { SenderStore, SyncLogger } from '../store-port.js';

/**
 * What a sending link keeps in its meta key: the cursor, counters that only grow, and the name of
 * the other side the figures are about (`peer` "host:port", or the NATS `stream`).
 */
export type CursorRecord<Counter extends string, Target extends string> = { cursor: number } & Record<Counter, number> & Record<Target, string>;

/** How one transport lays out its durable state. */
export interface CursorLayout<Counter extends string, Target extends string> {
  /** Meta key; each transport has its own, so switching a node between them never skips records. */
  key: string;
  /** Counters kept beside the cursor, in the order they are written. */
  counters: readonly Counter[];
  /** The field naming the other side. */
  target: Target;
  /** Logged when the stored figures are about another target than the configured one. */
  targetChanged: string;
}

function count(x: unknown): number {
  return typeof x === 'number' && Number.isSafeInteger(x) && x >= 0 ? x : 0;
}

function parse<C extends string, T extends string>(layout: CursorLayout<C, T>, text: string | null): CursorRecord<C, T> | null {
  if (text === null) return null;
  let v: Record<string, unknown>;
  try {
    v = JSON.parse(text) as Record<string, unknown>;
  } catch {
    return null;
  }
  if (typeof v !== 'object' || v === null) return null;
  const out: Record<string, number | string> = { cursor: count(v.cursor) };
  for (const c of layout.counters) out[c] = count(v[c]);
  out[layout.target] = typeof v[layout.target] === 'string' ? (v[layout.target] as string) : '';
  return out as CursorRecord<C, T>;
}

/** The durable cursor of `layout` as stored, for the store's retention floor (records above it are not yet sent). */
export function readCursor(layout: CursorLayout<string, string>, getMeta: (key: string) => string | null): number {
  return parse(layout, getMeta(layout.key))?.cursor ?? 0;
}

/**
 * A sending link's cursor and ledger counters, persisted in a store meta key, and their only owner:
 * the link moves the cursor and adds to counters through it. At most one write is in flight;
 * changes made meanwhile are folded into the next. A crash before a write lands only means the last
 * acknowledged records are sent again, which the other side drops as duplicates.
 */
export class DurableCursor<Counter extends string, Target extends string> {
  private readonly value: CursorRecord<Counter, Target>;
  private durable: number;
  private writing: Promise<void> | null = null;
  private dirty = false;
  private soon: NodeJS.Timeout | null = null;

  constructor(
    private readonly store: Pick<SenderStore, 'getMeta' | 'setMeta'>,
    private readonly layout: CursorLayout<Counter, Target>,
    target: string,
    private readonly logger: SyncLogger,
  ) {
    const kept = parse(layout, store.getMeta(layout.key));
    const before = kept?.[layout.target] as string | undefined;
    if (kept && before && before !== target) {
      logger.warn({ [`previous_${layout.target}`]: before, [layout.target]: target, cursor: kept.cursor }, layout.targetChanged);
    }
    const fresh: Record<string, number | string> = { cursor: kept?.cursor ?? 0 };
    for (const c of layout.counters) fresh[c] = kept?.[c] ?? 0;
    fresh[layout.target] = target;
    this.value = fresh as CursorRecord<Counter, Target>;
    this.durable = this.value.cursor;
  }

  /** Every feed entry up to here is acknowledged (in memory). */
  get cursor(): number {
    return this.value.cursor;
  }

  /** The cursor as last written to disk (what the store's retention floor may rely on). */
  get durableCursor(): number {
    return this.durable;
  }

  /** The current figures, read-only. */
  get figures(): Readonly<CursorRecord<Counter, Target>> {
    return this.value;
  }

  /** Moves the cursor forward (never back); true when it moved. Not saved until persist. */
  advance(to: number): boolean {
    if (to <= this.value.cursor) return false;
    this.value.cursor = to;
    return true;
  }

  /** Adds to a counter; saved with the next persist. */
  add(counter: Counter, n: number): void {
    (this.value as Record<Counter, number>)[counter] += n;
  }

  /** Saves within `withinMs`, folding every change until then into one write. */
  persistSoon(withinMs: number): void {
    this.soon ??= setTimeout(() => {
      this.soon = null;
      this.persist();
    }, withinMs);
  }

  /** Saves now (or right after the write in flight). */
  persist(): void {
    if (this.soon) {
      clearTimeout(this.soon);
      this.soon = null;
    }
    if (this.writing) {
      this.dirty = true;
      return;
    }
    const snapshot = { ...this.value };
    this.writing = this.store
      .setMeta(this.layout.key, JSON.stringify(snapshot))
      .then(
        () => {
          this.durable = snapshot.cursor;
        },
        (err: unknown) => this.logger.warn({ err: errorMessage(err), key: this.layout.key }, 'sync cursor could not be saved; it is saved with the next acknowledgement'),
      )
      .finally(() => {
        this.writing = null;
        if (this.dirty) {
          this.dirty = false;
          this.persist();
        }
      });
  }

  /** Resolves when the latest value is on disk (or failed to get there). */
  async flush(): Promise<void> {
    while (this.writing) await this.writing;
  }
}
