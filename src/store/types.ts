import type { RecordSummary } from '../recording/model.js';

/** What the store logs through. A pino logger fits; so does anything with these three methods. */
export interface StoreLogger {
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
}

/**
 * Told about every record the store commits, drops or purges, so that metrics stay a thin
 * subscriber. Calls come on the main thread; an observer that throws is logged, never propagated.
 */
export interface StoreObserver {
  /**
   * `count` new records and `bytes` stored bytes were committed to disk. Segments appended to an
   * open TCP session count their bytes only, so `count` may be 0 with `bytes` > 0.
   */
  stored(count: number, bytes: number): void;
  /**
   * `count` records were lost: `queue_full` (the in-memory queue was at its bound),
   * `storage_error` (the write transaction failed), `writer_down` (the writer thread died with them
   * in flight, or was down while the queue was full), `closed` (offered after or lost during close).
   */
  dropped(reason: 'queue_full' | 'storage_error' | 'writer_down' | 'closed', count: number): void;
  /** `count` records (`bytes` stored bytes) were deleted by the retention or size policy. */
  purged(reason: 'retention' | 'max_size', count: number, bytes: number): void;
  /**
   * The store file was deleted while open and a fresh one took its place: the `count` records
   * (`bytes` stored bytes) the old file held are lost.
   */
  lost?(count: number, bytes: number): void;
  /**
   * Opening found bytes after the last indexed record of the last segment (a batch written but not
   * committed when the process died, maybe torn) and cut them: `frames` complete frames among them.
   */
  tailCut?(bytes: number, frames: number): void;
  /** A record could not be read back (checksum failure, missing segment); sync and live replay skip it. */
  damaged?(count: number): void;
}

/** Whether the store writes to the file at its path (see file-guard.ts). */
export interface StoreHealth {
  healthy: boolean;
  /** What is wrong, for people; null when healthy. */
  problem: string | null;
  /** Times the store file was reopened after a problem, since start. */
  reopened: number;
  /** Records (and stored bytes) lost with deleted store files, since start. */
  lost_records: number;
  lost_bytes: number;
}

export interface StoreOptions {
  /** Absolute path of the SQLite file; parent folders are created. */
  path: string;
  /** Records whose `started_at` is older than this are purged. 0 keeps records forever. */
  retentionMs: number;
  /** When the stored bytes exceed this, the oldest records are purged until they do not. 0 = no cap. */
  maxSizeBytes: number;
  /**
   * Group-commit interval (the config default is 100 ms). Queued records are written at least
   * this often, so a crash loses at most one interval of records.
   */
  flushIntervalMs: number;
  /** SQLite `synchronous`: `normal` survives a process crash, `full` also a power loss. */
  synchronous: 'normal' | 'full';
  /** Bound on records waiting in memory for the writer; beyond it `offer()` drops. */
  queueMaxRecords: number;
  /** Bound on the bytes of those records (body bytes plus a small per-record overhead). */
  queueMaxBytes: number;
  /** How often the retention and size policies run (they also run once at open). */
  purgeIntervalMs: number;
  observer?: StoreObserver;
  logger?: StoreLogger;
  /**
   * Seam for sync: records whose feed position (see `readAfter`) is above the returned value are
   * not yet safely elsewhere, so retention skips them (the size cap still applies, since a full
   * disk is worse; such losses are counted in meta `sync.purged_unsent.records` / `.bytes`). Read
   * once per purge run. Omitted: every record may be purged by retention.
   */
  purgeFloor?: () => number;
  /**
   * How often the store's files are compared with the ones it opened (deleted or replaced while
   * running, see file-guard.ts). Default 2000 ms.
   */
  fileCheckIntervalMs?: number;
  /**
   * Test seam, never set in production: takes over when the file check runs. The store hands the
   * check to it at open instead of running it every `fileCheckIntervalMs`, so a test can delete or
   * replace files and then have them looked at, at a moment it chooses.
   */
  fileCheckRunner?: (check: () => Promise<void>) => void;
  /**
   * Payload segments are rolled once appending would take one past this many bytes (a single
   * larger record still goes into one segment). Default 64 MiB.
   */
  segmentBytes?: number;
  /**
   * Test seam, never set in production: the module the writer thread runs instead of the store's
   * own writer-worker. Tests point it at a fixture that runs the real writer and can also make it
   * fail from outside (crash the thread, make its connection read-only), the faults a running node
   * meets; production code has no branch for them.
   */
  writerEntry?: URL;
}

export interface ListQuery {
  /** Epoch ms, inclusive lower bound on `started_at`. */
  start?: number;
  /** Epoch ms, exclusive upper bound on `started_at`. */
  end?: number;
  /** Page size, a positive integer. */
  limit: number;
  protocol?: 'http' | 'tcp';
  /** The `next` of the previous page, unchanged. */
  cursor?: string;
}

export interface ListResult {
  /** Newest first: `started_at` descending, then `seq` descending. */
  records: RecordSummary[];
  /** Pass as `cursor` to read the next page; null on the last page. */
  next: string | null;
}

export interface StoreStats {
  /** Records stored. */
  count: number;
  /** Stored bytes (body bytes plus JSON document bytes) of those records. */
  bytes: number;
  /** Records accepted by `offer()` and not yet committed or dropped (queued plus in flight). */
  queueDepth: number;
  /** Highest `seq` ever assigned (0 for a new store); never reused, even after deletes. */
  lastSeq: number;
}

/**
 * Links a receiver's ingests (see Store.ingest): each one is posted in call order with the id of
 * the one before it (`last`, 0: none), and commits only if that one committed. The caller sets
 * `last` back to 0 to start a new chain (when nothing of the old one is in flight).
 */
export interface IngestChain {
  last: number;
}
