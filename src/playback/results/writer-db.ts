import type Database from 'better-sqlite3';
import { openResultsForWriting } from './schema.js';
import type { ReplayResult } from './result.js';

/** A replay as the results file keeps it: the API document plus the columns it is found by. */
export interface ReplayRow {
  id: string;
  kind: 'live' | 'on_demand';
  state: string;
  created_at: number;
  finished_at: number | null;
  /** The replay's JSON document as `GET /api/replays/{id}` shows it. */
  doc: string;
}

/** The replayed answer kept for a mismatch, so that people can see it beside the recorded one. */
export interface AnswerRow {
  replay_id: string;
  record_id: string;
  status: number;
  /** JSON of the header lines. */
  headers: string;
  body: Uint8Array;
  /** Bytes the replayed body had, also those not kept. */
  size: number;
  truncated: boolean;
  at: number;
}

/** Rows deleted per purge statement, so one purge never holds the write lock for long. */
const PURGE_BATCH = 5_000;

/** The writing side of the results file; lives in the results thread. Every method is synchronous. */
export class ResultsWriterDb {
  private readonly db: Database.Database;
  private readonly insert: Database.Statement;
  private readonly insertAnswer: Database.Statement;
  private readonly delAnswers: Database.Statement<[string]>;
  private readonly purgeAnswers: Database.Statement<[number, number]>;
  private readonly upsert: Database.Statement;
  private readonly delResults: Database.Statement<[string]>;
  private readonly delReplay: Database.Statement<[string]>;
  private readonly meta: Database.Statement<[string, string]>;
  private readonly purgeResults: Database.Statement<[number, number]>;
  private readonly expired: Database.Statement<[number], string>;
  private readonly surplus: Database.Statement<[number], string>;

  constructor(path: string) {
    this.db = openResultsForWriting(path);
    this.insert = this.db.prepare(`INSERT INTO results
      (replay_id, record_id, protocol, status, method, target, recorded_status, replayed_status, recorded_ms, replayed_ms, lateness_ms, truncated, kinds, diff, error, at)
      VALUES (@replay_id, @record_id, @protocol, @status, @method, @target, @recorded_status, @replayed_status, @recorded_ms, @replayed_ms, @lateness_ms, @truncated, @kinds, @diff, @error, @at)`);
    this.insertAnswer = this.db.prepare(`INSERT OR REPLACE INTO answers (replay_id, record_id, status, headers, body, size, truncated, at)
      VALUES (@replay_id, @record_id, @status, @headers, @body, @size, @truncated, @at)`);
    this.delAnswers = this.db.prepare('DELETE FROM answers WHERE replay_id = ?');
    this.purgeAnswers = this.db.prepare('DELETE FROM answers WHERE rowid IN (SELECT rowid FROM answers WHERE at < ? LIMIT ?)');
    this.upsert = this.db.prepare(`INSERT INTO replays (id, kind, state, created_at, finished_at, doc)
      VALUES (@id, @kind, @state, @created_at, @finished_at, @doc)
      ON CONFLICT (id) DO UPDATE SET state = excluded.state, finished_at = excluded.finished_at, doc = excluded.doc`);
    this.delResults = this.db.prepare('DELETE FROM results WHERE replay_id = ?');
    this.delReplay = this.db.prepare('DELETE FROM replays WHERE id = ?');
    this.meta = this.db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value');
    this.purgeResults = this.db.prepare('DELETE FROM results WHERE seq IN (SELECT seq FROM results WHERE at < ? LIMIT ?)');
    this.expired = this.db
      .prepare<[number], string>("SELECT id FROM replays WHERE kind = 'on_demand' AND finished_at IS NOT NULL AND finished_at < ?")
      .pluck();
    this.surplus = this.db
      .prepare<[number], string>("SELECT id FROM replays WHERE kind = 'on_demand' AND finished_at IS NOT NULL ORDER BY created_at DESC LIMIT -1 OFFSET ?")
      .pluck();
  }

  /** Writes results, kept answers, replay documents and meta values in one transaction. */
  write(results: readonly ReplayResult[], replays: readonly ReplayRow[], meta: ReadonlyArray<[string, string]>, answers: readonly AnswerRow[] = []): void {
    this.db.transaction(() => {
      for (const r of results) this.insert.run({ ...r, truncated: r.truncated ? 1 : 0, kinds: JSON.stringify(r.kinds) });
      for (const a of answers) this.insertAnswer.run({ ...a, truncated: a.truncated ? 1 : 0 });
      for (const row of replays) this.upsert.run(row);
      for (const [k, v] of meta) this.meta.run(k, v);
    })();
  }

  deleteReplay(id: string): void {
    this.db.transaction(() => {
      this.delResults.run(id);
      this.delAnswers.run(id);
      this.delReplay.run(id);
    })();
  }

  /**
   * Deletes results older than `before` (epoch ms; 0 = none) and finished on-demand replays that
   * are older or beyond the newest `keepReplays`. Returns true when more old results remain.
   */
  purge(before: number, keepReplays: number): boolean {
    const ids = new Set([...(before > 0 ? this.expired.all(before) : []), ...this.surplus.all(keepReplays)]);
    for (const id of ids) this.deleteReplay(id);
    if (before <= 0) return false;
    const answersLeft = this.purgeAnswers.run(before, PURGE_BATCH).changes === PURGE_BATCH;
    return this.purgeResults.run(before, PURGE_BATCH).changes === PURGE_BATCH || answersLeft;
  }

  close(): void {
    this.db.close();
  }
}
