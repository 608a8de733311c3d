/**
 * Retention in the writer thread: whole payload segments go, each with its index rows in one
 * transaction, the file removed after the commit. Records still in the v1 layout (a store
 * upgraded from schema 1) are purged row by row, oldest first, before any segment.
 *
 *   orphans  segments no row references (their records were deleted, or the store file they
 *            belonged to was lost): removed
 *   age      the oldest segment whose records all started before the cutoff and were all sent by
 *            sync (feed position ≤ floor) goes; the first one that is not stops the walk
 *   size     while segments + index exceed max_size the oldest segment goes, sent or not (the
 *            unsent are counted in meta sync.purged_unsent.*: a full disk is worse)
 *
 * Segments at or after `keepFrom` (the one being appended to when the purge was asked) are never
 * touched: batches in flight may be about to reference them.
 */
import { rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import { PURGED_UNSENT_META } from './meta-keys.js';
import { segmentFileName } from './segment-format.js';
import { listSegments } from './segment-log.js';

/** v1 records deleted per purge transaction: small enough that a purge never holds the writer long. */
export const PURGE_BATCH = 500;
/** ... and stored bytes: deleting a few huge v1 records also means freeing many chunk pages. */
export const PURGE_BYTES = 64 * 1024 * 1024;

export interface PurgeRequest {
  /** Records started before this are expired; null: no age limit. */
  cutoff: number | null;
  /** 0: no size limit. */
  maxBytes: number;
  /** Feed positions above it have not been sent by sync. */
  floor: number;
  keepFrom: number;
}

/** What one round deleted. */
export interface PurgeRound {
  reason: 'retention' | 'max_size' | null;
  count: number;
  bytes: number;
  /** Of those, records above the sync floor (size purges only). */
  unsent: { count: number; bytes: number };
  /** Segment files removed (their readers' open files should be closed). */
  segments: number[];
  /** True when there may be more to do: run another round. */
  more: boolean;
}

type Row = { seq: number; size_bytes: number; feed: number };

function none(): PurgeRound {
  return { reason: null, count: 0, bytes: 0, unsent: { count: 0, bytes: 0 }, segments: [], more: false };
}

export class Retention {
  private readonly expiredLegacy: Database.Statement<[number, number, number], Row>;
  private readonly oldestLegacy: Database.Statement<[number], Row>;
  private readonly hasLegacy: Database.Statement<[], number>;
  private readonly firstSeqs: Database.Statement<[], { id: number; first_seq: number }>;
  private readonly rangeStats: Database.Statement<[number, number, number, number], { count: number; bytes: number; newest: number | null; unsent: number; unsent_bytes: number }>;
  private readonly extentStats: Database.Statement<[number, number, number], { count: number; bytes: number; newest: number | null; unsent: number; unsent_bytes: number }>;
  private readonly deleteRange: Database.Statement<[number, number]>;
  private readonly anyInRange: Database.Statement<[number, number], number>;
  private readonly anyExtent: Database.Statement<[number], number>;
  private readonly deleteByExtent: Database.Statement<[number]>;
  private readonly deleteSegmentRow: Database.Statement<[number]>;
  private readonly deleteBySeq: Database.Statement<[number]>;
  private readonly livePages: Database.Statement<[], number>;
  private readonly pageSize: number;

  constructor(
    private readonly db: Database.Database,
    private readonly dir: string,
    private readonly addMeta: (key: string, amount: number) => void,
  ) {
    // The floor compares feed positions (see schema.ts): a TCP session that grew after it was sent
    // has moved past the floor again and is protected until its new part is sent too.
    this.expiredLegacy = db.prepare(
      'SELECT seq, size_bytes, coalesce(feed_seq, seq) AS feed FROM records WHERE seg IS NULL AND started_at < ? AND coalesce(feed_seq, seq) <= ? LIMIT ?',
    );
    this.oldestLegacy = db.prepare(
      'SELECT seq, size_bytes, coalesce(feed_seq, seq) AS feed FROM records WHERE seg IS NULL ORDER BY started_at, seq LIMIT ?',
    );
    this.hasLegacy = db.prepare<[], number>('SELECT 1 FROM records WHERE seg IS NULL LIMIT 1').pluck();
    this.firstSeqs = db.prepare('SELECT id, first_seq FROM segments ORDER BY id');
    // The floor is bound twice (unsent count and bytes), before the range.
    const stats = `count(*) AS count, coalesce(sum(size_bytes), 0) AS bytes, max(started_at) AS newest,
      coalesce(sum(coalesce(feed_seq, seq) > ?), 0) AS unsent,
      coalesce(sum(CASE WHEN coalesce(feed_seq, seq) > ? THEN size_bytes ELSE 0 END), 0) AS unsent_bytes`;
    this.rangeStats = db.prepare(`SELECT ${stats} FROM records WHERE seq >= ? AND seq < ?`);
    this.extentStats = db.prepare(`SELECT ${stats} FROM records WHERE seq IN (SELECT record_seq FROM extents WHERE seg = ?)`);
    this.deleteRange = db.prepare('DELETE FROM records WHERE seq >= ? AND seq < ?');
    this.anyInRange = db.prepare<[number, number], number>('SELECT 1 FROM records WHERE seq >= ? AND seq < ? LIMIT 1').pluck();
    this.anyExtent = db.prepare<[number], number>('SELECT 1 FROM extents WHERE seg = ? LIMIT 1').pluck();
    this.deleteByExtent = db.prepare('DELETE FROM records WHERE seq IN (SELECT record_seq FROM extents WHERE seg = ?)');
    this.deleteSegmentRow = db.prepare('DELETE FROM segments WHERE id = ?');
    this.deleteBySeq = db.prepare('DELETE FROM records WHERE seq = ?');
    this.livePages = db.prepare<[], number>('SELECT (SELECT page_count FROM pragma_page_count()) - (SELECT freelist_count FROM pragma_freelist_count())').pluck();
    this.pageSize = db.pragma('page_size', { simple: true }) as number;
  }

  /** One bounded step of the policies; call again while `more`. */
  round(req: PurgeRequest): PurgeRound {
    const all = listSegments(this.dir);
    const segments = all.filter((id) => id < req.keepFrom);
    const firsts = this.firstSeqs.all();
    const orphans = segments.filter((id) => this.isOrphan(id, firsts));
    if (orphans.length > 0) {
      for (const id of orphans) this.removeFile(id);
      return { ...none(), segments: orphans, more: true };
    }
    const oldest = segments[0];
    if (req.cutoff !== null) {
      const legacy = this.legacyByAge(req.cutoff, req.floor);
      if (legacy.count > 0) return legacy;
      if (oldest !== undefined) {
        const st = this.segmentStats(oldest, firsts, req.floor);
        if (st.newest !== null && st.newest < req.cutoff && st.unsent === 0) return this.dropSegment(oldest, 'retention', req.floor);
      }
    }
    if (req.maxBytes > 0) {
      const total = this.totalBytes(all);
      if (total > req.maxBytes) {
        if (this.hasLegacy.get() !== undefined) return this.legacyBySize(total - req.maxBytes, req.floor);
        if (oldest !== undefined) return this.dropSegment(oldest, 'max_size', req.floor);
      }
    }
    return none();
  }

  /** Segments + the index's live pages: what storage.max_size is held against. */
  totalBytes(segments: readonly number[] = listSegments(this.dir)): number {
    let total = (this.livePages.get() ?? 0) * this.pageSize;
    for (const id of segments) total += statSync(join(this.dir, segmentFileName(id)), { throwIfNoEntry: false })?.size ?? 0;
    return total;
  }

  /** A segment's rows are the seq range from its first row up to the next segment's first row. */
  private seqRange(id: number, firsts: ReadonlyArray<{ id: number; first_seq: number }>): { start: number; end: number } {
    const i = firsts.findIndex((f) => f.id === id);
    if (i < 0) return { start: 0, end: 0 };
    return { start: firsts[i]!.first_seq, end: firsts[i + 1]?.first_seq ?? Number.MAX_SAFE_INTEGER };
  }

  /** No row lies in the segment and no record extends into it: nothing references its bytes. */
  private isOrphan(id: number, firsts: ReadonlyArray<{ id: number; first_seq: number }>): boolean {
    const { start, end } = this.seqRange(id, firsts);
    return this.anyInRange.get(start, end) === undefined && this.anyExtent.get(id) === undefined;
  }

  /** The newest start time and the unsent records of what the segment holds (a scan of its rows). */
  private segmentStats(id: number, firsts: ReadonlyArray<{ id: number; first_seq: number }>, floor: number): { newest: number | null; unsent: number } {
    const f = Number.isFinite(floor) ? floor : Number.MAX_SAFE_INTEGER;
    const { start, end } = this.seqRange(id, firsts);
    const a = this.rangeStats.get(f, f, start, end)!;
    const b = this.extentStats.get(f, f, id)!;
    const newest = a.newest === null ? b.newest : b.newest === null ? a.newest : Math.max(a.newest, b.newest);
    return { newest, unsent: a.unsent + b.unsent };
  }

  /** The segment's rows and the records extended into it, in one transaction; then its file. */
  private dropSegment(id: number, reason: 'retention' | 'max_size', floor: number): PurgeRound {
    const f = Number.isFinite(floor) ? floor : Number.MAX_SAFE_INTEGER;
    const { start, end } = this.seqRange(id, this.firstSeqs.all());
    const done = this.db.transaction(() => {
      const a = this.rangeStats.get(f, f, start, end)!;
      const b = this.extentStats.get(f, f, id)!;
      if (reason === 'retention' && (a.unsent > 0 || b.unsent > 0)) return null; // became unsent meanwhile
      this.deleteByExtent.run(id);
      this.deleteRange.run(start, end);
      this.deleteSegmentRow.run(id);
      const unsent = { count: a.unsent + b.unsent, bytes: a.unsent_bytes + b.unsent_bytes };
      if (reason === 'max_size' && unsent.count > 0) {
        this.addMeta(PURGED_UNSENT_META.records, unsent.count);
        this.addMeta(PURGED_UNSENT_META.bytes, unsent.bytes);
      }
      return { count: a.count + b.count, bytes: a.bytes + b.bytes, unsent: reason === 'max_size' ? unsent : { count: 0, bytes: 0 } };
    })();
    if (!done) return none();
    this.removeFile(id);
    return { reason, ...done, segments: [id], more: true };
  }

  private removeFile(id: number): void {
    rmSync(join(this.dir, segmentFileName(id)), { force: true });
  }

  /** v1 rows started before `cutoff` and sent (feed ≤ floor), one bounded round. */
  private legacyByAge(cutoff: number, floor: number): PurgeRound {
    if (this.hasLegacy.get() === undefined) return none();
    const f = Number.isFinite(floor) ? floor : Number.MAX_SAFE_INTEGER;
    return this.db.transaction(() => {
      const rows = this.expiredLegacy.all(cutoff, f, PURGE_BATCH);
      const done = this.deleteRows(rows, Number.POSITIVE_INFINITY);
      return { ...none(), reason: 'retention' as const, ...done, more: done.count > 0 };
    })();
  }

  /** The oldest v1 rows until `excess` bytes are gone (or the round's budget is spent). */
  private legacyBySize(excess: number, floor: number): PurgeRound {
    const f = Number.isFinite(floor) ? floor : Number.MAX_SAFE_INTEGER;
    return this.db.transaction(() => {
      const rows = this.oldestLegacy.all(PURGE_BATCH);
      const done = this.deleteRows(rows, excess);
      const unsent = { count: 0, bytes: 0 };
      for (const row of rows.slice(0, done.count)) {
        if (row.feed > f) {
          unsent.count++;
          unsent.bytes += row.size_bytes;
        }
      }
      if (unsent.count > 0) {
        this.addMeta(PURGED_UNSENT_META.records, unsent.count);
        this.addMeta(PURGED_UNSENT_META.bytes, unsent.bytes);
      }
      return { ...none(), reason: 'max_size' as const, ...done, unsent, more: done.count > 0 };
    })();
  }

  /** Deletes rows in order until `wanted` bytes are freed or the round's byte budget is spent (at least one row). */
  private deleteRows(rows: readonly Row[], wanted: number): { count: number; bytes: number } {
    let count = 0;
    let bytes = 0;
    for (const row of rows) {
      if (bytes >= wanted || (count > 0 && bytes >= PURGE_BYTES)) break;
      this.deleteBySeq.run(row.seq);
      bytes += row.size_bytes;
      count++;
    }
    return { count, bytes };
  }
}
