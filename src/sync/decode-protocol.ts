/**
 * Messages between the sync receiver's main thread and its batch decoder thread
 * (batch-decoder.ts, decode-worker.ts). Bodies and decoded batches cross as transferred buffers.
 */
import type { HttpRecordHead } from '../recording/model.js';
import type { Compression } from './compression.js';
import type { SyncErrorCode } from './sync-error.js';

/** A received batch body to decompress, decode and check. */
export interface DecodeJob {
  id: number;
  body: Uint8Array;
  how: Compression;
  maxBytes: number;
  /** The size the sender declared before compression (a hint; see compression.ts). */
  expectedBytes: number | undefined;
}

/**
 * Numbers per entry in {@link DecodeReply} `spans`: its seq, then where its document, request
 * body and response body lie in `raw` (offset, length each).
 */
export const SPAN_FIELDS = 7;

export type DecodeReply =
  /** Every entry an HTTP record with its stored document: `heads[i]` and `spans` describe entry i. */
  | { id: number; kind: 'received'; node: string; raw: Uint8Array; spans: Float64Array; heads: HttpRecordHead[] }
  /** A valid batch with TCP sessions, WebSocket messages or format 1 records: the main thread decodes `raw` itself. */
  | { id: number; kind: 'decoded'; raw: Uint8Array }
  | { id: number; kind: 'error'; code: SyncErrorCode; message: string };
