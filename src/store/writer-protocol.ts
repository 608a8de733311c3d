import type { PackedBatch } from './batch-pack.js';
import type { IngestTally } from './meta-keys.js';

/** What the writer thread is started with (`workerData`). */
export interface WriterInit {
  path: string;
  synchronous: 'normal' | 'full';
  /** Where the payload segments are (retention removes whole ones). */
  segmentsDir: string;
}

/** A failure as it crosses the thread boundary (Error objects lose their subclass on the way). */
export interface WriterFailure {
  code: string;
  message: string;
}

/** Per origin node_id: entries that changed the store, and entries already there. */
export interface IngestResult {
  stored: number;
  skipped: number;
  bytes: number;
  byNode: Record<string, { stored: number; skipped: number }>;
}

/** Messages the main thread posts to the writer. The writer handles them strictly in order. */
export type ToWriter =
  | { type: 'batch'; batchId: number; batch: PackedBatch }
  | { type: 'delete'; opId: number; id: string }
  | { type: 'setMeta'; opId: number; key: string; value: string }
  /**
   * A batch received by sync: stored in one transaction with `meta` (null deletes the key); per
   * origin node_id the stored/skipped counts are added to the meta keys `tally` names. `after`:
   * the ingest this one was prepared on top of (0: none); it is refused unless that one committed
   * on this writer (see IngestChainGuard in writer-ingest.ts).
   */
  | { type: 'ingest'; ingestId: number; after: number; batch: PackedBatch; tally: IngestTally | null; meta: Array<[string, string | null]> }
  /**
   * `floor`: records with a higher feed position are kept by retention (sync has not sent them
   * yet). `keepFrom`: segments from this id on are never removed (appends may be in flight).
   */
  | { type: 'purge'; now: number; retentionMs: number; maxSizeBytes: number; floor: number; keepFrom: number }
  /**
   * The store file was deleted (`lostFile`) or only its WAL: close and reopen the path. A lost file
   * is replaced by a fresh one that keeps its meta and continues its seqs ({@link ReopenOutcome}).
   * `floor`: the sync floor, to count the lost records sync had not sent.
   */
  | { type: 'reopen'; reopenId: number; lostFile: boolean; floor: number }
  | { type: 'close' };

/** Messages the writer posts back. */
export type FromWriter =
  /** The file is open; `upgradedFrom` is the schema version it had if opening upgraded it (see schema.ts). */
  | { type: 'ready'; upgradedFrom: number | null; legacyRecords: number }
  | { type: 'fatal'; code: `QP_ERR_STORE_${string}`; message: string }
  /** `stored` inserted, `bytes` their size_bytes; `failed` > 0 only when the transaction failed. */
  | { type: 'batchDone'; batchId: number; stored: number; bytes: number; failed: number; error: WriterFailure | null }
  | { type: 'opDone'; opId: number; result: boolean; error: WriterFailure | null }
  /** `unsent`: of those, records above the sync floor (not yet sent to the peer); max_size only. */
  | { type: 'purged'; reason: 'retention' | 'max_size'; count: number; bytes: number; unsent?: { count: number; bytes: number } }
  | { type: 'ingestDone'; ingestId: number; result: IngestResult | null; error: WriterFailure | null }
  | { type: 'purgeFailed'; error: WriterFailure }
  /** Segment files retention removed: readers close their open files of them. */
  | { type: 'segmentsRemoved'; segments: number[] }
  | { type: 'reopenDone'; reopenId: number; outcome: ReopenOutcome | null; error: WriterFailure | null };

/** What reopening came to; `lost` is null when only the WAL was reopened (nothing lost) or the lost file could not be read. */
export interface ReopenOutcome {
  lost: { count: number; bytes: number; unsent: { count: number; bytes: number } } | null;
}
