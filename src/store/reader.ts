import type Database from 'better-sqlite3';
import { QProxyError } from '../core/errors.js';
import type { QRecord } from '../recording/model.js';
import { decodeCursor, encodeCursor } from './cursor.js';
import { decodeRecord, toSummary, type StoredDoc, type SummaryRow } from './record-codec.js';
import { openForReading } from './schema.js';
import type { ListQuery, ListResult } from './types.js';

type ListRow = SummaryRow & { seq: number };
type ChunkRow = { record_seq: number; part: string; data: Buffer };

const SUMMARY_COLUMNS =
  'seq, id, protocol, node_id, started_at, duration_ms, size_bytes, method, url, status, client, downstream, bytes_in, bytes_out, error, state';

/** Bound of the time filter when a caller gives none: every stored started_at is inside it. */
const FAR = Number.MAX_SAFE_INTEGER;

function listSql(byProtocol: boolean, afterCursor: boolean): string {
  // The indexes end in the rowid (seq), so walking them backwards yields (started_at, seq) desc with
  // no sort step. The row-value comparison is only checked row by row; the caller folds the cursor
  // into @end so that the index walk starts at the cursor instead of at the newest record.
  return `SELECT ${SUMMARY_COLUMNS} FROM records
    WHERE started_at >= @start AND started_at < @end
    ${byProtocol ? 'AND protocol = @protocol' : ''}
    ${afterCursor ? 'AND (started_at, seq) < (@cursorStartedAt, @cursorSeq)' : ''}
    ORDER BY started_at DESC, seq DESC LIMIT @limit`;
}

function badQuery(what: string): QProxyError {
  return new QProxyError('QP_ERR_BAD_QUERY', what);
}

/**
 * The main thread's read-only connection. Every method is a few indexed lookups; bodies are read
 * only by `get` and `readAfter` (chunk rows only for bodies too large to be inline), inside one read
 * transaction so a concurrent delete cannot leave a record without its chunks.
 */
export class StoreReader {
  private readonly db: Database.Database;
  /** Indexed by (byProtocol ? 2 : 0) + (afterCursor ? 1 : 0). */
  private readonly list: Array<Database.Statement<[Record<string, unknown>], ListRow>>;
  private readonly byId: Database.Statement<[string], StoredDoc & { seq: number }>;
  private readonly chunksOf: Database.Statement<[number, number], ChunkRow>;
  private readonly after: Database.Statement<[number, number], StoredDoc & { seq: number; feed: number }>;
  private readonly pending: Database.Statement<[number], { count: number; bytes: number }>;
  private readonly totals: Database.Statement<[], { count: number; bytes: number; last_seq: number | null }>;
  private readonly meta: Database.Statement<[string], string>;

  constructor(path: string) {
    this.db = openForReading(path);
    this.list = [
      this.db.prepare(listSql(false, false)),
      this.db.prepare(listSql(false, true)),
      this.db.prepare(listSql(true, false)),
      this.db.prepare(listSql(true, true)),
    ];
    this.byId = this.db.prepare('SELECT seq, doc, req_body, res_body FROM records WHERE id = ?');
    this.chunksOf = this.db.prepare(
      'SELECT record_seq, part, data FROM chunks WHERE record_seq BETWEEN ? AND ? ORDER BY record_seq, part, idx',
    );
    // The expression matches the records_feed index, so this is an index range scan.
    this.after = this.db.prepare(
      'SELECT seq, coalesce(feed_seq, seq) AS feed, doc, req_body, res_body FROM records WHERE coalesce(feed_seq, seq) > ? ORDER BY coalesce(feed_seq, seq) LIMIT ?',
    );
    this.pending = this.db.prepare(
      'SELECT count(*) AS count, coalesce(sum(size_bytes), 0) AS bytes FROM records WHERE coalesce(feed_seq, seq) > ?',
    );
    this.totals = this.db.prepare(
      `SELECT count, bytes, (SELECT seq FROM sqlite_sequence WHERE name = 'records') AS last_seq FROM totals WHERE id = 1`,
    );
    this.meta = this.db.prepare<[string], string>('SELECT value FROM meta WHERE key = ?').pluck();
  }

  listRecords(q: ListQuery): ListResult {
    if (!Number.isInteger(q.limit) || q.limit < 1) throw badQuery(`limit must be a positive integer, got ${q.limit}`);
    for (const k of ['start', 'end'] as const) {
      const v = q[k];
      if (v !== undefined && !Number.isFinite(v)) throw badQuery(`${k} must be a finite epoch-millisecond time, got ${v}`);
    }
    const pos = q.cursor === undefined ? null : decodeCursor(q.cursor);
    const stmt = this.list[(q.protocol ? 2 : 0) + (pos ? 1 : 0)]!;
    const rows = stmt.all({
      start: q.start ?? -FAR,
      end: pos ? Math.min(q.end ?? FAR, pos.startedAt + 1) : (q.end ?? FAR),
      limit: q.limit + 1,
      ...(q.protocol && { protocol: q.protocol }),
      ...(pos && { cursorStartedAt: pos.startedAt, cursorSeq: pos.seq }),
    });
    const page = rows.slice(0, q.limit);
    const last = page[page.length - 1];
    const next = rows.length > q.limit && last ? encodeCursor({ startedAt: last.started_at, seq: last.seq }) : null;
    return { records: page.map(toSummary), next };
  }

  get(id: string): QRecord | null {
    return this.db.transaction(() => {
      const row = this.byId.get(id);
      if (!row) return null;
      return decodeRecord(row, () => this.chunksOf.all(row.seq, row.seq));
    })();
  }

  readAfter(seq: number, limit: number): Array<{ seq: number; record: QRecord }> {
    if (!Number.isInteger(limit) || limit < 1) throw badQuery(`limit must be a positive integer, got ${limit}`);
    // Chunks are looked up per record: a session moved along the feed keeps its old row seq, so
    // the rows of one page are not a contiguous seq range.
    return this.db.transaction(() =>
      this.after.all(seq, limit).map((r) => ({ seq: r.feed, record: decodeRecord(r, () => this.chunksOf.all(r.seq, r.seq)) })),
    )();
  }

  /** Records (and their stored bytes) whose feed position is above `seq`: what sync has not yet sent. */
  countAfter(seq: number): { count: number; bytes: number } {
    return this.pending.get(seq) ?? { count: 0, bytes: 0 };
  }

  totalsNow(): { count: number; bytes: number; lastSeq: number } {
    const t = this.totals.get();
    return { count: t?.count ?? 0, bytes: t?.bytes ?? 0, lastSeq: t?.last_seq ?? 0 };
  }

  getMeta(key: string): string | null {
    return this.meta.get(key) ?? null;
  }

  close(): void {
    this.db.close();
  }
}
