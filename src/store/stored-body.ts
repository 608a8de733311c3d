/**
 * HTTP records whose bodies stay in their segment until read: what lets the API and HAR export send
 * a 50 MiB body in pieces instead of holding it (and its base64) whole. Only the extent's frame
 * headers and its DOC frame are read up front; a body is then read by range, and checked against
 * its frame's checksum as its last piece is read.
 */
import { crc32 } from 'node:zlib';
import { StoreError } from '../core/errors.js';
import type { HttpRecord } from '../recording/model.js';
import type { PayloadReader } from './payload-reader.js';
import { FRAME_HEADER_BYTES, FrameKind, crc32Small, readFrame } from './segment-format.js';
import type { Extent } from './segment-log.js';

/** Bytes read at once when a body is read in pieces: a multiple of 3, so base64 pieces join. */
export const PIECE_BYTES = 3 * 256 * 1024;

/** One body of a record, still in its segment. */
export interface StoredBody {
  /** Captured bytes stored (`body.data.length` of the whole record). */
  readonly length: number;
  /** Bytes [from, to) of the body, read now (no checksum: a part cannot be checked). */
  read(from: number, to: number): Buffer;
  /**
   * The body in pieces of at most `pieceBytes`, read as they are taken. The frame's checksum is
   * checked as the last piece is read: on a mismatch that piece throws StoreError
   * `QP_ERR_STORE_DAMAGED` instead of being returned (earlier pieces may already have been used).
   */
  pieces(pieceBytes?: number): Generator<Buffer, void, undefined>;
}

/** An HTTP record whose body `data` are empty, with its bodies left in their segment. */
export interface LazyHttpRecord {
  record: HttpRecord;
  request: StoredBody;
  /** Null when the record has no response. */
  response: StoredBody | null;
}

function damaged(id: string, what: string): StoreError {
  return new StoreError('QP_ERR_STORE_DAMAGED', `record ${id} is damaged: ${what}; it cannot be read (delete it, or restore the store from a backup)`);
}

const EMPTY = Buffer.alloc(0);

class SegmentBody implements StoredBody {
  constructor(
    private readonly id: string,
    private readonly payloads: PayloadReader,
    private readonly seg: number,
    /** Where the body bytes start in the segment. */
    private readonly off: number,
    readonly length: number,
    /** CRC of the frame header's first 8 bytes: where the payload's checksum starts. */
    private readonly headCrc: number,
    private readonly crc: number,
  ) {}

  read(from: number, to: number): Buffer {
    const end = Math.min(to, this.length);
    if (end <= from) return EMPTY;
    return this.payloads.read({ seg: this.seg, off: this.off + from, len: end - from });
  }

  *pieces(pieceBytes = PIECE_BYTES): Generator<Buffer, void, undefined> {
    let crc = this.headCrc;
    for (let at = 0; at < this.length; at += pieceBytes) {
      const piece = this.read(at, at + pieceBytes);
      crc = crc32(piece, crc);
      if (at + piece.byteLength >= this.length && crc !== this.crc) throw damaged(this.id, `its body at segment ${this.seg} offset ${this.off} fails its checksum`);
      yield piece;
    }
  }
}

const NO_BODY: StoredBody = {
  length: 0,
  read: () => EMPTY,
  *pieces() {},
};

/**
 * Reads the frame headers of a one-extent HTTP record and its DOC frame (checked), and describes
 * its bodies without reading them; null for a record with WebSocket messages (read it whole).
 * Throws StoreError `QP_ERR_STORE_DAMAGED` for a frame that is cut short, fails its checksum or is
 * not what an HTTP extent holds.
 */
export function lazyHttpRecord(id: string, e: Extent, payloads: PayloadReader): LazyHttpRecord | null {
  const where = (at: number): string => `the frame at segment ${e.seg} offset ${e.off + at}`;
  let record: HttpRecord | null = null;
  let request: StoredBody = NO_BODY;
  let response: StoredBody = NO_BODY;
  for (let at = 0; at < e.len; ) {
    if (e.len - at < FRAME_HEADER_BYTES) throw damaged(id, `${where(at)} is cut short`);
    const head = payloads.read({ seg: e.seg, off: e.off + at, len: FRAME_HEADER_BYTES });
    const length = head.readUInt32LE(0);
    const kind = head[4];
    if (at + FRAME_HEADER_BYTES + length > e.len) throw damaged(id, `${where(at)} is cut short`);
    if (kind === FrameKind.doc) {
      const frame = readFrame(Buffer.concat([head, payloads.read({ seg: e.seg, off: e.off + at + FRAME_HEADER_BYTES, len: length })]), 0);
      if (typeof frame === 'string') throw damaged(id, `${where(at)} fails its checksum`);
      try {
        record = JSON.parse(frame.payload.toString('utf8')) as HttpRecord;
      } catch {
        throw damaged(id, 'its document is not JSON');
      }
    } else if (kind === FrameKind.requestBody || kind === FrameKind.responseBody) {
      const body = new SegmentBody(id, payloads, e.seg, e.off + at + FRAME_HEADER_BYTES, length, crc32Small(head, 0, 8), head.readUInt32LE(8));
      if (kind === FrameKind.requestBody) request = body;
      else response = body;
    } else if (kind === FrameKind.websocket) {
      // WebSocket messages are bounded by recording.websocket.max_bytes: such a record is read whole.
      return null;
    } else {
      throw damaged(id, `${where(at)} is not a frame of an HTTP record`);
    }
    at += FRAME_HEADER_BYTES + length;
  }
  if (record === null) throw damaged(id, 'none of its frames is its document');
  if (record.protocol !== 'http') throw damaged(id, 'its document is not an HTTP record');
  record.request.body.data = EMPTY;
  if (record.response) record.response.body.data = EMPTY;
  return { record, request, response: record.response ? response : null };
}
