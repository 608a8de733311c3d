import { StoreError } from '../core/errors.js';
import type { TcpChunk, TcpDirection } from '../recording/model.js';
import { CHUNK_HEADER_BYTES, writeChunkHeader } from '../recording/tcp-capture.js';

export { writeChunkHeader };

/**
 * How a TCP session's chunks are laid out in `chunks` rows (part `"tcp"`). Socket reads are often
 * tiny (a Redis command is a few dozen bytes), so many of them share one row; each keeps its own
 * direction, time offset and boundary through an 11-byte frame header:
 *
 * ```
 * row  = frame*                                   (at most CHUNK_BYTES, header included)
 * frame = flags:u8  t_us:u48 BE  len:u32 BE  data:len
 * flags: bit 0 direction (0 c2s, 1 s2c); bit 1 continuation (this frame extends the previous chunk)
 * ```
 *
 * A chunk that does not fit the rest of a row is split across rows with continuation frames, so
 * reading the rows back gives exactly the chunks that were written.
 */
export const FRAME_HEADER_BYTES = CHUNK_HEADER_BYTES;

const DIR_S2C = 1;
const CONTINUATION = 2;
/** A chunk is split over two rows rather than start a row when less than this is left of the current one. */
const MIN_SPLIT_BYTES = 4096;

/** A chunk to frame; `data` may be a plain Uint8Array (what crosses the thread boundary). */
export interface FrameInput {
  dir: TcpDirection;
  t_us: number;
  data: Uint8Array;
}

function header(dir: TcpDirection, tUs: number, len: number, continuation: boolean): Buffer {
  const h = Buffer.allocUnsafe(FRAME_HEADER_BYTES);
  writeChunkHeader(h, 0, dir, tUs, len, continuation);
  return h;
}

/** Packs chunks into rows of at most `rowBytes` bytes (frame headers included), in order. */
export function frameTcpChunks(chunks: readonly FrameInput[], rowBytes: number): Buffer[] {
  const rows: Buffer[] = [];
  let pieces: Uint8Array[] = [];
  let rowLen = 0;
  const closeRow = (): void => {
    if (rowLen > 0) rows.push(Buffer.concat(pieces, rowLen));
    pieces = [];
    rowLen = 0;
  };
  for (const c of chunks) {
    const len = c.data.byteLength;
    let off = 0;
    do {
      let room = rowBytes - rowLen - FRAME_HEADER_BYTES;
      if (room <= 0 || (len - off > room && room < MIN_SPLIT_BYTES)) {
        closeRow();
        room = rowBytes - FRAME_HEADER_BYTES;
      }
      const n = Math.min(len - off, room);
      pieces.push(header(c.dir, c.t_us, n, off > 0), c.data.subarray(off, off + n));
      rowLen += FRAME_HEADER_BYTES + n;
      off += n;
    } while (off < len);
  }
  closeRow();
  return rows;
}

function corrupt(why: string): StoreError {
  return new StoreError('QP_ERR_STORE_CORRUPT', `a stored TCP chunk row is damaged (${why}); delete the record or restore the store from a backup`);
}

/** Reads rows written by {@link frameTcpChunks} (in idx order) back into chunks. Data is not copied unless a chunk was split. */
export function unframeTcpChunks(rows: readonly Buffer[]): TcpChunk[] {
  const chunks: TcpChunk[] = [];
  // Pieces of split chunks, by chunk index; joined once at the end.
  const split = new Map<number, Buffer[]>();
  for (const row of rows) {
    let off = 0;
    while (off < row.length) {
      if (row.length - off < FRAME_HEADER_BYTES) throw corrupt(`${row.length - off} stray bytes at the end of a row`);
      const flags = row[off]!;
      const tUs = row.readUIntBE(off + 1, 6);
      const len = row.readUInt32BE(off + 7);
      const start = off + FRAME_HEADER_BYTES;
      if (start + len > row.length) throw corrupt(`a frame of ${len} bytes runs past the end of its row`);
      const data = row.subarray(start, start + len);
      off = start + len;
      const last = chunks.length - 1;
      if ((flags & CONTINUATION) !== 0) {
        if (last < 0) throw corrupt('the first frame continues a chunk that does not exist');
        const parts = split.get(last) ?? [chunks[last]!.data];
        parts.push(data);
        split.set(last, parts);
      } else {
        chunks.push({ dir: (flags & DIR_S2C) !== 0 ? 's2c' : 'c2s', t_us: tUs, data });
      }
    }
  }
  for (const [i, parts] of split) chunks[i]!.data = Buffer.concat(parts);
  return chunks;
}
