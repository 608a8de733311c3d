import { closeSync, openSync, readSync, createReadStream } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { StoreError } from '../core/errors.js';
import { segmentFileName } from './segment-format.js';
import type { Extent } from './segment-log.js';

/** Segment files kept open for reading; the least recently used beyond this is closed. */
const MAX_OPEN = 32;

/** The segment file of an extent is gone (retention removed it, or someone deleted it). */
export class SegmentMissing extends Error {
  constructor(readonly seg: number) {
    super(`segment ${seg} is missing`);
  }
}

/**
 * The one reader of payload bytes. Every component reads record bodies and TCP chunks through
 * the store (the API, HAR export, playback, both sync backends), and the store reads them here:
 * range reads of exactly a record's extent, never a whole segment, from a small cache of open
 * files. Reads are positional (pread), so concurrent readers never disturb each other.
 *
 * Reads are synchronous, like the index reads around them: an extent is one pread, mostly served
 * from the page cache. `stream()` is for callers that want a large extent piece by piece.
 */
export class PayloadReader {
  /** Open files by segment id, in least-recently-used order (a Map keeps insertion order). */
  private readonly fds = new Map<number, number>();

  constructor(private readonly dir: string) {}

  /** The bytes of an extent. Throws {@link SegmentMissing} when its file is gone, StoreError `QP_ERR_STORE_DAMAGED` when it is short. */
  read(e: Extent): Buffer {
    const fd = this.fdOf(e.seg);
    const buf = Buffer.allocUnsafe(e.len);
    let n = 0;
    while (n < e.len) {
      const got = readSync(fd, buf, n, e.len - n, e.off + n);
      if (got === 0) {
        throw new StoreError('QP_ERR_STORE_DAMAGED', `segment ${e.seg} ends at ${e.off + n}, before the ${e.len}-byte extent at ${e.off} it should hold`);
      }
      n += got;
    }
    return buf;
  }

  /** The bytes of an extent as a stream, read in pieces (for extents too large to hold at once). */
  stream(e: Extent, highWaterMark = 1024 * 1024): Readable {
    return createReadStream(join(this.dir, segmentFileName(e.seg)), { start: e.off, end: e.off + e.len - 1, highWaterMark });
  }

  /** Closes the file of a segment that was removed, so its disk space is freed now. */
  forget(seg: number): void {
    const fd = this.fds.get(seg);
    if (fd === undefined) return;
    this.fds.delete(seg);
    closeSync(fd);
  }

  close(): void {
    for (const fd of this.fds.values()) closeSync(fd);
    this.fds.clear();
  }

  private fdOf(seg: number): number {
    const known = this.fds.get(seg);
    if (known !== undefined) {
      this.fds.delete(seg);
      this.fds.set(seg, known);
      return known;
    }
    let fd: number;
    try {
      fd = openSync(join(this.dir, segmentFileName(seg)), 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new SegmentMissing(seg);
      throw err;
    }
    this.fds.set(seg, fd);
    if (this.fds.size > MAX_OPEN) {
      const [oldest, oldFd] = this.fds.entries().next().value as [number, number];
      this.fds.delete(oldest);
      closeSync(oldFd);
    }
    return fd;
  }
}
