/**
 * The store's meta table, and who owns which key. The store writes and reads only its own keys;
 * everything else belongs to the caller that sets it (sync's cursors and ledger, through `setMeta`
 * and ingest's `meta` and `tally`), and the store never reads it.
 *
 *   schema_version, created_by         the store (schema.ts); `setMeta` and ingest refuse them
 *   store.lost.records / .bytes        the store: what store files deleted while open held
 *                                      (file guard → writer `adopt`); shown in `health()`
 *   sync.purged_unsent.records / .bytes the store: records its size limit (or a lost file) took
 *                                      before sync had sent them; sync reads them through
 *                                      `Store.purgedUnsent()` (the name predates this module and
 *                                      stays, so existing stores keep their figures)
 *
 * @module
 */

/** Meta keys the store owns and callers may not set. */
export const RESERVED_META_KEYS: ReadonlySet<string> = new Set(['schema_version', 'created_by']);

/** A count kept in meta as two keys. */
export interface CountKeys {
  records: string;
  bytes: string;
}

/** What store files replaced while running held (written when a fresh file takes over). */
export const LOST_META: CountKeys = { records: 'store.lost.records', bytes: 'store.lost.bytes' };

/** Records purged (size limit) or lost (file replaced) above the sync floor, before sync sent them. */
export const PURGED_UNSENT_META: CountKeys = { records: 'sync.purged_unsent.records', bytes: 'sync.purged_unsent.bytes' };

/**
 * Where ingest adds its per-origin-node counts, named by the caller: `{node}` in each template
 * stands for the record's node_id. Counted inside the batch's own transaction, so they always
 * match what was committed.
 */
export interface IngestTally {
  /** Entries that changed the store (a new record, or a new segment of a known TCP session). */
  stored: string;
  /** Entries already present. */
  skipped: string;
}

/** The meta key of `template` for `node`. */
export function tallyKey(template: string, node: string): string {
  return template.replace('{node}', () => node);
}

/** A non-negative integer count kept in meta (0 when absent or unreadable). */
export function metaCount(text: string | null): number {
  const n = Number(text);
  return Number.isSafeInteger(n) && n > 0 ? n : 0;
}
