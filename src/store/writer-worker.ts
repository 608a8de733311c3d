/**
 * Entry of the store's writer thread. It owns the only writing connection and handles the main
 * thread's messages strictly in order, each write as one synchronous transaction; purges run in
 * bounded rounds with a turn of the event loop between them so batches are never held up long.
 */
import { readFileSync } from 'node:fs';
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { classifyOpenError } from './schema.js';
import { WriterDb, toFailure } from './writer-db.js';
import type { FromWriter, ToWriter, WriterInit } from './writer-protocol.js';

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
    private readonly db: WriterDb,
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
    const cutoff = req.now - req.retentionMs;
    const floor = Number.isFinite(req.floor) ? req.floor : Number.MAX_SAFE_INTEGER;
    const sums = { retention: { count: 0, bytes: 0 }, max_size: { count: 0, bytes: 0 } };
    const unsent = { count: 0, bytes: 0 };
    const round = (): void => {
      if (this.stopped) return;
      try {
        const byAge = req.retentionMs > 0 ? this.db.purgeRetention(cutoff, floor) : null;
        const bySize = !byAge?.more && req.maxSizeBytes > 0 ? this.db.purgeSize(req.maxSizeBytes, floor) : null;
        if (bySize?.unsent) {
          unsent.count += bySize.unsent.count;
          unsent.bytes += bySize.unsent.bytes;
        }
        for (const [reason, r] of [['retention', byAge], ['max_size', bySize]] as const) {
          if (r) {
            sums[reason].count += r.count;
            sums[reason].bytes += r.bytes;
          }
        }
        if (byAge?.more || bySize?.more) {
          setImmediate(round);
          return;
        }
      } catch (err) {
        this.post({ type: 'purgeFailed', error: toFailure(err) });
      }
      this.finish(sums, unsent);
    };
    round();
  }

  private finish(sums: Record<'retention' | 'max_size', { count: number; bytes: number }>, unsent: { count: number; bytes: number }): void {
    for (const reason of ['retention', 'max_size'] as const) {
      const s = sums[reason];
      if (s.count > 0) {
        this.post({ type: 'purged', reason, count: s.count, bytes: s.bytes, ...(reason === 'max_size' && unsent.count > 0 && { unsent }) });
      }
    }
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

function serve(port: MessagePort, db: WriterDb): void {
  const post = (msg: FromWriter): void => port.postMessage(msg);
  const purger = new Purger(db, post);
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
      case 'ingest':
        try {
          post({ type: 'ingestDone', ingestId: msg.ingestId, result: db.ingest(msg.batch, msg.tally, msg.meta), error: null });
        } catch (err) {
          post({ type: 'ingestDone', ingestId: msg.ingestId, result: null, error: toFailure(err) });
        }
        break;
      case 'purge':
        purger.request(msg);
        break;
      case 'close':
        purger.stop();
        db.close();
        port.close();
        break;
      case 'test:queryOnly':
        db.setQueryOnly(msg.on);
        break;
      case 'test:crash':
        throw new Error('store writer crashed on request (test hook)');
    }
  });
  post({ type: 'ready' });
}

function main(): void {
  const port = parentPort;
  if (!port) throw new Error('writer-worker must run as a worker thread (new Worker), not as a main module');
  const init = workerData as WriterInit;
  let db: WriterDb;
  try {
    db = WriterDb.open(init.path, init.synchronous, qproxyVersion());
  } catch (err) {
    const e = classifyOpenError(init.path, err);
    port.postMessage({ type: 'fatal', code: e.code as `QP_ERR_STORE_${string}`, message: e.message } satisfies FromWriter);
    port.close();
    return;
  }
  serve(port, db);
}

main();
