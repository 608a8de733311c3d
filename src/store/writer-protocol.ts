import type { QRecord } from '../recording/model.js';

/** What the writer thread is started with (`workerData`). */
export interface WriterInit {
  path: string;
  synchronous: 'normal' | 'full';
}

/** A failure as it crosses the thread boundary (Error objects lose their subclass on the way). */
export interface WriterFailure {
  code: string;
  message: string;
}

/** Messages the main thread posts to the writer. The writer handles them strictly in order. */
export type ToWriter =
  | { type: 'batch'; batchId: number; records: QRecord[] }
  | { type: 'delete'; opId: number; id: string }
  | { type: 'setMeta'; opId: number; key: string; value: string }
  /** `floor`: records with a higher seq are skipped by retention (sync has not sent them yet). */
  | { type: 'purge'; now: number; retentionMs: number; maxSizeBytes: number; floor: number }
  | { type: 'close' }
  /** Test hook: PRAGMA query_only, so every write fails the way a read-only file does. */
  | { type: 'test:queryOnly'; on: boolean }
  /** Test hook: die at once, as a crash would, without handling anything queued behind. */
  | { type: 'test:crash' };

/** Messages the writer posts back. */
export type FromWriter =
  | { type: 'ready' }
  | { type: 'fatal'; code: `QP_ERR_STORE_${string}`; message: string }
  /** `stored` inserted, `bytes` their size_bytes; `failed` > 0 only when the transaction failed. */
  | { type: 'batchDone'; batchId: number; stored: number; bytes: number; failed: number; error: WriterFailure | null }
  | { type: 'opDone'; opId: number; result: boolean; error: WriterFailure | null }
  | { type: 'purged'; reason: 'retention' | 'max_size'; count: number; bytes: number }
  | { type: 'purgeFailed'; error: WriterFailure };
