import { statSync } from 'node:fs';
import Database from 'better-sqlite3';
import { StoreError, errorMessage } from '../core/errors.js';

/** Version of the table layout below; a file with a higher one was written by a newer QProxy. */
export const SCHEMA_VERSION = 2;

// seq is AUTOINCREMENT so a deleted record's seq is never handed out again: sync cursors rely on it.
// Rowid tables with the implicit rowid at the end of every index, so (started_at) also orders by seq.
// totals is kept exact inside the writing transaction, so stats() stays O(1): the writer adds its
// inserts with one UPDATE per batch (rather than a trigger firing per row), deletes and size changes
// go through the triggers below (rarer, and they may come from any statement).
// An HTTP body that fits in one chunk is stored inline in req_body/res_body (NULL when it is in
// chunk rows instead): one row per record instead of one plus two, for the common small exchange.
// They are the last columns, so reading the summary columns stops before them.
// A TCP session is written in segments: its row is updated (size_bytes, state, doc) and chunk rows
// appended while state is 'open', hence the update trigger.
// The sync feed (readAfter) is ordered by coalesce(feed_seq, seq): a record's feed position is its
// seq until its document changes (a TCP segment appended), when records_feed_bump gives it the next
// value of the seq sequence, so the sync sender sees the session again after its cursor. Bumping
// sqlite_sequence keeps feed positions and later seqs from ever colliding.
const SCHEMA_V1 = `
CREATE TABLE records (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  protocol TEXT NOT NULL,
  node_id TEXT NOT NULL,
  started_at INTEGER NOT NULL,
  duration_ms REAL NOT NULL,
  size_bytes INTEGER NOT NULL,
  method TEXT,
  url TEXT,
  status INTEGER,
  client TEXT,
  downstream TEXT,
  bytes_in INTEGER,
  bytes_out INTEGER,
  error TEXT,
  state TEXT,
  doc TEXT NOT NULL,
  feed_seq INTEGER,
  req_body BLOB,
  res_body BLOB
);
CREATE INDEX records_started_at ON records (started_at);
CREATE INDEX records_feed ON records (coalesce(feed_seq, seq));
CREATE INDEX records_protocol_started_at ON records (protocol, started_at);
CREATE TABLE chunks (
  record_seq INTEGER NOT NULL REFERENCES records (seq) ON DELETE CASCADE,
  part TEXT NOT NULL,
  idx INTEGER NOT NULL,
  data BLOB NOT NULL,
  PRIMARY KEY (record_seq, part, idx)
);
CREATE TABLE totals (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  count INTEGER NOT NULL,
  bytes INTEGER NOT NULL
);
INSERT INTO totals (id, count, bytes) VALUES (1, 0, 0);
CREATE TRIGGER records_totals_delete AFTER DELETE ON records BEGIN
  UPDATE totals SET count = count - 1, bytes = bytes - OLD.size_bytes WHERE id = 1;
END;
CREATE TRIGGER records_totals_update AFTER UPDATE OF size_bytes ON records BEGIN
  UPDATE totals SET bytes = bytes - OLD.size_bytes + NEW.size_bytes WHERE id = 1;
END;
CREATE TRIGGER records_feed_bump AFTER UPDATE OF doc ON records BEGIN
  UPDATE sqlite_sequence SET seq = seq + 1 WHERE name = 'records';
  UPDATE records SET feed_seq = (SELECT seq FROM sqlite_sequence WHERE name = 'records') WHERE seq = NEW.seq;
END;
`;

// Version 2: payloads live in segment files (`<storage.path>.segments/`), SQLite is the index.
// A v2 row references its first extent (seg, off, len) and keeps doc '' and no bodies; a TCP
// session appended to later has its further extents in `extents` (first_chunk: index of the
// extent's first chunk in the session, so a reader can skip what a peer already has). v1 rows
// (seg NULL) keep their document, inline bodies and chunk rows and are read as before: the
// upgrade only adds columns and tables, so it is instant whatever the size of the store.
// `segments` maps each segment to the seq of its first row: rows are inserted in the order their
// frames were appended, so a segment's rows are the seq range up to the next segment's first seq,
// which is how retention drops a whole segment without an index on records.seg.
// `exts` counts extents beyond the first; appending one bumps the record's feed position, as an
// update of `doc` did in v1.
const UPGRADE_V2 = `
ALTER TABLE records ADD COLUMN seg INTEGER;
ALTER TABLE records ADD COLUMN off INTEGER;
ALTER TABLE records ADD COLUMN len INTEGER;
ALTER TABLE records ADD COLUMN marks INTEGER;
ALTER TABLE records ADD COLUMN nchunks INTEGER;
ALTER TABLE records ADD COLUMN exts INTEGER NOT NULL DEFAULT 0;
CREATE TABLE extents (
  record_seq INTEGER NOT NULL REFERENCES records (seq) ON DELETE CASCADE,
  idx INTEGER NOT NULL,
  seg INTEGER NOT NULL,
  off INTEGER NOT NULL,
  len INTEGER NOT NULL,
  first_chunk INTEGER,
  PRIMARY KEY (record_seq, idx)
);
CREATE INDEX extents_seg ON extents (seg);
CREATE TABLE segments (
  id INTEGER PRIMARY KEY,
  first_seq INTEGER NOT NULL
);
DROP TRIGGER records_feed_bump;
CREATE TRIGGER records_feed_bump AFTER UPDATE OF doc, exts ON records BEGIN
  UPDATE sqlite_sequence SET seq = seq + 1 WHERE name = 'records';
  UPDATE records SET feed_seq = (SELECT seq FROM sqlite_sequence WHERE name = 'records') WHERE seq = NEW.seq;
END;
UPDATE meta SET value = '2' WHERE key = 'schema_version';
`;

/** The WAL file is truncated back to this after a checkpoint, so a burst does not keep disk forever. */
const JOURNAL_SIZE_LIMIT = 64 * 1024 * 1024;

function notAStore(path: string, why: string): StoreError {
  return new StoreError(
    'QP_ERR_STORE_CORRUPT',
    `${path} is not a usable QProxy store (${why}); QProxy left it untouched: move it away or set storage.path to another file`,
  );
}

function newerVersion(path: string, version: number): StoreError {
  return new StoreError(
    'QP_ERR_STORE_VERSION',
    `${path} was written by a newer QProxy (store schema version ${version}; this QProxy reads up to version ${SCHEMA_VERSION}); upgrade QProxy or set storage.path to another file`,
  );
}

/** Maps whatever opening failed with onto the three documented open errors. */
export function classifyOpenError(path: string, err: unknown): StoreError {
  if (err instanceof StoreError) return err;
  const code = (err as { code?: unknown } | null)?.code;
  if (code === 'SQLITE_NOTADB' || code === 'SQLITE_CORRUPT') return notAStore(path, `SQLite says: ${errorMessage(err)}`);
  return new StoreError(
    'QP_ERR_STORE_OPEN',
    `cannot open store ${path}: ${errorMessage(err)}; check that its folder is writable by this user or set storage.path elsewhere`,
    { cause: err },
  );
}

function checkVersion(path: string, value: unknown): void {
  const version = Number(value);
  if (!Number.isInteger(version) || version < 1) throw notAStore(path, `schema_version is ${JSON.stringify(value)}`);
  if (version > SCHEMA_VERSION) throw newerVersion(path, version);
}

/**
 * Looks at an existing file read-only before anything may write to it: a garbage, foreign or newer
 * file must stay byte-identical (switching it to WAL would already change its header).
 */
function probeExisting(path: string): void {
  const size = statSync(path, { throwIfNoEntry: false })?.size ?? 0;
  if (size === 0) return;
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    const tables = db.prepare<[], string>("SELECT name FROM sqlite_master WHERE type = 'table'").pluck().all();
    if (tables.length === 0) return;
    if (!tables.includes('meta')) throw notAStore(path, 'it is a SQLite database without QProxy tables');
    const version = db.prepare<[], unknown>("SELECT value FROM meta WHERE key = 'schema_version'").pluck().get();
    if (version === undefined) throw notAStore(path, 'its meta table has no schema_version');
    checkVersion(path, version);
  } finally {
    db.close();
  }
}

/** What opening did to the file's layout. */
export interface OpenedStore {
  db: Database.Database;
  /** The version the file had when it was upgraded now (1), or null (new, or already current). */
  upgradedFrom: number | null;
  /** Records kept in the v1 layout (read from SQLite as before). */
  legacyRecords: number;
}

function migrate(db: Database.Database, path: string, createdBy: string): number | null {
  return db.transaction(() => {
    db.exec('CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)');
    const version = db.prepare<[], unknown>("SELECT value FROM meta WHERE key = 'schema_version'").pluck().get();
    if (version !== undefined) {
      checkVersion(path, version);
      if (Number(version) === SCHEMA_VERSION) return null;
      db.exec(UPGRADE_V2);
      return Number(version);
    }
    // A new file is made the way an old one is upgraded, so there is one layout to reason about.
    db.exec(SCHEMA_V1);
    db.exec(UPGRADE_V2);
    const put = db.prepare<[string, string]>('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value');
    put.run('schema_version', String(SCHEMA_VERSION));
    put.run('created_by', createdBy);
    return null;
  }).immediate();
}

/**
 * Opens (creating if needed) the store file for the single writer: probe read-only, then WAL,
 * `synchronous`, foreign keys (chunk cascade) and the schema. Throws StoreError
 * `QP_ERR_STORE_CORRUPT` / `QP_ERR_STORE_VERSION` / `QP_ERR_STORE_OPEN`.
 */
export function openForWriting(path: string, synchronous: 'normal' | 'full', createdBy: string): OpenedStore {
  let db: Database.Database | undefined;
  try {
    probeExisting(path);
    db = new Database(path);
    const mode = db.pragma('journal_mode = WAL', { simple: true });
    if (mode !== 'wal') throw new Error(`the file system refused WAL journaling (journal_mode stayed ${String(mode)})`);
    db.pragma(`synchronous = ${synchronous === 'full' ? 'FULL' : 'NORMAL'}`);
    db.pragma('foreign_keys = ON');
    db.pragma(`journal_size_limit = ${JOURNAL_SIZE_LIMIT}`);
    const upgradedFrom = migrate(db, path, createdBy);
    const legacyRecords = upgradedFrom === null ? 0 : (db.prepare<[], number>('SELECT count(*) FROM records').pluck().get() ?? 0);
    return { db, upgradedFrom, legacyRecords };
  } catch (err) {
    db?.close();
    throw classifyOpenError(path, err);
  }
}

/** The main thread's connection for list/get/stats: read-only, so it can never contend for the write lock. */
export function openForReading(path: string): Database.Database {
  try {
    return new Database(path, { readonly: true, fileMustExist: true });
  } catch (err) {
    throw classifyOpenError(path, err);
  }
}
