import { closeSync, fstatSync, ftruncateSync, openSync, readSync, writeSync } from 'node:fs';
import { crc32 } from 'node:zlib';
import { FRAME_HEADER_BYTES, SEGMENT_HEADER_BYTES, isSegmentHeader, segmentHeader } from './segment-format.js';

/** Bytes read at once while verifying a frame (frames can be far larger: a 50 MiB body). */
const READ_BYTES = 1024 * 1024;

/** What was found past the last byte the index references in the segment written last. */
export interface TailReport {
  /** Where appending goes on (the end of the last indexed extent, or the header's end). */
  end: number;
  /** Bytes cut from the file: complete frames that were never indexed, and a torn frame. */
  cutBytes: number;
  /** Complete, checksum-valid frames among them (written, but the crash came before their commit). */
  completeFrames: number;
  /** Whether the last of them was torn (incomplete or failing its checksum). */
  torn: boolean;
}

/**
 * Why the segment must not be appended to: the index references bytes past its end, or its header
 * is damaged while the index references it. The caller starts a new segment instead, so new bytes
 * can never land under an old reference.
 */
export class TailMismatch extends Error {}

function readExact(fd: number, buf: Buffer, at: number): number {
  let n = 0;
  while (n < buf.byteLength) {
    const got = readSync(fd, buf, n, buf.byteLength - n, at + n);
    if (got === 0) break;
    n += got;
  }
  return n;
}

/** The end of the frame at `at` when it is complete and its checksum holds, else null. */
function verifiedFrameEnd(fd: number, at: number, size: number): number | null {
  const head = Buffer.alloc(FRAME_HEADER_BYTES);
  if (size - at < FRAME_HEADER_BYTES || readExact(fd, head, at) < FRAME_HEADER_BYTES) return null;
  const length = head.readUInt32LE(0);
  const end = at + FRAME_HEADER_BYTES + length;
  if (end > size) return null;
  let crc = crc32(head.subarray(0, 8));
  const buf = Buffer.allocUnsafe(Math.min(READ_BYTES, Math.max(1, length)));
  for (let pos = at + FRAME_HEADER_BYTES; pos < end; ) {
    const piece = buf.subarray(0, Math.min(buf.byteLength, end - pos));
    if (readExact(fd, piece, pos) < piece.byteLength) return null;
    crc = crc32(piece, crc);
    pos += piece.byteLength;
  }
  return crc === head.readUInt32LE(8) ? end : null;
}

/**
 * Makes the segment written last end exactly where its indexed bytes end. Everything past
 * `indexedEnd` (null: nothing in the segment is indexed) was written after the last group commit
 * that reached the index: complete frames of a batch whose commit the crash prevented, and maybe a
 * torn frame. They are verified frame by frame (for the report) and cut. A header torn at creation
 * is written again. Throws {@link TailMismatch} when the index references more than the file holds.
 */
export function trimTail(path: string, id: number, indexedEnd: number | null): TailReport {
  const fd = openSync(path, 'r+');
  try {
    const size = fstatSync(fd).size;
    const head = Buffer.alloc(SEGMENT_HEADER_BYTES);
    const headerOk = readExact(fd, head, 0) === SEGMENT_HEADER_BYTES && isSegmentHeader(head, id);
    if (!headerOk) {
      if (indexedEnd !== null) throw new TailMismatch(`segment ${id} has a damaged header but the index references ${indexedEnd} bytes of it`);
      ftruncateSync(fd, 0);
      writeSync(fd, segmentHeader(id), 0, SEGMENT_HEADER_BYTES, 0);
      return { end: SEGMENT_HEADER_BYTES, cutBytes: size, completeFrames: 0, torn: size > 0 };
    }
    const end = indexedEnd ?? SEGMENT_HEADER_BYTES;
    if (end > size) throw new TailMismatch(`the index references ${end} bytes of segment ${id}, which holds ${size}`);
    let at = end;
    let completeFrames = 0;
    for (;;) {
      if (at === size) break;
      const next = verifiedFrameEnd(fd, at, size);
      if (next === null) break;
      completeFrames++;
      at = next;
    }
    if (size > end) ftruncateSync(fd, end);
    return { end, cutBytes: size - end, completeFrames, torn: at < size };
  } finally {
    closeSync(fd);
  }
}
