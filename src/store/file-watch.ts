import { stat } from 'node:fs/promises';

/** Which file a path names: a path whose identity changes is no longer the file that is open. */
export interface FileId {
  dev: number;
  ino: number;
}

/** The identities of the store's files as they were when the store (re)opened them. */
export interface StoreFiles {
  db: FileId | null;
  /** Null until SQLite has created the WAL. */
  wal: FileId | null;
}

/**
 * What changed under an open store:
 * - `db_gone`: nothing (or an empty file) is at the path; the open file was deleted or moved away,
 *   and whatever is written to it is lost at the next start;
 * - `db_replaced`: another non-empty file is at the path;
 * - `wal_gone`: only the WAL was deleted or replaced; commits since the last checkpoint would be
 *   lost by a crash, and reopening the path (a checkpoint into the still-linked file) loses nothing.
 */
export type FileProblem = 'db_gone' | 'db_replaced' | 'wal_gone';

async function identify(path: string): Promise<(FileId & { size: number }) | null> {
  try {
    const s = await stat(path);
    return { dev: s.dev, ino: s.ino, size: s.size };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

function same(a: FileId | null, b: FileId | null): boolean {
  return a !== null && b !== null && a.dev === b.dev && a.ino === b.ino;
}

/** The identities of `path` and its WAL now. */
export async function storeFiles(path: string): Promise<StoreFiles> {
  const [db, wal] = await Promise.all([identify(path), identify(`${path}-wal`)]);
  return { db: db && { dev: db.dev, ino: db.ino }, wal: wal && { dev: wal.dev, ino: wal.ino } };
}

/**
 * Compares the files at `path` with the ones the store opened: two `stat` calls, cheap enough for
 * a timer of a second or two. A WAL that appeared since (SQLite creates it at the first write) is
 * adopted into the returned identities.
 */
export async function inspectFiles(path: string, known: StoreFiles): Promise<{ problem: FileProblem | null; files: StoreFiles }> {
  const [db, wal] = await Promise.all([identify(path), identify(`${path}-wal`)]);
  if (!same(db, known.db)) return { problem: db === null || db.size === 0 ? 'db_gone' : 'db_replaced', files: known };
  if (known.wal !== null && !same(wal, known.wal)) return { problem: 'wal_gone', files: known };
  return { problem: null, files: { db: known.db, wal: known.wal ?? (wal && { dev: wal.dev, ino: wal.ino }) } };
}
