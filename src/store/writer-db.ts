import type Database from 'better-sqlite3';
import { errorMessage } from '../errors.js';
import type { QRecord } from '../recording/model.js';
import { encodeRecord, type Chunk, type RecordRow } from './record-codec.js';
import { openForWriting } from './schema.js';
import type { WriterFailure } from './writer-protocol.js';

/** Records deleted per purge transaction: small enough that a purge never holds the writer long. */
export const PURGE_BATCH = 500;
/** ... and stored bytes: deleting a few huge records also means freeing many chunk pages. */
export const PURGE_BYTES = 64 * 1024 * 1024;

/** What one record batch came to; `failed` records are lost (`error` says why). */
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
  private readonly oldest: Database.Statement<[number], { seq: number; size_bytes: number }>;
  private readonly totalBytes: Database.Statement<[], number>;
  private readonly insertAll: (rows: Array<{ row: RecordRow; chunks: Chunk[] }>) => { stored: number; bytes: number };

  private constructor(private readonly db: Database.Database) {
    // ON CONFLICT(id) DO NOTHING rather than INSERT OR IGNORE: only a duplicate id is skipped (the
    // sync receiver relies on it); any other constraint failure still fails loudly.
    this.insertRow = db.prepare(
      `INSERT INTO records (id, protocol, node_id, started_at, duration_ms, size_bytes, method, url, status,
         client, downstream, bytes_in, bytes_out, error, doc)
       VALUES (@id, @protocol, @node_id, @started_at, @duration_ms, @size_bytes, @method, @url, @status,
         @client, @downstream, @bytes_in, @bytes_out, @error, @doc)
       ON CONFLICT (id) DO NOTHING`,
    );
    this.insertChunk = db.prepare('INSERT INTO chunks (record_seq, part, idx, data) VALUES (?, ?, ?, ?)');
    this.deleteById = db.prepare('DELETE FROM records WHERE id = ?');
    this.deleteBySeq = db.prepare('DELETE FROM records WHERE seq = ?');
    this.upsertMeta = db.prepare(
      'INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
    );
    this.expired = db.prepare('SELECT seq, size_bytes FROM records WHERE started_at < ? AND seq <= ? LIMIT ?');
    this.oldest = db.prepare('SELECT seq, size_bytes FROM records ORDER BY started_at, seq LIMIT ?');
    this.totalBytes = db.prepare<[], number>('SELECT bytes FROM totals WHERE id = 1').pluck();
    this.insertAll = db.transaction((rows: Array<{ row: RecordRow; chunks: Chunk[] }>) => {
      let stored = 0;
      let bytes = 0;
      for (const { row, chunks } of rows) {
        const res = this.insertRow.run(row);
        if (res.changes === 0) continue;
        const seq = Number(res.lastInsertRowid);
        for (const c of chunks) this.insertChunk.run(seq, c.part, c.idx, c.data);
        stored++;
        bytes += row.size_bytes;
      }
      return { stored, bytes };
    });
  }

  /** Opens the file for writing; throws the StoreError of {@link openForWriting}. */
  static open(path: string, synchronous: 'normal' | 'full', createdBy: string): WriterDb {
    return new WriterDb(openForWriting(path, synchronous, createdBy));
  }

  /**
   * Writes a batch in one transaction. Records that cannot be encoded are counted as failed on
   * their own; if the transaction fails, the whole batch is (it rolled back).
   */
  insertBatch(records: QRecord[]): BatchOutcome {
    const rows: Array<{ row: RecordRow; chunks: Chunk[] }> = [];
    let failed = 0;
    let error: WriterFailure | null = null;
    for (const record of records) {
      try {
        rows.push(encodeRecord(record));
      } catch (err) {
        failed++;
        error = { code: 'QP_ERR_STORE_RECORD', message: `record could not be encoded: ${errorMessage(err)}` };
      }
    }
    try {
      return { ...this.insertAll(rows), failed, error };
    } catch (err) {
      return { stored: 0, bytes: 0, failed: records.length, error: toFailure(err) };
    }
  }

  delete(id: string): boolean {
    return this.deleteById.run(id).changes > 0;
  }

  setMeta(key: string, value: string): void {
    this.upsertMeta.run(key, value);
  }

  /** Deletes records started before `cutoff` whose seq is at most `floor`, one bounded round. */
  purgeRetention(cutoff: number, floor: number): PurgeRound {
    return this.db.transaction(() => {
      const rows = this.expired.all(cutoff, floor, PURGE_BATCH);
      const done = this.deleteRows(rows, Number.POSITIVE_INFINITY);
      return { ...done, more: rows.length === PURGE_BATCH || done.count < rows.length };
    })();
  }

  /** Deletes the oldest records (by started_at) until stored bytes are at most `maxBytes`, one bounded round. */
  purgeSize(maxBytes: number): PurgeRound {
    return this.db.transaction(() => {
      const excess = this.totalBytes.get()! - maxBytes;
      if (excess <= 0) return { count: 0, bytes: 0, more: false };
      const done = this.deleteRows(this.oldest.all(PURGE_BATCH), excess);
      return { ...done, more: done.bytes < excess && done.count > 0 };
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

  /** Test hook: makes every later write fail with SQLITE_READONLY, like a read-only file would. */
  setQueryOnly(on: boolean): void {
    this.db.pragma(`query_only = ${on ? 'ON' : 'OFF'}`);
  }

  close(): void {
    this.db.close();
  }
}
