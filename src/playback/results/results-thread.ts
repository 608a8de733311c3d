import type { Worker } from 'node:worker_threads';
import { QProxyError, errorMessage } from '../../core/errors.js';
import { siblingEntry, startWorker } from '../../core/worker-entry.js';
import type { Logger } from '../../core/log.js';
import type { RecordedOutcome } from '../compare/compare-http.js';
import type { CompareOptions, ResponseSide } from '../compare/types.js';
import type { MessageIgnore } from '../compare/compare-messages.js';
import type { WsSide } from '../compare/compare-websocket.js';
import type { FromResults, MessagesCompareJob, ResultsInit, TcpCompareJob, ToResults } from './protocol.js';
import type { ReplayResult, ResultBase } from './result.js';
import type { ReplayRow } from './writer-db.js';

/** What the results thread says about one comparison. */
export interface Compared {
  match: boolean;
  truncated: boolean;
  kinds: string[];
}

/** The logger slice the results thread reports through. */
type ResultsLogger = Pick<Logger, 'warn' | 'error'>;

function threadError(message: string): QProxyError {
  return new QProxyError('QP_ERR_PLAYBACK_RESULTS', message);
}

/** Starts the results entry beside this module (see core/worker-entry.ts for running from source). */
function spawn(init: ResultsInit): Worker {
  return startWorker(siblingEntry(import.meta.url, 'results-worker'), { workerData: init });
}

/**
 * The main thread's handle on the results thread: comparisons go in and come back as verdicts,
 * results and replay documents go in to be written in group commits. If the thread dies, every
 * pending and later call fails with QP_ERR_PLAYBACK_RESULTS.
 */
export class ResultsThread {
  private readonly pending = new Map<number, { resolve: (c: Compared) => void; reject: (e: Error) => void }>();
  private readonly ops = new Map<number, { resolve: () => void; reject: (e: Error) => void }>();
  private nextId = 1;
  private dead: Error | null = null;
  /** Messages waiting for the next turn of the event loop: one postMessage carries them all. */
  private outbox: ToResults[] = [];
  private flushing = false;
  private closing: Promise<void> | null = null;
  private readonly exited: Promise<number>;

  private constructor(
    private readonly worker: Worker,
    private readonly log: ResultsLogger,
  ) {
    this.exited = new Promise((resolve) => worker.once('exit', resolve));
  }

  /** Starts the thread and waits until the results file is open. */
  static async start(init: ResultsInit, log: ResultsLogger): Promise<ResultsThread> {
    let worker: Worker;
    try {
      worker = spawn(init);
    } catch (err) {
      throw threadError(`cannot start the replay results thread: ${errorMessage(err)}`);
    }
    const thread = new ResultsThread(worker, log);
    await new Promise<void>((resolve, reject) => {
      let lastError: Error | null = null;
      worker.on('error', (err) => {
        lastError = err;
        thread.log.error({ err }, 'replay results thread failed');
      });
      worker.once('exit', (code) => {
        const err = threadError(`the replay results thread ended (exit code ${code}${lastError ? `: ${lastError.message}` : ''})`);
        thread.failAll(err);
        reject(err);
      });
      worker.on('message', (msg: FromResults | FromResults[]) => {
        if (Array.isArray(msg)) for (const m of msg) thread.onMessage(m);
        else if (msg.type === 'ready') resolve();
        else if (msg.type === 'fatal') reject(threadError(msg.message));
        else thread.onMessage(msg);
      });
    });
    return thread;
  }

  /** Registers comparison rules; the id goes with every comparison that uses them. */
  addRules(compare: CompareOptions, maxDecoded: number): number {
    const rulesId = this.nextId++;
    this.post({ type: 'rules', rulesId, compare, maxDecoded });
    return rulesId;
  }

  compareHttp(base: ResultBase, rulesId: number, recorded: RecordedOutcome, replayed: ResponseSide): Promise<Compared> {
    return this.job((jobId) => ({ type: 'compareHttp', jobId, rulesId, base, recorded, replayed }));
  }

  /** A WebSocket connection's server messages, compared with the HTTP rules `rulesId`. */
  compareWs(base: ResultBase, rulesId: number, recorded: WsSide, replayed: WsSide): Promise<Compared> {
    return this.job((jobId) => ({ type: 'compareWs', jobId, rulesId, base, recorded, replayed }));
  }

  compareTcp(base: ResultBase, job: TcpCompareJob): Promise<Compared> {
    return this.job((jobId) => ({ type: 'compareTcp', jobId, base, job }));
  }

  /** Registers the ignore rules of protocol sessions (`playback.tcp.ignore`); the id goes with each comparison. */
  addTcpRules(ignore: MessageIgnore): number {
    const rulesId = this.nextId++;
    this.post({ type: 'tcpRules', rulesId, ignore });
    return rulesId;
  }

  compareMessages(base: ResultBase, rulesId: number, job: MessagesCompareJob): Promise<Compared> {
    return this.job((jobId) => ({ type: 'compareMessages', jobId, rulesId, base, job }));
  }

  /** Comparisons sent and not yet answered. */
  get backlog(): number {
    return this.pending.size;
  }

  /** Stores a result decided without comparison (skipped, dry run, failed, missing). */
  put(result: ReplayResult): void {
    this.post({ type: 'result', result });
  }

  putReplay(row: ReplayRow): void {
    this.post({ type: 'replay', row });
  }

  setMeta(key: string, value: string): void {
    this.post({ type: 'meta', key, value });
  }

  deleteReplay(id: string): Promise<void> {
    return this.op((opId) => ({ type: 'deleteReplay', opId, id }));
  }

  purge(before: number, keepReplays: number): void {
    this.post({ type: 'purge', before, keepReplays });
  }

  /** Resolves once everything posted before is committed. */
  flush(): Promise<void> {
    return this.op((opId) => ({ type: 'flush', opId }));
  }

  /** Commits what is queued and ends the thread. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      if (this.dead === null) {
        const batch = [...this.outbox, { type: 'close' } as const];
        this.outbox = [];
        this.worker.postMessage(batch);
        this.dead = threadError('the replay results thread is closed');
      }
      await this.exited;
    })();
    return this.closing;
  }

  private job(make: (jobId: number) => ToResults): Promise<Compared> {
    if (this.dead) return Promise.reject(this.dead);
    const jobId = this.nextId++;
    return new Promise<Compared>((resolve, reject) => {
      this.pending.set(jobId, { resolve, reject });
      this.post(make(jobId));
    });
  }

  private op(make: (opId: number) => ToResults): Promise<void> {
    if (this.dead) return Promise.reject(this.dead);
    const opId = this.nextId++;
    return new Promise<void>((resolve, reject) => {
      this.ops.set(opId, { resolve, reject });
      this.post(make(opId));
    });
  }

  /**
   * Queues a message; the queue goes out in one postMessage at the next turn of the event loop.
   * Per-message overhead (serialisation set-up, waking the thread) was most of the cost at
   * thousands of results a second.
   */
  private post(msg: ToResults): void {
    if (this.dead) return;
    this.outbox.push(msg);
    if (this.flushing) return;
    this.flushing = true;
    setImmediate(() => {
      this.flushing = false;
      const batch = this.outbox;
      this.outbox = [];
      if (batch.length > 0 && this.dead === null) this.worker.postMessage(batch);
    });
  }

  private onMessage(msg: FromResults): void {
    if (msg.type === 'compared') {
      const p = this.pending.get(msg.jobId);
      this.pending.delete(msg.jobId);
      p?.resolve({ match: msg.match, truncated: msg.truncated, kinds: msg.kinds });
    } else if (msg.type === 'opDone') {
      const p = this.ops.get(msg.opId);
      this.ops.delete(msg.opId);
      if (msg.error === null) p?.resolve();
      else p?.reject(threadError(msg.error));
    } else if (msg.type === 'writeFailed') {
      this.log.warn({ count: msg.count }, `replay results could not be written (${msg.message}); they are lost, the replay goes on`);
    }
  }

  private failAll(err: Error): void {
    this.dead ??= err;
    for (const p of this.pending.values()) p.reject(err);
    for (const p of this.ops.values()) p.reject(err);
    this.pending.clear();
    this.ops.clear();
  }
}
