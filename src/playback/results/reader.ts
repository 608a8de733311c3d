import type Database from 'better-sqlite3';
import { QProxyError } from '../../errors.js';
import { openResultsForReading } from './schema.js';
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

  constructor(path: string) {
    this.db = openResultsForReading(path);
    const cols = 'seq, replay_id, record_id, protocol, status, method, target, recorded_status, replayed_status, recorded_ms, replayed_ms, lateness_ms, truncated, kinds, diff, error, at';
    this.page = this.db.prepare(`SELECT ${cols} FROM results WHERE replay_id = ? AND seq > ? ORDER BY seq LIMIT ?`);
    this.pageByStatus = this.db.prepare(`SELECT ${cols} FROM results WHERE replay_id = ? AND status = ? AND seq > ? ORDER BY seq LIMIT ?`);
    this.replayDoc = this.db.prepare<[string], string>('SELECT doc FROM replays WHERE id = ?').pluck();
    this.replayDocs = this.db.prepare<[number], string>('SELECT doc FROM replays ORDER BY created_at DESC LIMIT ?').pluck();
    this.meta = this.db.prepare<[string], string>('SELECT value FROM meta WHERE key = ?').pluck();
  }

  /** Results of a replay in the order they were decided. Throws QP_ERR_BAD_CURSOR for a foreign cursor. */
  results(replayId: string, q: ResultQuery): ResultPage {
    const after = q.cursor === undefined ? 0 : decodeCursor(q.cursor);
    const rows =
      q.status === undefined ? this.page.all(replayId, after, q.limit + 1) : this.pageByStatus.all(replayId, q.status, after, q.limit + 1);
    const page = rows.slice(0, q.limit);
    const last = page[page.length - 1];
    return {
      results: page.map(({ seq: _seq, ...r }) => ({ ...r, truncated: r.truncated === 1, kinds: JSON.parse(r.kinds) as string[] })),
      next: rows.length > q.limit && last ? encodeCursor(last.seq) : null,
    };
  }

  /** A stored replay document (parsed), or null. */
  replay(id: string): object | null {
    const doc = this.replayDoc.get(id);
    return doc === undefined ? null : (JSON.parse(doc) as object);
  }

  /** The newest stored replay documents. */
  replays(limit: number): object[] {
    return this.replayDocs.all(limit).map((d) => JSON.parse(d) as object);
  }

  getMeta(key: string): string | null {
    return this.meta.get(key) ?? null;
  }

  close(): void {
    this.db.close();
  }
}
