import { StoreError } from '../core/errors.js';
import type { QRecord } from '../recording/model.js';
import { framesOf } from './record-frames.js';
import { FrameKind } from './segment-format.js';

/** One record of the feed; `chunkBase`: a TCP session's `chunks[0]` is its chunk number chunkBase. */
export interface FeedItem {
  seq: number;
  record: QRecord;
  chunkBase?: number;
  /** An HTTP record's document as it lies in its segment (record-frames.ts DOC); absent for TCP and v1 rows. */
  doc?: Buffer;
}

/**
 * An HTTP record as its one extent holds it: every frame checked against its checksum, the
 * document left unparsed. What sync batch format 2 sends (the document as it lies on disk, the
 * body bytes beside it), so the sender never builds the record. The times are the index row's
 * (`started_at` in whole milliseconds), enough for sync lag.
 */
export interface StoredHttp {
  id: string;
  protocol: 'http';
  started_at: number;
  duration_ms: number;
  doc: Buffer;
  /** Body bytes (empty: none). */
  request: Buffer;
  response: Buffer;
  /** The extent's length: document, bodies and frame headers. */
  bytes: number;
}

/** A feed record read by `readStoredAfter`: HTTP records of one extent as stored, the rest as {@link FeedItem}. */
export type StoredFeedItem = FeedItem | { seq: number; stored: StoredHttp };

/** The index columns a {@link StoredHttp} takes its fields from. */
export interface StoredHttpRow {
  id: string;
  started_at: number;
  duration_ms: number;
}

const EMPTY: Buffer = Buffer.alloc(0);

/**
 * The stored form of an HTTP record's extent, or null when it holds a WebSocket frame (or any frame
 * but DOC and bodies): such a record is read whole (its messages are one frame, the wire sends one
 * blob each). Throws StoreError
 * `QP_ERR_STORE_DAMAGED` like a full read does: a frame cut short, failing its checksum or of an
 * unknown kind, or no document.
 */
export function storedHttpOf(row: StoredHttpRow, bytes: Buffer, where: string): StoredHttp | null {
  let doc: Buffer | null = null;
  let request: Buffer = EMPTY;
  let response: Buffer = EMPTY;
  for (const f of framesOf(row.id, bytes, where)) {
    if (f.kind === FrameKind.doc) doc = f.payload;
    else if (f.kind === FrameKind.requestBody) request = f.payload;
    else if (f.kind === FrameKind.responseBody) response = f.payload;
    else return null;
  }
  if (doc === null) {
    throw new StoreError('QP_ERR_STORE_DAMAGED', `record ${row.id} is damaged: none of its frames is its document; it cannot be read (delete it, or restore the store from a backup)`);
  }
  return { id: row.id, protocol: 'http', started_at: row.started_at, duration_ms: row.duration_ms, doc, request, response, bytes: bytes.byteLength };
}
