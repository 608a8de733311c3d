import type Database from 'better-sqlite3';
import { errorMessage } from '../errors.js';
import { unpackBatch, type PackedBatch } from './batch-pack.js';
import type { Chunk, RecordRow } from './record-codec.js';
import { RESERVED_META_KEYS, openForWriting } from './schema.js';
import { ingestBatch } from './writer-ingest.js';
import type { IngestResult, WriterFailure } from './writer-protocol.js';

/** Records deleted per purge transaction: small enough that a purge never holds the writer long. */
export const PURGE_BATCH = 500;
/** ... and stored bytes: deleting a few huge records also means freeing many chunk pages. */
export const PURGE_BYTES = 64 * 1024 * 1024;

/** The columns a later segment of an open TCP session updates. */
type SessionUpdate = Pick<RecordRow, 'duration_ms' | 'size_bytes' | 'downstream' | 'bytes_in' | 'bytes_out' | 'error' | 'state' | 'doc'> & {
  seq: number;
};

/** What one record batch came to; `failed` records are lost (`error` says why); `bytes` includes what segments added. */
export interface BatchOutcome {
  stored: number;
  bytes: number;
  failed: number;
  error: WriterFailure | null;
}

/** What one purge transaction deleted. */
export interface PurgeRound {
  count: number;
  bytes: number;
  /** True when this round hit its batch bound and more may be left. */
  more: boolean;
  /** Of those, records above the sync floor: never sent to the peer (size purges only). */
  unsent?: { count: number; bytes: number };
}

/** Meta key prefix under which size purges count records lost before sync sent them (`…records`, `…bytes`). */
export const PURGED_UNSENT_META = 'sync.purged_unsent.';

/** Meta key prefix under which a store replaced while running counts what the lost file held (`…records`, `…bytes`). */
export const LOST_META = 'store.lost.';

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
  private readonly insertRow: Database.Statement<[RecordRow]>;
  private readonly insertChunk: Database.Statement<[number, string, number, Uint8Array]>;
  private readonly deleteById: Database.Statement<[string]>;
  private readonly deleteBySeq: Database.Statement<[number]>;
  private readonly upsertMeta: Database.Statement<[string, string]>;
  private readonly expired: Database.Statement<[number, number, number], { seq: number; size_bytes: number }>;
  private readonly oldest: Database.Statement<[number], { seq: number; size_bytes: number; feed: number }>;
  private readonly addMeta: Database.Statement<[{ key: string; amount: number }]>;
  private readonly deleteMeta: Database.Statement<[string]>;
  private readonly totalChanges: Database.Statement<[], number>;
  private readonly totalBytes: Database.Statement<[], number>;
  private readonly addTotals: Database.Statement<[number, number]>;
  private readonly insertAll: (rows: Array<{ row: RecordRow; chunks: Chunk[] }>) => { stored: number; bytes: number };
  private readonly knownId: Database.Statement<[string], number>;
  private readonly openSession: Database.Statement<[string], { seq: number; size_bytes: number; doc_bytes: number }>;
  private readonly nextChunkIdx: Database.Statement<[number, string], number>;
  private readonly updateSession: Database.Statement<[SessionUpdate]>;

  private constructor(private readonly db: Database.Database) {
    // ON CONFLICT(id) DO NOTHING rather than INSERT OR IGNORE: only a duplicate id is skipped (the
    // sync receiver relies on it); any other constraint failure still fails loudly.
    this.insertRow = db.prepare(
      `INSERT INTO records (id, protocol, node_id, started_at, duration_ms, size_bytes, method, url, status,
         client, downstream, bytes_in, bytes_out, error, state, doc, req_body, res_body)
       VALUES (@id, @protocol, @node_id, @started_at, @duration_ms, @size_bytes, @method, @url, @status,
         @client, @downstream, @bytes_in, @bytes_out, @error, @state, @doc, @req_body, @res_body)
       ON CONFLICT (id) DO NOTHING`,
    );
    this.knownId = db.prepare<[string], number>('SELECT 1 FROM records WHERE id = ?').pluck();
    this.openSession = db.prepare(
      `SELECT seq, size_bytes, octet_length(doc) AS doc_bytes FROM records WHERE id = ? AND protocol = 'tcp' AND state = 'open'`,
    );
    this.nextChunkIdx = db
      .prepare<[number, string], number>('SELECT COALESCE(MAX(idx) + 1, 0) FROM chunks WHERE record_seq = ? AND part = ?')
      .pluck();
    this.updateSession = db.prepare(
      `UPDATE records SET duration_ms = @duration_ms, size_bytes = @size_bytes, downstream = @downstream,
         bytes_in = @bytes_in, bytes_out = @bytes_out, error = @error, state = @state, doc = @doc
       WHERE seq = @seq`,
    );
    this.insertChunk = db.prepare('INSERT INTO chunks (record_seq, part, idx, data) VALUES (?, ?, ?, ?)');
    this.deleteById = db.prepare('DELETE FROM records WHERE id = ?');
    this.deleteBySeq = db.prepare('DELETE FROM records WHERE seq = ?');
    this.upsertMeta = db.prepare(
      'INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
    );
    // The sync floor compares feed positions (see schema.ts): a TCP session that grew after it was
    // sent has moved past the floor again and is protected until its new part is sent too.
    this.expired = db.prepare('SELECT seq, size_bytes FROM records WHERE started_at < ? AND coalesce(feed_seq, seq) <= ? LIMIT ?');
    this.oldest = db.prepare('SELECT seq, size_bytes, coalesce(feed_seq, seq) AS feed FROM records ORDER BY started_at, seq LIMIT ?');
    this.addMeta = db.prepare(
      // JS numbers bind as REAL: cast so that counters read "40", not "40.0".
      `INSERT INTO meta (key, value) VALUES (@key, CAST(CAST(@amount AS INTEGER) AS TEXT))
       ON CONFLICT (key) DO UPDATE SET value = CAST(CAST(value AS INTEGER) + CAST(@amount AS INTEGER) AS TEXT)`,
    );
    this.deleteMeta = db.prepare('DELETE FROM meta WHERE key = ?');
    this.totalChanges = db.prepare<[], number>('SELECT total_changes()').pluck();
    this.totalBytes = db.prepare<[], number>('SELECT bytes FROM totals WHERE id = 1').pluck();
    this.addTotals = db.prepare('UPDATE totals SET count = count + ?, bytes = bytes + ? WHERE id = 1');
    this.insertAll = db.transaction((rows: Array<{ row: RecordRow; chunks: Chunk[] }>) => {
      let stored = 0;
      let bytes = 0;
      let insertedBytes = 0;
      for (const { row, chunks } of rows) {
        // A TCP segment whose id is known extends its open session (or, once closed, changes
        // nothing). Looking first keeps it from burning an AUTOINCREMENT seq, as a conflicting
        // INSERT would.
        if (row.protocol === 'tcp' && this.knownId.get(row.id) !== undefined) {
          bytes += this.appendSegment(row, chunks);
          continue;
        }
        const res = this.insertRow.run(row);
        if (res.changes === 0) continue;
        insertedBytes += row.size_bytes;
        const seq = Number(res.lastInsertRowid);
        for (const c of chunks) this.insertChunk.run(seq, c.part, c.idx, c.data);
        stored++;
        bytes += row.size_bytes;
      }
      // New rows only: a segment's size change is counted by the records_totals_update trigger.
      if (stored > 0) this.addTotals.run(stored, insertedBytes);
      return { stored, bytes };
    });
  }

  /**
   * A later segment of a TCP session whose row is still 'open': its chunk rows go after the stored
   * ones and the row takes the segment's totals, state and document. A segment for a closed
   * session (a repeat, e.g. from a sync retry) changes nothing. Returns the bytes added.
   */
  private appendSegment(row: RecordRow, chunks: Chunk[]): number {
    const open = this.openSession.get(row.id);
    if (!open) return 0;
    let base: number | null = null;
    let added = 0;
    for (const c of chunks) {
      base ??= this.nextChunkIdx.get(open.seq, c.part) ?? 0;
      this.insertChunk.run(open.seq, c.part, base + c.idx, c.data);
      added += c.data.byteLength;
    }
    const sizeBytes = open.size_bytes - open.doc_bytes + Buffer.byteLength(row.doc) + added;
    this.updateSession.run({
      seq: open.seq,
      duration_ms: row.duration_ms,
      size_bytes: sizeBytes,
      downstream: row.downstream,
      bytes_in: row.bytes_in,
      bytes_out: row.bytes_out,
      error: row.error,
      state: row.state,
      doc: row.doc,
    });
    return sizeBytes - open.size_bytes;
  }

  /** Opens the file for writing; throws the StoreError of {@link openForWriting}. */
  static open(path: string, synchronous: 'normal' | 'full', createdBy: string): WriterDb {
    return new WriterDb(openForWriting(path, synchronous, createdBy));
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
  ingest(batch: PackedBatch, tally: string | null, meta: Array<[string, string | null]>): IngestResult {
    return ingestBatch(
      {
        db: this.db,
        totalChanges: () => this.totalChanges.get()!,
        insertAll: (rows) => this.insertAll(rows),
        addMeta: (key, amount) => this.addMeta.run({ key, amount }),
        setMeta: (key, value) => this.upsertMeta.run(key, value),
        deleteMeta: (key) => this.deleteMeta.run(key),
      },
      unpackBatch(batch),
      tally,
      meta,
    );
  }

  /** Deletes records started before `cutoff` whose seq is at most `floor`, one bounded round. */
  purgeRetention(cutoff: number, floor: number): PurgeRound {
    return this.db.transaction(() => {
      const rows = this.expired.all(cutoff, floor, PURGE_BATCH);
      const done = this.deleteRows(rows, Number.POSITIVE_INFINITY);
      return { ...done, more: rows.length === PURGE_BATCH || done.count < rows.length };
    })();
  }

  /**
   * Deletes the oldest records (by started_at) until stored bytes are at most `maxBytes`, one bounded
   * round. Records above `floor` had not been sent by sync: they are counted in meta
   * ({@link PURGED_UNSENT_META}) in the same transaction, so the loss ledger survives restarts.
   */
  purgeSize(maxBytes: number, floor = Number.MAX_SAFE_INTEGER): PurgeRound {
    return this.db.transaction(() => {
      const excess = this.totalBytes.get()! - maxBytes;
      if (excess <= 0) return { count: 0, bytes: 0, more: false };
      const rows = this.oldest.all(PURGE_BATCH);
      const done = this.deleteRows(rows, excess);
      const unsent = { count: 0, bytes: 0 };
      for (const row of rows.slice(0, done.count)) {
        if (row.feed > floor) {
          unsent.count++;
          unsent.bytes += row.size_bytes;
        }
      }
      if (unsent.count > 0) {
        this.addMeta.run({ key: `${PURGED_UNSENT_META}records`, amount: unsent.count });
        this.addMeta.run({ key: `${PURGED_UNSENT_META}bytes`, amount: unsent.bytes });
      }
      return { ...done, more: done.bytes < excess && done.count > 0, unsent };
    })();
  }

  /** Deletes rows in order until `wanted` bytes are freed or the round's byte budget is spent (at least one row). */
  private deleteRows(rows: Array<{ seq: number; size_bytes: number }>, wanted: number): { count: number; bytes: number } {
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
      add(`${LOST_META}records`, carry.count);
      add(`${LOST_META}bytes`, carry.bytes);
      add(`${PURGED_UNSENT_META}records`, carry.unsent.count);
      add(`${PURGED_UNSENT_META}bytes`, carry.unsent.bytes);
    })();
  }

  /** Test hook: makes every later write fail with SQLITE_READONLY, like a read-only file would. */
  setQueryOnly(on: boolean): void {
    this.db.pragma(`query_only = ${on ? 'ON' : 'OFF'}`);
  }

  close(): void {
    this.db.close();
  }
}
