import type Database from 'better-sqlite3';
import type { ReplayDoc } from '../../core/documents.js';
import { QProxyError } from '../../core/errors.js';
import { openResultsForReading } from './schema.js';
import type { HeaderLine } from '../../recording/model.js';
import type { ReplayResult, ResultStatus } from './result.js';

interface ResultRow extends Omit<ReplayResult, 'truncated' | 'kinds'> {
  seq: number;
  truncated: number;
  kinds: string;
}

/** One page of results, oldest first. */
export interface ResultPage {
  results: ReplayResult[];
  /** Pass back as `cursor` for the next page; null on the last page. */
  next: string | null;
}

export interface ResultQuery {
  status?: ResultStatus;
  limit: number;
  cursor?: string;
}

/** A mismatch's replayed answer as the results file keeps it. */
export interface KeptAnswer {
  status: number;
  headers: HeaderLine[];
  body: Buffer;
  /** Bytes the replayed body had, also those not kept. */
  size: number;
  truncated: boolean;
}

interface AnswerDbRow {
  status: number;
  headers: string;
  body: Buffer;
  size: number;
  truncated: number;
}

const CURSOR = /^r(\d{1,16})$/;

function encodeCursor(seq: number): string {
  return `r${seq}`;
}

function decodeCursor(cursor: string): number {
  const m = CURSOR.exec(cursor);
  if (!m) {
    throw new QProxyError(
      'QP_ERR_BAD_CURSOR',
      `cursor ${JSON.stringify(cursor.slice(0, 80))} was not issued for replay results; pass the "next" value of the previous page unchanged`,
    );
  }
  return Number(m[1]);
}

/** The API's read-only view of the results file. */
export class ResultsReader {
  private readonly db: Database.Database;
  private readonly page: Database.Statement<[string, number, number], ResultRow>;
  private readonly pageByStatus: Database.Statement<[string, string, number, number], ResultRow>;
  private readonly replayDoc: Database.Statement<[string], string>;
  private readonly replayDocs: Database.Statement<[number], string>;
  private readonly meta: Database.Statement<[string], string>;
  private readonly byRecord: Database.Statement<[string, string], ResultRow>;
  private readonly answerOf: Database.Statement<[string, string], AnswerDbRow>;

  constructor(path: string) {
    this.db = openResultsForReading(path);
    const cols = 'seq, replay_id, record_id, protocol, status, method, target, recorded_status, replayed_status, recorded_ms, replayed_ms, lateness_ms, truncated, kinds, diff, error, at';
    this.page = this.db.prepare(`SELECT ${cols} FROM results WHERE replay_id = ? AND seq > ? ORDER BY seq LIMIT ?`);
    this.pageByStatus = this.db.prepare(`SELECT ${cols} FROM results WHERE replay_id = ? AND status = ? AND seq > ? ORDER BY seq LIMIT ?`);
    this.replayDoc = this.db.prepare<[string], string>('SELECT doc FROM replays WHERE id = ?').pluck();
    this.replayDocs = this.db.prepare<[number], string>('SELECT doc FROM replays ORDER BY created_at DESC LIMIT ?').pluck();
    this.meta = this.db.prepare<[string], string>('SELECT value FROM meta WHERE key = ?').pluck();
    // A live replay restarted after a crash may decide a record twice: the latest verdict counts.
    this.byRecord = this.db.prepare(`SELECT ${cols} FROM results WHERE replay_id = ? AND record_id = ? ORDER BY seq DESC LIMIT 1`);
    this.answerOf = this.db.prepare('SELECT status, headers, body, size, truncated FROM answers WHERE replay_id = ? AND record_id = ?');
  }

  /** The result of one record in a replay, or null. */
  result(replayId: string, recordId: string): ReplayResult | null {
    const row = this.byRecord.get(replayId, recordId);
    return row === undefined ? null : toResult(row);
  }

  /** The replayed answer kept for a mismatch, or null (matches and failures keep none). */
  answer(replayId: string, recordId: string): KeptAnswer | null {
    const row = this.answerOf.get(replayId, recordId);
    if (row === undefined) return null;
    return { status: row.status, headers: JSON.parse(row.headers) as HeaderLine[], body: row.body, size: row.size, truncated: row.truncated === 1 };
  }

  /** Results of a replay in the order they were decided. Throws QP_ERR_BAD_CURSOR for a foreign cursor. */
  results(replayId: string, q: ResultQuery): ResultPage {
    const after = q.cursor === undefined ? 0 : decodeCursor(q.cursor);
    const rows =
      q.status === undefined ? this.page.all(replayId, after, q.limit + 1) : this.pageByStatus.all(replayId, q.status, after, q.limit + 1);
    const page = rows.slice(0, q.limit);
    const last = page[page.length - 1];
    return {
      results: page.map(toResult),
      next: rows.length > q.limit && last ? encodeCursor(last.seq) : null,
    };
  }

  /** A stored replay document (parsed), or null. */
  replay(id: string): ReplayDoc | null {
    const doc = this.replayDoc.get(id);
    return doc === undefined ? null : (JSON.parse(doc) as ReplayDoc);
  }

  /** The newest stored replay documents. */
  replays(limit: number): ReplayDoc[] {
    return this.replayDocs.all(limit).map((d) => JSON.parse(d) as ReplayDoc);
  }

  getMeta(key: string): string | null {
    return this.meta.get(key) ?? null;
  }

  close(): void {
    this.db.close();
  }
}

function toResult({ seq: _seq, ...r }: ResultRow): ReplayResult {
  return { ...r, truncated: r.truncated === 1, kinds: JSON.parse(r.kinds) as string[] };
}
