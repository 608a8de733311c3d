/**
 * Entry of the store's writer thread. It owns the only writing connection and handles the main
 * thread's messages strictly in order, each write as one synchronous transaction; purges run in
 * bounded rounds (one segment, or 500 v1 rows, per transaction) with a turn of the event loop between
 * them so batches are never held up long.
 */
import { readFileSync, rmSync, statSync } from 'node:fs';
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { classifyOpenError } from './schema.js';
import { WriterDb, toFailure, type Carry } from './writer-db.js';
import { IngestChainGuard } from './writer-ingest.js';
import type { FromWriter, ReopenOutcome, ToWriter, WriterInit } from './writer-protocol.js';

type PurgeRequest = Extract<ToWriter, { type: 'purge' }>;

function qproxyVersion(): string {
  // src/store/ and dist/store/ both sit two levels below the package root.
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
    return `qproxy ${String(pkg.version)}`;
  } catch {
    return 'qproxy';
  }
}

/** Runs one purge at a time in bounded rounds; a request arriving meanwhile runs right after. */
class Purger {
  private running = false;
  private next: PurgeRequest | null = null;
  private stopped = false;

  constructor(
    private readonly dbNow: () => WriterDb,
    private readonly post: (msg: FromWriter) => void,
  ) {}

  request(req: PurgeRequest): void {
    if (this.running) this.next = req;
    else this.start(req);
  }

  stop(): void {
    this.stopped = true;
  }

  private start(req: PurgeRequest): void {
    this.running = true;
    const policy = {
      cutoff: req.retentionMs > 0 ? req.now - req.retentionMs : null,
      maxBytes: req.maxSizeBytes,
      floor: Number.isFinite(req.floor) ? req.floor : Number.MAX_SAFE_INTEGER,
      keepFrom: req.keepFrom,
    };
    const sums = { retention: { count: 0, bytes: 0 }, max_size: { count: 0, bytes: 0 } };
    const unsent = { count: 0, bytes: 0 };
    const segments: number[] = [];
    // Each round is one transaction; a turn of the event loop between rounds lets batches in.
    const round = (): void => {
      if (this.stopped) return;
      try {
        const r = this.dbNow().retention.round(policy);
        segments.push(...r.segments);
        if (r.reason) {
          sums[r.reason].count += r.count;
          sums[r.reason].bytes += r.bytes;
        }
        unsent.count += r.unsent.count;
        unsent.bytes += r.unsent.bytes;
        if (r.more) {
          setImmediate(round);
          return;
        }
      } catch (err) {
        this.post({ type: 'purgeFailed', error: toFailure(err) });
      }
      this.finish(sums, unsent, segments);
    };
    round();
  }

  private finish(sums: Record<'retention' | 'max_size', { count: number; bytes: number }>, unsent: { count: number; bytes: number }, segments: number[]): void {
    for (const reason of ['retention', 'max_size'] as const) {
      const s = sums[reason];
      if (s.count > 0) {
        this.post({ type: 'purged', reason, count: s.count, bytes: s.bytes, ...(reason === 'max_size' && unsent.count > 0 && { unsent }) });
      }
    }
    if (segments.length > 0) this.post({ type: 'segmentsRemoved', segments });
    this.running = false;
    const next = this.next;
    this.next = null;
    if (next) this.start(next);
  }
}

function opDone(port: MessagePort, opId: number, fn: () => boolean): void {
  let msg: FromWriter;
  try {
    msg = { type: 'opDone', opId, result: fn(), error: null };
  } catch (err) {
    msg = { type: 'opDone', opId, result: false, error: toFailure(err) };
  }
  port.postMessage(msg);
}

/** Nothing but an empty file (or none) at the path: a fresh store may be created there. */
function pathIsFree(path: string): boolean {
  return (statSync(path, { throwIfNoEntry: false })?.size ?? 0) === 0;
}

/**
 * Closes the connection and opens the path again. For a lost file the old connection still reads
 * the deleted inode: what must survive is read first, and the lost file's -wal/-shm names (if
 * left) are removed before a fresh file is created, so SQLite never pairs the new file with them.
 * The main thread has closed its reader before asking, so closing here is the last connection.
 */
function reopen(init: WriterInit, db: WriterDb, msg: Extract<ToWriter, { type: 'reopen' }>): { db: WriterDb; outcome: ReopenOutcome } {
  let carry: Carry | null = null;
  if (msg.lostFile) {
    try {
      carry = db.carryOver(msg.floor);
    } catch {
      carry = null; // unreadable: the fresh file starts from nothing, and the loss is unknown
    }
  }
  db.close();
  if (msg.lostFile && pathIsFree(init.path)) {
    for (const suffix of ['-wal', '-shm', '-journal']) rmSync(init.path + suffix, { force: true });
  }
  const next = WriterDb.open(init.path, init.synchronous, qproxyVersion(), init.segmentsDir);
  if (carry) next.adopt(carry);
  return { db: next, outcome: { lost: carry && { count: carry.count, bytes: carry.bytes, unsent: carry.unsent } } };
}

function serve(port: MessagePort, init: WriterInit, first: WriterDb): void {
  let db = first;
  const post = (msg: FromWriter): void => port.postMessage(msg);
  const purger = new Purger(() => db, post);
  const chain = new IngestChainGuard();
  port.on('message', (msg: ToWriter) => {
    switch (msg.type) {
      case 'batch':
        post({ type: 'batchDone', batchId: msg.batchId, ...db.insertBatch(msg.batch) });
        break;
      case 'delete':
        opDone(port, msg.opId, () => db.delete(msg.id));
        break;
      case 'setMeta':
        opDone(port, msg.opId, () => {
          db.setMeta(msg.key, msg.value);
          return true;
        });
        break;
      case 'ingest': {
        const refused = chain.check(msg.ingestId, msg.after);
        if (refused) {
          post({ type: 'ingestDone', ingestId: msg.ingestId, result: null, error: refused });
          break;
        }
        try {
          const result = db.ingest(msg.batch, msg.tally, msg.meta);
          chain.committedNow(msg.ingestId, msg.after);
          post({ type: 'ingestDone', ingestId: msg.ingestId, result, error: null });
        } catch (err) {
          post({ type: 'ingestDone', ingestId: msg.ingestId, result: null, error: toFailure(err) });
        }
        break;
      }
      case 'purge':
        purger.request(msg);
        break;
      case 'reopen':
        if (msg.lostFile && !pathIsFree(init.path)) {
          // Something else was put at the path meanwhile: it is not ours to overwrite.
          post({ type: 'reopenDone', reopenId: msg.reopenId, outcome: null, error: { code: 'QP_ERR_STORE_REPLACED', message: `${init.path} is another file now` } });
          break;
        }
        try {
          const done = reopen(init, db, msg);
          db = done.db;
          if (msg.lostFile) chain.forget();
          post({ type: 'reopenDone', reopenId: msg.reopenId, outcome: done.outcome, error: null });
        } catch (err) {
          // The old connection is closed and the path cannot be opened: the thread ends, and the
          // pipeline restarts it with back-off until the path opens again (records drop meanwhile).
          post({ type: 'reopenDone', reopenId: msg.reopenId, outcome: null, error: toFailure(err) });
          throw err;
        }
        break;
      case 'close':
        purger.stop();
        db.close();
        port.close();
        break;
    }
  });
  post({ type: 'ready', ...first.opened });
}

function main(): void {
  const port = parentPort;
  if (!port) throw new Error('writer-worker must run as a worker thread (new Worker), not as a main module');
  const init = workerData as WriterInit;
  let db: WriterDb;
  try {
    db = WriterDb.open(init.path, init.synchronous, qproxyVersion(), init.segmentsDir);
  } catch (err) {
    const e = classifyOpenError(init.path, err);
    port.postMessage({ type: 'fatal', code: e.code as `QP_ERR_STORE_${string}`, message: e.message } satisfies FromWriter);
    port.close();
    return;
  }
  serve(port, init, db);
}

main();
