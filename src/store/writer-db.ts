import type Database from 'better-sqlite3';
import { errorMessage } from '../core/errors.js';
import { unpackBatch, type IndexRow, type PackedBatch } from './batch-pack.js';
import { LOST_META, PURGED_UNSENT_META, RESERVED_META_KEYS, type IngestTally } from './meta-keys.js';
import { openForWriting, type OpenedStore } from './schema.js';
import { Retention } from './writer-retention.js';
import { ingestBatch } from './writer-ingest.js';
import type { IngestResult, WriterFailure } from './writer-protocol.js';

/** The columns a later write of an open TCP session updates. */
type SessionUpdate = Pick<IndexRow, 'duration_ms' | 'size_bytes' | 'downstream' | 'bytes_in' | 'bytes_out' | 'error' | 'state' | 'marks'> & {
  seq: number;
  chunks: number;
};

/** What one record batch came to; `failed` records are lost (`error` says why); `bytes` includes what segments added. */
export interface BatchOutcome {
  stored: number;
  bytes: number;
  failed: number;
  error: WriterFailure | null;
}

/**
 * What a store file that was deleted while open still held, read from the open connection before
 * a fresh file replaces it (see {@link WriterDb.carryOver}).
 */
export interface Carry {
  /** Free meta keys (sync cursors, ledgers, the redaction key): kept in the fresh file. */
  meta: Array<[string, string]>;
  /** Highest seq handed out: the fresh file continues after it, so sync cursors stay valid. */
  lastSeq: number;
  /** Records (and stored bytes) the lost file held. */
  count: number;
  bytes: number;
  /** Of those, records above the sync floor: never sent to the peer. */
  unsent: { count: number; bytes: number };
}

/** The code (SQLite's, when it has one) and message of an error, for the trip to the main thread. */
export function toFailure(err: unknown): WriterFailure {
  const code = (err as { code?: unknown } | null)?.code;
  return { code: typeof code === 'string' ? code : 'QP_ERR_STORE_WRITE', message: errorMessage(err) };
}

/**
 * The single writing connection and its prepared statements. Lives in the writer thread only; every
 * method is one synchronous transaction (better-sqlite3 commits at the first await otherwise).
 */
export class WriterDb {
  private readonly insertRow: Database.Statement<unknown[]>;
  private readonly insertExtent: Database.Statement<[number, number, number, number, number, number | null]>;
  private readonly insertSegment: Database.Statement<[number, number]>;
  private readonly deleteById: Database.Statement<[string]>;
  private readonly upsertMeta: Database.Statement<[string, string]>;
  private readonly addMeta: Database.Statement<[{ key: string; amount: number }]>;
  private readonly deleteMeta: Database.Statement<[string]>;
  private readonly addTotals: Database.Statement<[number, number]>;
  private readonly insertAll: (rows: readonly IndexRow[]) => { stored: number; bytes: number };
  private readonly knownId: Database.Statement<[string], number>;
  private readonly openSession: Database.Statement<[string], { seq: number; nchunks: number | null; exts: number }>;
  private readonly updateSession: Database.Statement<[SessionUpdate]>;
  /** Segments with a `segments` row (their first row's seq is known). */
  private readonly knownSegments = new Set<number>();

  /** Age and size policies (writer-retention.ts). */
  readonly retention: Retention;

  private constructor(
    private readonly db: Database.Database,
    /** What opening found: an upgrade from v1, and how many records stay in the v1 layout. */
    readonly opened: Omit<OpenedStore, 'db'>,
    segmentsDir: string,
  ) {
    // ON CONFLICT(id) DO NOTHING rather than INSERT OR IGNORE: only a duplicate id is skipped (the
    // sync receiver relies on it); any other constraint failure still fails loudly.
    // Positional parameters: binding 21 named ones from an object costs more than the insert itself
    // (measured 6.5 against 3.8 µs per row).
    this.insertRow = db.prepare(
      `INSERT INTO records (id, protocol, node_id, started_at, duration_ms, size_bytes, method, url, status,
         client, downstream, bytes_in, bytes_out, error, state, doc, marks, nchunks, seg, off, len)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, '', ?, ?, ?, ?, ?)
       ON CONFLICT (id) DO NOTHING`,
    );
    this.insertExtent = db.prepare('INSERT INTO extents (record_seq, idx, seg, off, len, first_chunk) VALUES (?, ?, ?, ?, ?, ?)');
    this.insertSegment = db.prepare('INSERT OR IGNORE INTO segments (id, first_seq) VALUES (?, ?)');
    for (const id of db.prepare<[], number>('SELECT id FROM segments').pluck().all()) this.knownSegments.add(id);
    this.knownId = db.prepare<[string], number>('SELECT 1 FROM records WHERE id = ?').pluck();
    this.openSession = db.prepare(`SELECT seq, nchunks, exts FROM records WHERE id = ? AND protocol = 'tcp' AND state = 'open'`);
    this.updateSession = db.prepare(
      `UPDATE records SET duration_ms = @duration_ms, size_bytes = size_bytes + @size_bytes, downstream = @downstream,
         bytes_in = @bytes_in, bytes_out = @bytes_out, error = @error, state = @state, marks = @marks,
         nchunks = nchunks + @chunks, exts = exts + 1
       WHERE seq = @seq`,
    );
    this.deleteById = db.prepare('DELETE FROM records WHERE id = ?');
    this.upsertMeta = db.prepare(
      'INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
    );
    this.addMeta = db.prepare(
      // JS numbers bind as REAL: cast so that counters read "40", not "40.0".
      `INSERT INTO meta (key, value) VALUES (@key, CAST(CAST(@amount AS INTEGER) AS TEXT))
       ON CONFLICT (key) DO UPDATE SET value = CAST(CAST(value AS INTEGER) + CAST(@amount AS INTEGER) AS TEXT)`,
    );
    this.deleteMeta = db.prepare('DELETE FROM meta WHERE key = ?');
    this.addTotals = db.prepare('UPDATE totals SET count = count + ?, bytes = bytes + ? WHERE id = 1');
    this.retention = new Retention(db, segmentsDir, (key, amount) => this.addMeta.run({ key, amount }));
    this.insertAll = db.transaction((rows: readonly IndexRow[]) => this.insertRows(rows));
  }

  /**
   * Inserts index rows inside the caller's transaction; `each` hears, per row, whether it changed
   * the store (a new record or a segment appended to an open TCP session) or was skipped (a known
   * id, a segment of a closed session). Returns the new rows and the bytes they and the appended
   * segments add.
   */
  private insertRows(rows: readonly IndexRow[], each?: (row: IndexRow, changed: boolean) => void): { stored: number; bytes: number } {
    let stored = 0;
    let bytes = 0;
    let insertedBytes = 0;
    for (const row of rows) {
      // A TCP write whose id is known extends its open session (or, once closed, changes
      // nothing). Looking first keeps it from burning an AUTOINCREMENT seq, as a conflicting
      // INSERT would.
      if (row.protocol === 'tcp' && this.knownId.get(row.id) !== undefined) {
        const appended = this.appendExtent(row);
        if (appended !== null) bytes += appended;
        each?.(row, appended !== null);
        continue;
      }
      const res = this.insertRow.run(
        row.id, row.protocol, row.node_id, row.started_at, row.duration_ms, row.size_bytes, row.method, row.url, row.status,
        row.client, row.downstream, row.bytes_in, row.bytes_out, row.error, row.state, row.marks, row.nchunks, row.seg, row.off, row.len,
      );
      each?.(row, res.changes > 0);
      if (res.changes === 0) continue;
      if (!this.knownSegments.has(row.seg)) {
        this.insertSegment.run(row.seg, Number(res.lastInsertRowid));
        this.knownSegments.add(row.seg);
      }
      insertedBytes += row.size_bytes;
      stored++;
      bytes += row.size_bytes;
    }
    // New rows only: a session's size change is counted by the records_totals_update trigger.
    if (stored > 0) this.addTotals.run(stored, insertedBytes);
    return { stored, bytes };
  }

  /**
   * A later write of a TCP session whose row is still 'open': its extent is added after the ones
   * stored and the row takes the write's totals and state. A write for a closed session (a repeat,
   * e.g. from a sync retry) changes nothing. Returns the bytes added, null when nothing changed.
   */
  private appendExtent(row: IndexRow): number | null {
    const open = this.openSession.get(row.id);
    if (!open) return null;
    this.insertExtent.run(open.seq, open.exts + 1, row.seg, row.off, row.len, open.nchunks);
    this.updateSession.run({
      seq: open.seq,
      duration_ms: row.duration_ms,
      size_bytes: row.size_bytes,
      downstream: row.downstream,
      bytes_in: row.bytes_in,
      bytes_out: row.bytes_out,
      error: row.error,
      state: row.state,
      marks: row.marks,
      chunks: row.nchunks ?? 0,
    });
    return row.size_bytes;
  }

  /** Opens the file for writing; throws the StoreError of {@link openForWriting}. */
  static open(path: string, synchronous: 'normal' | 'full', createdBy: string, segmentsDir: string): WriterDb {
    const { db, ...opened } = openForWriting(path, synchronous, createdBy);
    return new WriterDb(db, opened, segmentsDir);
  }

  /**
   * Writes a packed batch in one transaction. Records that could not be encoded were counted as
   * failed when packed; if the transaction fails, the whole batch is (it rolled back).
   */
  insertBatch(batch: PackedBatch): BatchOutcome {
    const total = batch.count + batch.failed;
    try {
      return { ...this.insertAll(unpackBatch(batch)), failed: batch.failed, error: batch.error };
    } catch (err) {
      return { stored: 0, bytes: 0, failed: total, error: toFailure(err) };
    }
  }

  delete(id: string): boolean {
    return this.deleteById.run(id).changes > 0;
  }

  setMeta(key: string, value: string): void {
    this.upsertMeta.run(key, value);
  }

  /** A batch received by sync, all or nothing; see {@link ingestBatch}. */
  ingest(batch: PackedBatch, tally: IngestTally | null, meta: Array<[string, string | null]>): IngestResult {
    return ingestBatch(
      {
        db: this.db,
        insertRows: (rows, each) => this.insertRows(rows, each),
        addMeta: (key, amount) => this.addMeta.run({ key, amount }),
        setMeta: (key, value) => this.upsertMeta.run(key, value),
        deleteMeta: (key) => this.deleteMeta.run(key),
      },
      unpackBatch(batch),
      tally,
      meta,
    );
  }

  /**
   * Reads what a fresh file must keep from this (lost) one: free meta keys, the seq reached, and
   * what is lost with it. `floor` is the sync floor (records above it were never sent).
   */
  carryOver(floor: number): Carry {
    const meta = this.db
      .prepare<[], { key: string; value: string }>('SELECT key, value FROM meta')
      .all()
      .filter((r) => !RESERVED_META_KEYS.has(r.key))
      .map((r): [string, string] => [r.key, r.value]);
    const totals = this.db.prepare<[], { count: number; bytes: number }>('SELECT count, bytes FROM totals WHERE id = 1').get();
    const lastSeq = this.db.prepare<[], number>("SELECT seq FROM sqlite_sequence WHERE name = 'records'").pluck().get() ?? 0;
    const unsent = this.db
      .prepare<[number], { count: number; bytes: number }>(
        'SELECT count(*) AS count, coalesce(sum(size_bytes), 0) AS bytes FROM records WHERE coalesce(feed_seq, seq) > ?',
      )
      .get(Number.isFinite(floor) ? floor : Number.MAX_SAFE_INTEGER) ?? { count: 0, bytes: 0 };
    return { meta, lastSeq, count: totals?.count ?? 0, bytes: totals?.bytes ?? 0, unsent };
  }

  /**
   * Makes this fresh file the continuation of a lost one: its meta, seqs after the lost file's,
   * and the loss in meta ({@link LOST_META}; unsent records also in {@link PURGED_UNSENT_META},
   * where the sync sender reports losses). One transaction.
   */
  adopt(carry: Carry): void {
    this.db.transaction(() => {
      for (const [key, value] of carry.meta) this.upsertMeta.run(key, value);
      this.db.prepare("DELETE FROM sqlite_sequence WHERE name = 'records'").run();
      this.db.prepare("INSERT INTO sqlite_sequence (name, seq) VALUES ('records', ?)").run(carry.lastSeq);
      const add = (key: string, amount: number): void => {
        if (amount > 0) this.addMeta.run({ key, amount });
      };
      add(LOST_META.records, carry.count);
      add(LOST_META.bytes, carry.bytes);
      add(PURGED_UNSENT_META.records, carry.unsent.count);
      add(PURGED_UNSENT_META.bytes, carry.unsent.bytes);
    })();
  }

  close(): void {
    this.db.close();
  }
}
