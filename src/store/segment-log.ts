import { closeSync, fdatasync, ftruncate, mkdirSync, openSync, readdirSync, unlinkSync, writev } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { errorMessage } from '../core/errors.js';
import { SEGMENT_HEADER_BYTES, segmentFileName, segmentHeader, segmentIdOf } from './segment-format.js';
import { TailMismatch, trimTail, type TailReport } from './segment-tail.js';
import type { StoreLogger } from './types.js';

const writevAsync = promisify(writev);
const fdatasyncAsync = promisify(fdatasync);
const ftruncateAsync = promisify(ftruncate);

/** Where one record's bytes lie: an extent of frames in a segment. */
export interface Extent {
  seg: number;
  off: number;
  len: number;
}

/** One record's frames, as the Buffers they are written from. */
export interface PendingExtent {
  pieces: readonly Uint8Array[];
  length: number;
}

export interface SegmentLogOptions {
  /** `<storage.path>.segments`; created when missing. */
  dir: string;
  /** A segment is closed and the next one started once appending would take it past this. */
  rollBytes: number;
  logger: StoreLogger;
  /** The end of the last byte the index references in segment `id`; null when it references none. */
  indexedEnd(id: number): number | null;
  /** The highest segment id the index references, 0 for none (its file may be gone). */
  maxReferenced(): number;
  /** Told when opening cut bytes off the tail of the last segment. */
  onTailCut?(id: number, report: TailReport): void;
}

interface Active {
  id: number;
  fd: number;
  /** Where the next frame goes. */
  pos: number;
  /** Makes what was written to this segment so far durable (see {@link syncer}). */
  sync: () => Promise<void>;
}

/**
 * Shares fdatasync calls between batches: one that arrives while a call is running waits for it
 * and then joins the one next call, which every batch arriving meanwhile joins too. A call covers
 * every write completed before it started, so each batch still waits for a call that began after
 * its own write; with several batches in flight (a sync receiver keeps up to four) they pay one
 * flush of the disk's cache instead of one each.
 */
function syncer(fd: number): () => Promise<void> {
  let running: Promise<void> | null = null;
  let next: Promise<void> | null = null;
  const start = (): Promise<void> => {
    const call: Promise<void> = fdatasyncAsync(fd).finally(() => {
      if (running === call) running = null;
    });
    running = call;
    return call;
  };
  return () => {
    if (!running) return start();
    next ??= running
      .catch(() => undefined)
      .then(() => {
        next = null;
        return start();
      });
    return next;
  };
}

/**
 * The most one pwritev call writes. Measured on the project's box (kernel 6.18, ext4, a VM; `docs/
 * benchmarks.md`, "TCP recording rate"): appending to fresh file space in 8 MiB calls cost the
 * kernel 1.8–2.7 CPU s per GiB, in 256 KiB calls 0.5 — the page cache takes larger folios for a
 * larger call, and filling fresh ones is what costs. Smaller calls add syscalls: 128 KiB was no cheaper.
 */
export const WRITE_CALL_BYTES = 256 * 1024;

/**
 * Writes `pieces` at `at` in calls of at most {@link WRITE_CALL_BYTES} (a piece larger than that is
 * written by itself), all issued at once: positional writes to disjoint ranges may land in any order.
 */
async function writeRun(fd: number, pieces: readonly Uint8Array[], at: number): Promise<void> {
  const calls: Array<Promise<unknown>> = [];
  let from = 0;
  let bytes = 0;
  let pos = at;
  for (let i = 0; i < pieces.length; i++) {
    const n = pieces[i]!.byteLength;
    if (bytes > 0 && bytes + n > WRITE_CALL_BYTES) {
      calls.push(writeAll(fd, pieces.slice(from, i), pos, bytes));
      pos += bytes;
      from = i;
      bytes = 0;
    }
    bytes += n;
  }
  if (bytes > 0) calls.push(writeAll(fd, pieces.slice(from), pos, bytes));
  // All settled before a failure is passed on: the caller then cuts the file back, and no write may land after that.
  const failed = (await Promise.allSettled(calls)).find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}

/** One pwritev, continued where the kernel stopped short. */
async function writeAll(fd: number, pieces: Uint8Array[], at: number, bytes: number): Promise<void> {
  const done = (await writevAsync(fd, pieces, at)).bytesWritten;
  if (done === bytes) return;
  // A short write (a signal, or the disk filling between calls): the rest from one joined copy.
  const all = Buffer.concat(pieces, bytes);
  for (let off = done; off < bytes; ) {
    const n = (await writevAsync(fd, [all.subarray(off)], at + off)).bytesWritten;
    if (n === 0) throw new Error(`a segment write made no progress at offset ${at + off}`);
    off += n;
  }
}

/** The segment ids in `dir`, ascending. */
export function listSegments(dir: string): number[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  return names
    .map(segmentIdOf)
    .filter((id): id is number => id !== null)
    .sort((a, b) => a - b);
}

/**
 * The append side of the segment log, on the main thread. Each `write` takes the frames of a
 * batch as the Buffers they were captured in and appends them with vectored writes (pwritev in
 * libuv's thread pool: no copy into one big buffer, nothing on the event loop but building the
 * list), then fdatasyncs what it wrote. Only then does the caller hand the extents to the index,
 * so an index row never points at bytes that are not on disk.
 *
 * Writes run one at a time, in call order; the fdatasync of one overlaps the write of the next, and
 * batches whose writes end while an fdatasync runs share the one after it. A
 * failed write (a full disk) is cut off the file again, so nothing torn is left behind and the next
 * write goes to the same place.
 */
export class SegmentLog {
  private active: Active | null = null;
  private tail: Promise<unknown> = Promise.resolve();
  private rollNext = false;
  private nextId: number;

  private constructor(
    private readonly o: SegmentLogOptions,
    nextId: number,
  ) {
    this.nextId = nextId;
  }

  /**
   * Opens the log for appending after the last segment's last indexed byte (see segment-tail.ts).
   * Synchronous: it runs once, while the store opens.
   */
  static open(o: SegmentLogOptions): SegmentLog {
    mkdirSync(o.dir, { recursive: true });
    const ids = listSegments(o.dir);
    const last = ids[ids.length - 1];
    const log = new SegmentLog(o, Math.max(last ?? 0, o.maxReferenced()) + 1);
    if (last !== undefined && last >= o.maxReferenced()) {
      const path = join(o.dir, segmentFileName(last));
      try {
        const report = trimTail(path, last, o.indexedEnd(last));
        if (report.cutBytes > 0) o.onTailCut?.(last, report);
        const fd = openSync(path, 'r+');
        log.active = { id: last, fd, pos: report.end, sync: syncer(fd) };
      } catch (err) {
        if (!(err instanceof TailMismatch)) throw err;
        o.logger.error({ segment: last, err: err.message }, 'last segment does not match the index; appending goes to a new segment');
      }
    }
    return log;
  }

  /** The segment being appended to (0 before the first write). */
  get activeId(): number {
    return this.active?.id ?? 0;
  }

  /** Segments from this id on may receive frames (the one being appended to, or the next one). */
  get keepFrom(): number {
    return this.active?.id ?? this.nextId;
  }

  /** Where the next write would start: the active segment and its end. */
  get position(): { seg: number; end: number } {
    return { seg: this.active?.id ?? 0, end: this.active?.pos ?? 0 };
  }

  /** The next write starts a new segment (after the store file was replaced, or the segment file vanished). */
  rollSoon(): void {
    this.rollNext = true;
  }

  /**
   * Appends the extents in order and resolves with where each one lies, once their bytes are
   * written and synced. Rejects with the file system's error (nothing of the batch is usable).
   */
  write(extents: readonly PendingExtent[]): Promise<Extent[]> {
    let synced: Promise<Extent[]> | null = null;
    const written = this.tail.then(async () => {
      synced = (await this.place(extents)).synced;
    });
    this.tail = written.catch(() => undefined);
    return written.then(() => synced!);
  }

  /** Waits for every write, then closes the active segment. */
  async close(): Promise<void> {
    await this.tail.catch(() => undefined);
    if (this.active) closeSync(this.active.fd);
    this.active = null;
  }

  /** Writes a batch (all of it, or none: a failure is truncated away) and returns its fdatasync. */
  private async place(extents: readonly PendingExtent[]): Promise<{ synced: Promise<Extent[]> }> {
    const before = this.active && { seg: this.active, pos: this.active.pos };
    const refs: Extent[] = [];
    const runs: Array<{ seg: Active; at: number; pieces: Uint8Array[] }> = [];
    const retired: Active[] = [];
    for (const e of extents) {
      let seg = this.active;
      if (!seg || this.rollNext || (seg.pos + e.length > this.o.rollBytes && seg.pos > SEGMENT_HEADER_BYTES)) {
        if (seg) retired.push(seg);
        seg = this.startSegment();
        runs.push({ seg, at: 0, pieces: [segmentHeader(seg.id)] });
        seg.pos = SEGMENT_HEADER_BYTES;
      }
      let run = runs[runs.length - 1];
      if (!run || run.seg !== seg) {
        run = { seg, at: seg.pos, pieces: [] };
        runs.push(run);
      }
      for (const p of e.pieces) run.pieces.push(p);
      refs.push({ seg: seg.id, off: seg.pos, len: e.length });
      seg.pos += e.length;
    }
    try {
      for (const run of runs) await writeRun(run.seg.fd, run.pieces, run.at);
    } catch (err) {
      await this.undo(runs, before);
      throw err;
    }
    // Segments left behind are complete: synced with this batch, closed after it.
    const touched = [...new Set([...retired, ...runs.map((r) => r.seg)])];
    const synced = Promise.all(touched.map((s) => s.sync()))
      .then(
        () => refs,
        (err: unknown) => {
          // The page cache may have dropped what it could not write: never append to that file again.
          this.rollNext = true;
          throw err;
        },
      )
      .finally(() => {
        for (const s of retired) closeSync(s.fd);
      });
    return { synced };
  }

  /**
   * Cuts a failed batch off again: the segment it started in goes back to its old end, segments it
   * created are removed, so the next batch is written where this one would have been.
   */
  private async undo(runs: ReadonlyArray<{ seg: Active; at: number }>, before: { seg: Active; pos: number } | null): Promise<void> {
    try {
      for (const run of runs) {
        if (run.seg === before?.seg) {
          await ftruncateAsync(run.seg.fd, before.pos);
        } else if (run.at === 0) {
          closeSync(run.seg.fd);
          unlinkSync(join(this.o.dir, segmentFileName(run.seg.id)));
        }
      }
    } catch (err) {
      this.o.logger.warn({ err: errorMessage(err) }, 'a failed segment write could not be cut off; appending goes to a new segment');
      this.rollNext = true;
    }
    this.active = before?.seg ?? null;
    if (before) before.seg.pos = before.pos;
  }

  private startSegment(): Active {
    const id = this.nextId++;
    const path = join(this.o.dir, segmentFileName(id));
    let fd: number;
    try {
      fd = openSync(path, 'wx');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      mkdirSync(this.o.dir, { recursive: true }); // the folder was removed under us
      fd = openSync(path, 'wx');
    }
    this.rollNext = false;
    const seg: Active = { id, fd, pos: 0, sync: syncer(fd) };
    this.active = seg;
    return seg;
  }
}
