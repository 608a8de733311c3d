/**
 * Records the live replay passes over: those imported from HAR files. The live replay follows the
 * store feed, where an imported record sits like a synced one; replaying it against zone B is the
 * importer's choice (an on-demand replay of exactly those records), never a side effect.
 *
 * The ids of an import are kept in store meta, written in the import's own transaction (a crash
 * cannot leave imported records without their exclusion), with the store's last feed position once
 * the import committed: when the live replay's durable cursor reaches it, every record of the import
 * is behind the cursor and the entry is dropped.
 */
import { errorMessage } from '../../core/errors.js';
import type { Logger } from '../../core/log.js';
import type { QRecord } from '../../recording/model.js';

/** Store meta key of the exclusions (JSON). */
export const LIVE_EXCLUDED_META = 'live_excluded';

/** What the exclusions need from the record store (the Store implements it). */
export interface ExclusionStore {
  getMeta(key: string): string | null;
  setMeta(key: string, value: string): Promise<void>;
  /** One transaction; `meta` is written in it. */
  ingest(records: QRecord[], opts: { meta: Record<string, string | null> }): Promise<{ stored: number; skipped: number }>;
  stats(): { lastSeq: number };
}

/** One import: its record ids, and the feed position every one of them is at or below (null until it committed). */
interface Entry {
  ids: string[];
  until: number | null;
}

export class LiveExclusions {
  private entries: Entry[];
  private ids = new Set<string>();

  private constructor(
    private readonly store: ExclusionStore,
    private readonly logger: Pick<Logger, 'warn'>,
    entries: Entry[],
  ) {
    this.entries = entries;
    this.reindex();
  }

  /**
   * Reads the kept exclusions. An entry saved before its import's commit was confirmed belongs to an
   * import that committed before this start (it was written in that transaction), so the store's
   * last position now bounds it.
   */
  static load(store: ExclusionStore, logger: Pick<Logger, 'warn'>): LiveExclusions {
    const raw = store.getMeta(LIVE_EXCLUDED_META);
    let entries: Entry[] = [];
    if (raw !== null) {
      try {
        entries = parseEntries(raw, store.stats().lastSeq);
      } catch (err) {
        logger.warn({ err: errorMessage(err) }, 'the list of imported records kept out of the live replay is unreadable; the live replay may replay them');
      }
    }
    return new LiveExclusions(store, logger, entries);
  }

  /** Imports not yet behind the live cursor. */
  get pending(): number {
    return this.entries.length;
  }

  /** True for a record the live replay passes over. */
  excludes(id: string): boolean {
    return this.ids.has(id);
  }

  /**
   * Stores imported records (one transaction, ids already stored are skipped) and keeps them out of
   * the live replay. They are excluded before the commit, so the live replay cannot read them first.
   */
  async ingest(records: QRecord[]): Promise<{ stored: number; skipped: number }> {
    const entry: Entry = { ids: records.map((r) => r.id), until: null };
    this.entries.push(entry);
    for (const id of entry.ids) this.ids.add(id);
    let result;
    try {
      result = await this.store.ingest(records, { meta: { [LIVE_EXCLUDED_META]: this.serialize() } });
    } catch (err) {
      this.entries = this.entries.filter((e) => e !== entry);
      this.reindex();
      throw err;
    }
    entry.until = this.store.stats().lastSeq;
    this.persist();
    return result;
  }

  /** The live replay's durable cursor is at `cursor`: imports wholly behind it are forgotten. */
  passed(cursor: number): void {
    const kept = this.entries.filter((e) => e.until === null || e.until > cursor);
    if (kept.length === this.entries.length) return;
    this.entries = kept;
    this.reindex();
    this.persist();
  }

  private reindex(): void {
    this.ids = new Set(this.entries.flatMap((e) => e.ids));
  }

  private serialize(): string {
    return JSON.stringify(this.entries);
  }

  /** Best effort: an entry whose `until` is not saved is bounded again at the next start (see load). */
  private persist(): void {
    this.store.setMeta(LIVE_EXCLUDED_META, this.serialize()).catch((err: unknown) => {
      this.logger.warn({ err: errorMessage(err) }, 'could not save the list of imported records kept out of the live replay; it is saved with the next change');
    });
  }
}

function parseEntries(raw: string, lastSeq: number): Entry[] {
  const value = JSON.parse(raw) as unknown;
  if (!Array.isArray(value)) throw new Error('not a list');
  return value.map((e: unknown): Entry => {
    const { ids, until } = (e ?? {}) as { ids?: unknown; until?: unknown };
    if (!Array.isArray(ids) || !ids.every((id) => typeof id === 'string')) throw new Error('an entry without a list of ids');
    return { ids, until: typeof until === 'number' ? until : lastSeq };
  });
}
