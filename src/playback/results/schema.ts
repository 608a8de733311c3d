/**
 * The replay results file: an SQLite database of its own next to the record store
 * (`<storage.path without .db>.playback.db`), so that writing results never contends with the
 * store's writer for its lock, and dropping it never touches recordings.
 */
import Database from 'better-sqlite3';
import { QProxyError, errorMessage } from '../../core/errors.js';

export const RESULTS_SCHEMA_VERSION = 2;

const SCHEMA_V1 = `
CREATE TABLE replays (
  id TEXT PRIMARY KEY,
  kind TEXT NOT NULL,
  state TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  finished_at INTEGER,
  doc TEXT NOT NULL
);
CREATE INDEX replays_created ON replays (created_at);
CREATE TABLE results (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  replay_id TEXT NOT NULL,
  record_id TEXT NOT NULL,
  protocol TEXT NOT NULL,
  status TEXT NOT NULL,
  method TEXT,
  target TEXT,
  recorded_status INTEGER,
  replayed_status INTEGER,
  recorded_ms REAL,
  replayed_ms REAL,
  lateness_ms REAL,
  truncated INTEGER NOT NULL,
  kinds TEXT NOT NULL,
  diff TEXT,
  error TEXT,
  at INTEGER NOT NULL
);
CREATE INDEX results_replay ON results (replay_id, seq);
CREATE INDEX results_replay_status ON results (replay_id, status, seq);
CREATE INDEX results_at ON results (at);
`;

/**
 * Version 2 keeps the replayed answer of each mismatch (the web UI's side-by-side diff) and finds a
 * record's result directly. Applied on top of version 1, also to existing files.
 */
const MIGRATE_V2 = `
CREATE TABLE answers (
  replay_id TEXT NOT NULL,
  record_id TEXT NOT NULL,
  status INTEGER NOT NULL,
  headers TEXT NOT NULL,
  body BLOB NOT NULL,
  size INTEGER NOT NULL,
  truncated INTEGER NOT NULL,
  at INTEGER NOT NULL,
  PRIMARY KEY (replay_id, record_id)
);
CREATE INDEX answers_at ON answers (at);
CREATE INDEX results_record ON results (replay_id, record_id);
`;

/** The results file that belongs to a store file: "data/qproxy.db" → "data/qproxy.playback.db". */
export function resultsPathFor(storePath: string): string {
  return storePath.endsWith('.db') ? `${storePath.slice(0, -3)}.playback.db` : `${storePath}.playback.db`;
}

function openError(path: string, err: unknown): QProxyError {
  return new QProxyError(
    'QP_ERR_PLAYBACK_RESULTS',
    `cannot open the replay results file ${path}: ${errorMessage(err)}; check that the folder of storage.path is writable, or move the file away if it is damaged`,
    { cause: err },
  );
}

/** Opens (creating if needed) the results file for writing; WAL so the API can read meanwhile. */
export function openResultsForWriting(path: string): Database.Database {
  let db: Database.Database | undefined;
  try {
    db = new Database(path);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.transaction(() => {
      db!.exec('CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)');
      const version = db!.prepare<[], string>("SELECT value FROM meta WHERE key = 'schema_version'").pluck().get();
      if (version === undefined) {
        db!.exec(SCHEMA_V1);
        db!.exec(MIGRATE_V2);
        db!.prepare("INSERT INTO meta (key, value) VALUES ('schema_version', ?)").run(String(RESULTS_SCHEMA_VERSION));
      } else if (Number(version) === 1) {
        db!.exec(MIGRATE_V2);
        db!.prepare("UPDATE meta SET value = ? WHERE key = 'schema_version'").run(String(RESULTS_SCHEMA_VERSION));
      } else if (Number(version) !== RESULTS_SCHEMA_VERSION) {
        throw new Error(`its schema version is ${version}, this QProxy reads version ${RESULTS_SCHEMA_VERSION}`);
      }
    }).immediate();
    return db;
  } catch (err) {
    db?.close();
    throw openError(path, err);
  }
}

/** A read-only connection for the API (opened after the writer created the file). */
export function openResultsForReading(path: string): Database.Database {
  try {
    return new Database(path, { readonly: true, fileMustExist: true });
  } catch (err) {
    throw openError(path, err);
  }
}
