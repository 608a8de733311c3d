import type Database from 'better-sqlite3';
import { QProxyError, StoreError } from '../core/errors.js';
import type { QRecord } from '../recording/model.js';
import { decodeCursor, encodeCursor } from './cursor.js';
import { readRuns } from './extent-runs.js';
import { storedHttpOf, type FeedItem, type StoredFeedItem } from './feed-item.js';
import { SegmentMissing, type PayloadReader } from './payload-reader.js';
import { decodeLegacyRecord, toSummary, type StoredDoc, type SummaryRow } from './record-codec.js';
import { readRecordAndDoc } from './record-frames.js';
import { openForReading } from './schema.js';
import { lazyHttpRecord, type LazyHttpRecord } from './stored-body.js';
import type { Extent } from './segment-log.js';
import type { ListQuery, ListResult } from './types.js';

type ListRow = SummaryRow & { seq: number };
type ChunkRow = { record_seq: number; part: string; data: Buffer };
/** What a body read needs from a row: v1 columns, the first extent, and how many follow. */
type BodyRow = StoredDoc & {
  seq: number;
  id: string;
  protocol: string;
  state: string | null;
  seg: number | null;
  off: number | null;
  len: number | null;
  exts: number;
};
type ExtentRow = Extent & { first_chunk: number | null };
/** A feed row: a body row with its feed position and the times a stored HTTP item carries. */
type FeedRow = BodyRow & { feed: number; started_at: number; duration_ms: number };
/** A feed row as the statement returns it (raw: an array, in the order of FEED_COLUMNS). */
type FeedValues = [
  seq: number,
  id: string,
  protocol: string,
  state: string | null,
  doc: string,
  req_body: Buffer | null,
  res_body: Buffer | null,
  seg: number | null,
  off: number | null,
  len: number | null,
  exts: number,
  started_at: number,
  duration_ms: number,
  feed: number,
];

const BODY_COLUMNS = 'seq, id, protocol, state, doc, req_body, res_body, seg, off, len, exts';
const FEED_COLUMNS = `${BODY_COLUMNS}, started_at, duration_ms, coalesce(feed_seq, seq) AS feed`;
const FEED_NAMES = 'seq,id,protocol,state,doc,req_body,res_body,seg,off,len,exts,started_at,duration_ms,feed';

/**
 * A feed row from its raw values. better-sqlite3 builds a row object property by property (~4.7 µs
 * of CPU per 14-column row on 1 KiB feed pages); raw arrays and this literal cost ~2 µs.
 */
function feedRow(v: FeedValues): FeedRow {
  return {
    seq: v[0],
    id: v[1],
    protocol: v[2],
    state: v[3],
    doc: v[4],
    req_body: v[5],
    res_body: v[6],
    seg: v[7],
    off: v[8],
    len: v[9],
    exts: v[10],
    started_at: v[11],
    duration_ms: v[12],
    feed: v[13],
  };
}

/**
 * For TCP sessions in the feed: the index of the first chunk the caller needs (what its peer
 * lacks), given the session id and whether it is still open. Extents that end before it are not
 * read; the item says where its chunks start (`chunkBase`).
 */
export type TcpFrom = (id: string, open: boolean) => number;

/** A record that could not be read back: its frames fail their checksum, or its segment is gone. */
export interface DamagedRecord {
  id: string;
  seq: number;
  error: StoreError;
}

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

/** A row's extent when it is its only one (what a feed page reads as runs); null otherwise. */
function oneExtent(row: BodyRow): Extent | null {
  return row.seg !== null && row.exts === 0 ? { seg: row.seg, off: row.off!, len: row.len! } : null;
}

function where(seg: number, off: number): string {
  return `segment ${seg} offset ${off}`;
}

function badQuery(what: string): QProxyError {
  return new QProxyError('QP_ERR_BAD_QUERY', what);
}

/**
 * The main thread's read-only connection. Every method is a few indexed lookups; payloads are read
 * only by `get`, `getLazy` and the feed reads, through the PayloadReader (one pread per extent, or
 * per run of back-to-back extents for a feed page), inside one read transaction so that a
 * concurrent delete cannot leave a v1 record without its chunk rows.
 */
export class StoreReader {
  private readonly db: Database.Database;
  /** Indexed by (byProtocol ? 2 : 0) + (afterCursor ? 1 : 0). */
  private readonly list: Array<Database.Statement<[Record<string, unknown>], ListRow>>;
  private readonly byId: Database.Statement<[string], BodyRow>;
  private readonly chunksOf: Database.Statement<[number, number], ChunkRow>;
  private readonly extentsOf: Database.Statement<[number], ExtentRow>;
  private readonly exists: Database.Statement<[string], number>;
  private readonly after: Database.Statement<[number, number], FeedValues>;
  private readonly pending: Database.Statement<[number], { count: number; bytes: number }>;
  private readonly pendingUpTo: Database.Statement<[number, number], { count: number; bytes: number }>;
  private readonly totals: Database.Statement<[], { count: number; bytes: number; last_seq: number | null }>;
  private readonly meta: Database.Statement<[string], string>;

  constructor(
    path: string,
    private readonly payloads: PayloadReader,
  ) {
    this.db = openForReading(path);
    this.list = [
      this.db.prepare(listSql(false, false)),
      this.db.prepare(listSql(false, true)),
      this.db.prepare(listSql(true, false)),
      this.db.prepare(listSql(true, true)),
    ];
    this.byId = this.db.prepare(`SELECT ${BODY_COLUMNS} FROM records WHERE id = ?`);
    this.extentsOf = this.db.prepare('SELECT seg, off, len, first_chunk FROM extents WHERE record_seq = ? ORDER BY idx');
    this.exists = this.db.prepare<[string], number>('SELECT 1 FROM records WHERE id = ?').pluck();
    this.chunksOf = this.db.prepare(
      'SELECT record_seq, part, data FROM chunks WHERE record_seq BETWEEN ? AND ? ORDER BY record_seq, part, idx',
    );
    // The expression matches the records_feed index, so this is an index range scan.
    this.after = this.db
      .prepare<[number, number], FeedValues>(
        `SELECT ${FEED_COLUMNS} FROM records WHERE coalesce(feed_seq, seq) > ? ORDER BY coalesce(feed_seq, seq) LIMIT ?`,
      )
      .raw(true);
    // feedRow reads the values by position: the statement's columns must be FeedValues' names, in order.
    const names = this.after.columns().map((c) => c.name).join(',');
    if (names !== FEED_NAMES) throw new Error(`the feed statement returns ${names}, feedRow expects ${FEED_NAMES}`);
    this.pending = this.db.prepare(
      'SELECT count(*) AS count, coalesce(sum(size_bytes), 0) AS bytes FROM records WHERE coalesce(feed_seq, seq) > ?',
    );
    this.pendingUpTo = this.db.prepare(
      'SELECT count(*) AS count, coalesce(sum(size_bytes), 0) AS bytes FROM records WHERE coalesce(feed_seq, seq) > ? AND coalesce(feed_seq, seq) <= ?',
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

  /**
   * The whole record, or null. Throws StoreError `QP_ERR_STORE_DAMAGED` when its bytes fail their
   * checksum or its segment file is gone while its index row is still there.
   */
  get(id: string): QRecord | null {
    try {
      return this.db.transaction(() => {
        const row = this.byId.get(id);
        return row ? this.decode(row) : null;
      })();
    } catch (err) {
      // Retention may have removed the segment between the row read and the file read: then the
      // row is gone too, and so is the record.
      if (err instanceof SegmentMissing) {
        if (this.exists.get(id) === undefined) return null;
        throw new StoreError('QP_ERR_STORE_DAMAGED', `record ${id} is damaged: its segment file ${err.seg} is missing`);
      }
      throw err;
    }
  }

  /**
   * An HTTP record with its bodies left in their segment (see stored-body.ts), or null when there
   * is none with this id or it is not stored as one extent of segment frames (v1 rows, TCP
   * sessions): `get` reads those. Throws like `get` for a damaged record.
   */
  getLazy(id: string): LazyHttpRecord | null {
    const row = this.byId.get(id);
    if (!row || row.protocol !== 'http' || row.seg === null || row.exts > 0) return null;
    try {
      return lazyHttpRecord(row.id, { seg: row.seg, off: row.off!, len: row.len! }, this.payloads);
    } catch (err) {
      if (!(err instanceof SegmentMissing)) throw err;
      if (this.exists.get(id) === undefined) return null;
      throw new StoreError('QP_ERR_STORE_DAMAGED', `record ${id} is damaged: its segment file ${err.seg} is missing`);
    }
  }

  /**
   * Records above feed position `seq`, ascending. A record that cannot be read is left out and
   * handed to `onDamaged`, so one bad record never stops the feed (sync, live replay) behind it.
   */
  readAfter(seq: number, limit: number, onDamaged: (d: DamagedRecord) => void = () => {}, tcpFrom?: TcpFrom): FeedItem[] {
    return this.feed(seq, limit, onDamaged, tcpFrom, false) as FeedItem[];
  }

  /**
   * {@link readAfter}, but an HTTP record kept as one extent of frames comes as it lies there
   * (feed-item.ts `StoredHttp`: frames checked, document not parsed); TCP sessions, v1 rows and
   * records with WebSocket messages come as records.
   */
  readStoredAfter(seq: number, limit: number, onDamaged: (d: DamagedRecord) => void = () => {}, tcpFrom?: TcpFrom): StoredFeedItem[] {
    return this.feed(seq, limit, onDamaged, tcpFrom, true);
  }

  private feed(seq: number, limit: number, onDamaged: (d: DamagedRecord) => void, tcpFrom: TcpFrom | undefined, stored: boolean): StoredFeedItem[] {
    if (!Number.isInteger(limit) || limit < 1) throw badQuery(`limit must be a positive integer, got ${limit}`);
    const missing: Array<{ id: string; seq: number; seg: number }> = [];
    const out = this.db.transaction(() => {
      const items: StoredFeedItem[] = [];
      // One range query for the page, then its records' extents read as runs (extent-runs.ts).
      const rows = this.after.all(seq, limit).map(feedRow);
      const runs = readRuns(rows.map(oneExtent), this.payloads);
      for (let i = 0; i < rows.length; i++) {
        const r = rows[i]!;
        try {
          const bytes = runs[i] ?? null;
          if (stored && r.protocol === 'http' && r.seg !== null && r.exts === 0) {
            const s = storedHttpOf(r, bytes ?? this.payloads.read(oneExtent(r)!), where(r.seg, r.off!));
            if (s) {
              items.push({ seq: r.feed, stored: s });
              continue;
            }
          }
          const from = tcpFrom && r.protocol === 'tcp' ? tcpFrom(r.id, r.state === 'open') : 0;
          const { record, chunkBase, doc } = this.decodeFrom(r, from, bytes);
          const item: FeedItem = chunkBase > 0 ? { seq: r.feed, record, chunkBase } : { seq: r.feed, record };
          if (doc !== null) item.doc = doc;
          items.push(item);
        } catch (err) {
          if (err instanceof SegmentMissing) missing.push({ id: r.id, seq: r.feed, seg: err.seg });
          else if (err instanceof StoreError) onDamaged({ id: r.id, seq: r.feed, error: err });
          else throw err;
        }
      }
      return items;
    })();
    // This read's snapshot still had rows that retention deleted (with their segment) meanwhile:
    // asked again outside it, those are gone, not damaged.
    for (const m of missing) {
      if (this.exists.get(m.id) === undefined) continue;
      onDamaged({ id: m.id, seq: m.seq, error: new StoreError('QP_ERR_STORE_DAMAGED', `record ${m.id} is damaged: its segment file ${m.seg} is missing`) });
    }
    return out;
  }

  /** A row's record: v1 columns and chunk rows, then (or only) its extents in segments. */
  private decode(row: BodyRow): QRecord {
    return this.decodeFrom(row, 0).record;
  }

  /**
   * Like {@link decode}, but a TCP session's extents that end before chunk `from` are left unread
   * (the last one always is read: it holds the latest document). v1 sessions are read whole.
   * `first`: the row's own extent, already read (a run of the feed page).
   */
  private decodeFrom(row: BodyRow, from: number, first: Buffer | null = null): { record: QRecord; chunkBase: number; doc: Buffer | null } {
    // Chunks are looked up per record: a session moved along the feed keeps its old row seq, so
    // the rows of one page are not a contiguous seq range.
    const base = row.seg === null ? decodeLegacyRecord(row, () => this.chunksOf.all(row.seq, row.seq)) : null;
    if (row.seg === null && row.exts === 0) return { record: base!, chunkBase: 0, doc: null };
    const extents: ExtentRow[] = row.seg === null ? [] : [{ seg: row.seg, off: row.off!, len: row.len!, first_chunk: 0 }];
    if (row.exts > 0) extents.push(...this.extentsOf.all(row.seq));
    let skip = 0;
    if (from > 0 && base === null) {
      // Extent i holds the chunks from its first_chunk up to the next extent's.
      while (skip < extents.length - 1 && (extents[skip + 1]!.first_chunk ?? Number.POSITIVE_INFINITY) <= from) skip++;
    }
    const { record, doc } = readRecordAndDoc(
      row.id,
      extents.slice(skip).map((e, i) => ({ bytes: i + skip === 0 && first ? first : this.payloads.read(e), where: where(e.seg, e.off) })),
      base,
    );
    return { record, chunkBase: skip === 0 ? 0 : extents[skip]!.first_chunk!, doc };
  }

  /**
   * Records (and their stored bytes) whose feed position is above `seq` (and at most `upTo`): what
   * sync has not yet sent. Linear in the rows counted.
   */
  countAfter(seq: number, upTo?: number): { count: number; bytes: number } {
    return (upTo === undefined ? this.pending.get(seq) : this.pendingUpTo.get(seq, upTo)) ?? { count: 0, bytes: 0 };
  }

  /**
   * The end of the last byte the index references in segment `seg` (null: none). Rows are inserted
   * in the order their frames were appended, so the last row of the segment's seq range ends last.
   */
  indexedEnd(seg: number): number | null {
    const first = this.db.prepare<[number], number>('SELECT first_seq FROM segments WHERE id = ?').pluck().get(seg);
    const row =
      first === undefined
        ? undefined
        : this.db.prepare<[number, number], number>('SELECT off + len FROM records WHERE seq >= ? AND seg = ? ORDER BY seq DESC LIMIT 1').pluck().get(first, seg);
    const ext = this.db.prepare<[number], number | null>('SELECT max(off + len) FROM extents WHERE seg = ?').pluck().get(seg) ?? null;
    const ends = [row, ext].filter((n): n is number => typeof n === 'number');
    return ends.length === 0 ? null : Math.max(...ends);
  }

  /** The highest segment id any row references (0 for none). */
  maxReferencedSegment(): number {
    const a = this.db.prepare<[], number | null>('SELECT max(id) FROM segments').pluck().get() ?? 0;
    const b = this.db.prepare<[], number | null>('SELECT max(seg) FROM extents').pluck().get() ?? 0;
    return Math.max(a, b);
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
