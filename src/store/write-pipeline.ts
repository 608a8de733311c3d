import { StoreError, errorMessage } from '../core/errors.js';
import { releaseRecordBodies } from '../recording/capture.js';
import type { QRecord } from '../recording/model.js';
import { packBatch } from './batch-pack.js';
import type { IngestTally } from './meta-keys.js';
import { queuedBytes } from './record-codec.js';
import { FrameArena, frameReceived, frameRecord, releaseFramed, type FramedRecord, type ReceivedHttp } from './record-frames.js';
import { RecordQueue } from './record-queue.js';
import type { Extent, SegmentLog } from './segment-log.js';
import type { IngestChain, StoreLogger, StoreObserver, StoreOptions } from './types.js';
import type { FromWriter, IngestResult, ReopenOutcome, ToWriter, WriterFailure } from './writer-protocol.js';
import { WriterThread, type Opened } from './writer-thread.js';

/** A batch is posted once this many records are queued, without waiting for the flush tick. */
export const BATCH_MAX_RECORDS = 500;
/** ... or once this many bytes are; also the most one transaction writes. */
export const BATCH_MAX_BYTES = 8 * 1024 * 1024;
/** Batches handed to the writer and not yet answered. Two keep it busy; more would only move the queue out of reach of its bound. */
const MAX_BATCHES_IN_FLIGHT = 2;
const RESTART_MIN_MS = 100;
const RESTART_MAX_MS = 10_000;
/** Failed chained ingests remembered for their successors; a receiver has a handful in flight. */
const UNPOSTED_REMEMBERED = 1024;

type DropReason = Parameters<StoreObserver['dropped']>[0];
type OpMessage = Extract<ToWriter, { opId: number }>;
type OpBody = OpMessage extends infer M ? (M extends OpMessage ? Omit<M, 'opId'> : never) : never;

interface Batch {
  batchId: number;
  count: number;
  /** Handed to the writer thread (its frames are on disk); only such batches die with a writer. */
  posted: boolean;
  /** Ticket just past this batch's last record; `settled` moves here when the batch is answered. */
  end: number;
  done: boolean;
}

interface Op {
  msg: OpMessage;
  resolve(result: boolean): void;
  reject(err: Error): void;
}

interface PendingIngest {
  resolve(result: IngestResult): void;
  reject(err: Error): void;
}

/** What the pipeline needs from the store's options, plus where to send the writer's other news. */
export type PipelineOptions = Pick<StoreOptions, 'path' | 'synchronous' | 'queueMaxRecords' | 'queueMaxBytes' | 'writerEntry'> & {
  segmentsDir: string;
  observer: StoreObserver | undefined;
  logger: StoreLogger;
  /** Messages the pipeline does not handle itself (purge results). */
  onOtherMessage(msg: FromWriter): void;
};

/** What an ingest in flight gets when the writer thread dies under it. */
function writerDown(): StoreError {
  return new StoreError('QP_ERR_STORE_WRITER_DOWN', 'the store writer thread is down (it restarts by itself); retry the batch shortly');
}

/** What a chained ingest gets when the one it was prepared on top of was never posted. */
function brokenChain(ingestId: number, after: number): StoreError {
  return new StoreError(
    'QP_ERR_STORE_WRITE',
    `store ingest failed, nothing of the batch was stored: ingest ${ingestId} was prepared on top of ingest ${after}, which failed (send the batch again)`,
  );
}

/** The error every call on a closed store gets. */
export function closedError(): StoreError {
  return new StoreError('QP_ERR_STORE_CLOSED', 'the store is closed; open a new Store to read or write records');
}

/** A batch's records as frames, and those that could not be framed. */
interface Framed {
  framed: FramedRecord[];
  failed: number;
  error: WriterFailure | null;
}

function frameAll(records: ReadonlyArray<QRecord | ReceivedHttp>, docs?: ReadonlyArray<Buffer | undefined>): Framed {
  const arena = new FrameArena();
  const framed: FramedRecord[] = [];
  let failed = 0;
  let error: WriterFailure | null = null;
  for (let i = 0; i < records.length; i++) {
    const item = records[i]!;
    try {
      framed.push('head' in item ? frameReceived(item, arena) : frameRecord(item, arena, docs?.[i]));
    } catch (err) {
      failed++;
      const id = 'head' in item ? item.head.id : item.id;
      error = { code: 'QP_ERR_STORE_RECORD', message: `record ${i} (${String(id)}) could not be encoded: ${errorMessage(err)}` };
    }
  }
  return { framed, failed, error };
}

function failureOf(err: unknown): WriterFailure {
  const code = (err as { code?: unknown } | null)?.code;
  return { code: typeof code === 'string' ? code : 'QP_ERR_STORE_WRITE', message: errorMessage(err) };
}

/**
 * Everything between `offer()` and the writer thread: the bounded queue, batches in flight, writes
 * other than records (ops), flush waiters, and the writer's supervision (restart with back-off).
 *
 *   offer (framed) ─► queue ─(tick / 500 records / flush)─► batch ─► frames appended to the segment log
 *         (pwritev + fdatasync) ─► index rows posted to the writer ─► batchDone ─► settled
 *
 * Index rows are posted in the order their frames were appended (see schema.ts: a segment's rows
 * are a seq range), whatever order the syncs complete in.
 * Every accepted record gets a ticket; `settled` is the ticket up to which every record was
 * committed or counted as dropped, so flush() waits for `settled >= accepted-at-call-time`.
 */
export class WritePipeline {
  private readonly queue = new RecordQueue();
  /** Where offered records' headers and documents are written; its buffers live until their batch is written. */
  private readonly arena = new FrameArena();
  private writer: WriterThread | null = null;
  private accepted = 0;
  private sent = 0;
  private settled = 0;
  private readonly batches: Batch[] = [];
  private nextBatchId = 1;
  private nextOpId = 1;
  private readonly unsentOps: Op[] = [];
  private readonly sentOps = new Map<number, Op>();
  private readonly ingests = new Map<number, PendingIngest>();
  private nextIngestId = 1;
  /** Ingests never posted to the writer (segment write failed, writer down), until a successor looked. */
  private readonly unposted = new Set<number>();
  private readonly reopens = new Map<number, { resolve(o: ReopenOutcome): void; reject(err: Error): void }>();
  private nextReopenId = 1;
  private readonly waiters: Array<{ target: number; resolve(): void }> = [];
  private forceSend = false;
  private pumpScheduled = false;
  private stopping = false;
  private closeSent = false;
  private restartDelay = RESTART_MIN_MS;
  private restartTimer: NodeJS.Timeout | null = null;
  private restarting: Promise<void> | null = null;
  private failingBurst = 0;

  private log: SegmentLog | null = null;
  private uncongestedWaiters: Array<() => void> = [];
  /** Settles after the last post made in append order (never rejects). */
  private ordered: Promise<void> = Promise.resolve();

  constructor(private readonly opts: PipelineOptions) {}

  /** The segment log batches are appended to; set once, after start(), before the first offer. */
  attachLog(log: SegmentLog): void {
    this.log = log;
  }

  /** Starts the first writer; rejects with the StoreError that kept it from opening the file. */
  async start(): Promise<Opened> {
    const w = this.spawn();
    let opened: Opened;
    try {
      opened = await w.ready;
    } catch (err) {
      await w.exited;
      throw err;
    }
    this.writer = w;
    return opened;
  }

  get depth(): number {
    return this.accepted - this.settled;
  }

  /** Past half of either queue bound: producers that can wait should (see RecordSink.congested). */
  get congested(): boolean {
    return this.queue.length >= this.opts.queueMaxRecords / 2 || this.queue.bytes >= this.opts.queueMaxBytes / 2;
  }

  /** Calls `fn` once the queue is down to a quarter of its bounds (at once if it is not congested). */
  whenUncongested(fn: () => void): void {
    if (!this.congested) {
      queueMicrotask(fn);
      return;
    }
    this.uncongestedWaiters.push(fn);
  }

  offer(record: QRecord, opts?: { keep?: boolean }): boolean {
    if (this.stopping) return this.drop('closed', 1);
    let bytes: number;
    try {
      bytes = queuedBytes(record);
    } catch (err) {
      this.opts.logger.error({ err }, 'record offered to the store is malformed; dropped');
      return this.drop('storage_error', 1);
    }
    // A producer that holds its traffic back (keep) may go past the bounds, up to twice them.
    const factor = opts?.keep ? 2 : 1;
    if (this.queue.length >= this.opts.queueMaxRecords * factor || this.queue.bytes + bytes > this.opts.queueMaxBytes * factor) {
      // The store was a TCP segment's last holder (the recorder lets go of what it offers): its slab regions go back now.
      if (record.protocol === 'tcp') releaseRecordBodies(record);
      return this.drop(this.writer ? 'queue_full' : 'writer_down', 1);
    }
    // Framed now, not when its batch is sent: the queue then holds the record's frames (its JSON
    // document already in an arena, its bodies by reference) and one index-columns object, and the
    // record's own objects (headers, parts, the redacted copies) die young instead of living a
    // flush interval, getting promoted, and costing a mark-compact.
    let framed: FramedRecord;
    try {
      framed = frameRecord(record, this.arena);
    } catch (err) {
      releaseRecordBodies(record);
      this.noteFailure({ code: 'QP_ERR_STORE_RECORD', message: `record ${String(record.id)} could not be encoded: ${errorMessage(err)}` }, 1);
      return this.drop('storage_error', 1);
    }
    this.queue.push(framed, bytes);
    this.accepted++;
    if (!this.pumpScheduled && (this.queue.length >= BATCH_MAX_RECORDS || this.queue.bytes >= BATCH_MAX_BYTES)) {
      // Writing and posting a batch is per batch; keep that off the caller's stack.
      this.pumpScheduled = true;
      setImmediate(() => {
        this.pumpScheduled = false;
        this.pump(false);
      });
    }
    return true;
  }

  /** Sends everything queued now (the flush tick). */
  tick(): void {
    this.pump(true);
  }

  flush(): Promise<void> {
    const target = this.accepted;
    if (this.settled >= target) return Promise.resolve();
    return new Promise<void>((resolve) => {
      this.waiters.push({ target, resolve });
      this.pump(true);
    });
  }

  /** A write other than records (delete, setMeta). Kept across a writer restart and sent again: both are idempotent. */
  op(body: OpBody): Promise<boolean> {
    if (this.stopping) return Promise.reject(closedError());
    return new Promise<boolean>((resolve, reject) => {
      const op: Op = { msg: { ...body, opId: this.nextOpId++ }, resolve, reject };
      if (this.writer) this.sendOp(this.writer, op);
      else this.unsentOps.push(op);
    });
  }

  /**
   * Stores a received batch in one transaction (see writer-ingest.ts). Unlike ops it is never sent
   * again after a writer crash: whether it committed is unknown, so the caller gets
   * `QP_ERR_STORE_WRITER_DOWN` and decides (the sync receiver answers 503 and the sender retries).
   * `chain`: ingests linked through it are posted in call order and each commits only if the one
   * before it committed (see {@link IngestChain}).
   */
  ingest(
    records: ReadonlyArray<QRecord | ReceivedHttp>,
    tally: IngestTally | null,
    meta: Array<[string, string | null]>,
    docs?: ReadonlyArray<Buffer | undefined>,
    chain?: IngestChain,
  ): Promise<IngestResult> {
    if (this.stopping) return Promise.reject(closedError());
    const ingestId = this.nextIngestId++;
    // Linked before anything can fail: a successor prepared on top of this one must be refused too.
    const after = chain?.last ?? 0;
    if (chain) chain.last = ingestId;
    if (!this.writer) {
      if (chain) this.markUnposted(ingestId);
      return Promise.reject(writerDown());
    }
    const { framed, failed, error } = frameAll(records, docs);
    if (failed > 0) {
      if (chain) this.markUnposted(ingestId);
      return Promise.reject(new StoreError('QP_ERR_STORE_WRITE', `store ingest failed, nothing of the batch was stored: ${error?.message ?? 'a record could not be encoded'}`));
    }
    return new Promise<IngestResult>((resolve, reject) => {
      this.afterDurable(
        framed,
        (refs) => {
          const w = this.writer;
          // The writer would refuse it too (it never saw the predecessor); not posting spares it the work.
          const unposted = this.unposted.delete(after);
          if (!w || unposted) {
            if (chain) this.markUnposted(ingestId);
            return reject(unposted ? brokenChain(ingestId, after) : writerDown());
          }
          this.ingests.set(ingestId, { resolve, reject });
          const batch = packBatch(framed.map((f) => f.columns), refs);
          w.post({ type: 'ingest', ingestId, after, batch, tally, meta }, [batch.nums.buffer as ArrayBuffer]);
        },
        (err) => {
          if (chain) this.markUnposted(ingestId);
          reject(new StoreError('QP_ERR_STORE_WRITE', `store ingest failed, nothing of the batch was stored: ${errorMessage(err)}`, { cause: err }));
        },
      );
    });
  }

  /** An ingest of `chain` refused before it reached the pipeline: its successors must fail too. */
  failLink(chain: IngestChain): void {
    const ingestId = this.nextIngestId++;
    chain.last = ingestId;
    this.markUnposted(ingestId);
  }

  private markUnposted(ingestId: number): void {
    this.unposted.add(ingestId);
    // A chain's last failure may never be looked up (its receiver starts a new chain): forget the oldest.
    if (this.unposted.size > UNPOSTED_REMEMBERED) this.unposted.delete(this.unposted.values().next().value!);
  }

  /**
   * Has the writer close and reopen the store file (see the `reopen` message). Like an ingest it
   * is never sent again after a writer crash: the caller looks at the files again instead.
   * Rejects with StoreError `QP_ERR_STORE_REPLACED` (another file is at the path now),
   * `QP_ERR_STORE_OPEN` (the path cannot be opened; the writer restarts until it can),
   * `QP_ERR_STORE_WRITER_DOWN` or `QP_ERR_STORE_CLOSED`.
   */
  reopen(lostFile: boolean, floor: number): Promise<ReopenOutcome> {
    if (this.stopping) return Promise.reject(closedError());
    if (!this.writer) return Promise.reject(writerDown());
    return new Promise<ReopenOutcome>((resolve, reject) => {
      // After the batches whose frames are already written: they belong to the old file.
      this.ordered = this.ordered.then(() => {
        const now = this.writer;
        if (!now) return reject(writerDown());
        const reopenId = this.nextReopenId++;
        this.reopens.set(reopenId, { resolve, reject });
        // A fresh file starts with a fresh segment: the old file's segments go with their records.
        if (lostFile) this.log?.rollSoon();
        now.post({ type: 'reopen', reopenId, lostFile, floor });
      });
    });
  }

  /**
   * Asks the writer to apply retention, after the batches already queued are indexed: every
   * segment before the one being appended to now is then fully indexed when the writer looks.
   */
  purge(req: Omit<Extract<ToWriter, { type: 'purge' }>, 'type' | 'keepFrom'>): void {
    const log = this.log;
    if (!log) return;
    // Taken now: every batch queued later is placed at or after the segment being appended to now,
    // and every batch queued before is indexed before the purge runs.
    const keepFrom = log.keepFrom;
    this.ordered = this.ordered.then(() => {
      this.writer?.post({ type: 'purge', ...req, keepFrom });
    });
  }

  /** Posts a message nobody waits for (purge); false when the writer is down. */
  post(msg: ToWriter): boolean {
    if (!this.writer) return false;
    this.writer.post(msg);
    return true;
  }

  /**
   * Drains the queue and ops through the writer, then stops it; `beforeWriterCloses` runs once
   * everything is written, just before. Anything that cannot be written is counted 'closed'.
   */
  async stop(beforeWriterCloses: () => void = () => {}): Promise<void> {
    this.stopping = true;
    if (!this.writer) {
      if (this.restartTimer) {
        clearTimeout(this.restartTimer);
        this.restartTimer = null;
        this.restarting = this.restart();
      }
      if (this.restarting) await this.restarting;
    }
    const w = this.writer;
    if (w) {
      await this.flush();
      if (this.writer === w) {
        beforeWriterCloses();
        this.closeSent = true;
        w.post({ type: 'close' });
        await w.exited;
      }
    }
    this.abandon();
    if (!this.closeSent) beforeWriterCloses();
  }

  private drop(reason: DropReason, count: number): false {
    this.notify((o) => o.dropped(reason, count));
    return false;
  }

  private notify(fn: (o: StoreObserver) => void): void {
    const o = this.opts.observer;
    if (!o) return;
    try {
      fn(o);
    } catch (err) {
      this.opts.logger.error({ err }, 'store observer threw; ignored');
    }
  }

  private pump(force: boolean): void {
    if (force) this.forceSend = true;
    const w = this.writer;
    while (
      w &&
      this.batches.length < MAX_BATCHES_IN_FLIGHT &&
      this.queue.length > 0 &&
      (this.forceSend || this.queue.length >= BATCH_MAX_RECORDS || this.queue.bytes >= BATCH_MAX_BYTES)
    ) {
      this.sendBatch();
    }
    if (this.queue.length === 0) this.forceSend = false;
  }

  /** Wakes producers waiting for room once the queue is down to a quarter of its bounds. */
  private wakeProducers(): void {
    if (this.uncongestedWaiters.length === 0) return;
    if (this.queue.length > this.opts.queueMaxRecords / 4 || this.queue.bytes > this.opts.queueMaxBytes / 4) return;
    const waiters = this.uncongestedWaiters;
    this.uncongestedWaiters = [];
    for (const fn of waiters) {
      try {
        fn();
      } catch (err) {
        this.opts.logger.error({ err }, 'a producer waiting for room in the store queue threw; ignored');
      }
    }
  }

  private sendBatch(): void {
    const records = this.queue.take(BATCH_MAX_RECORDS, BATCH_MAX_BYTES);
    this.wakeProducers();
    this.sent += records.length;
    const batch: Batch = { batchId: this.nextBatchId++, count: records.length, posted: false, end: this.sent, done: false };
    this.batches.push(batch);
    this.afterDurable(
      records,
      (refs) => {
        // Written (or not, below): the store was the bodies' last holder.
        for (const r of records) releaseFramed(r);
        const w = this.writer;
        if (!w) {
          batch.done = true;
          this.drop('writer_down', records.length);
          this.advance();
          return;
        }
        batch.posted = true;
        const packed = packBatch(records.map((f) => f.columns), refs);
        w.post({ type: 'batch', batchId: batch.batchId, batch: packed }, [packed.nums.buffer as ArrayBuffer]);
      },
      (err) => {
        // The segment write failed (a full disk): nothing of the batch is usable, and the log cut it off again.
        for (const r of records) releaseFramed(r);
        batch.done = true;
        this.drop('storage_error', records.length);
        this.noteFailure(failureOf(err), records.length);
        this.advance();
      },
    );
  }

  /**
   * Appends frames to the segment log, then runs `then` with their extents once they are on disk
   * (or `failed` with the error), in the order the calls were made.
   */
  private afterDurable(framed: readonly FramedRecord[], then: (refs: Extent[]) => void, failed: (err: unknown) => void): void {
    const log = this.log;
    const durable = framed.length === 0 || !log ? Promise.resolve<Extent[]>([]) : log.write(framed);
    const prev = this.ordered;
    this.ordered = durable.then(
      async (refs) => {
        await prev;
        then(refs);
      },
      async (err: unknown) => {
        await prev;
        failed(err);
      },
    );
  }

  private sendOp(w: WriterThread, op: Op): void {
    this.sentOps.set(op.msg.opId, op);
    w.post(op.msg);
  }

  private onMessage(msg: FromWriter): void {
    if (msg.type === 'batchDone') this.onBatchDone(msg);
    else if (msg.type === 'opDone') this.onOpDone(msg);
    else if (msg.type === 'ingestDone') this.onIngestDone(msg);
    else if (msg.type === 'reopenDone') this.onReopenDone(msg);
    else this.opts.onOtherMessage(msg);
  }

  private onBatchDone(msg: Extract<FromWriter, { type: 'batchDone' }>): void {
    const batch = this.batches.find((b) => b.batchId === msg.batchId);
    if (batch) batch.done = true;
    // Segments appended to open TCP sessions add bytes without adding records.
    if (msg.stored > 0 || msg.bytes > 0) this.notify((o) => o.stored(msg.stored, msg.bytes));
    if (msg.failed > 0) {
      this.drop('storage_error', msg.failed);
      this.noteFailure(msg.error, msg.failed);
    } else if (this.failingBurst > 0) {
      this.opts.logger.info({ path: this.opts.path, dropped: this.failingBurst }, 'store writes succeed again');
      this.failingBurst = 0;
    }
    this.advance();
  }

  /** Logged once per burst of failures, not once per batch: a full disk would otherwise flood the log. */
  private noteFailure(error: WriterFailure | null, count: number): void {
    if (this.failingBurst === 0) {
      this.opts.logger.error(
        { path: this.opts.path, code: error?.code, dropped: count },
        `store write failed (${error?.message ?? 'unknown error'}); records are dropped until writes succeed again`,
      );
    }
    this.failingBurst += count;
  }

  private onOpDone(msg: Extract<FromWriter, { type: 'opDone' }>): void {
    const op = this.sentOps.get(msg.opId);
    if (!op) return;
    this.sentOps.delete(msg.opId);
    if (!msg.error) op.resolve(msg.result);
    else op.reject(new StoreError('QP_ERR_STORE_WRITE', `store ${op.msg.type} failed: ${msg.error.message} (${msg.error.code})`));
  }

  private onIngestDone(msg: Extract<FromWriter, { type: 'ingestDone' }>): void {
    const pending = this.ingests.get(msg.ingestId);
    if (!pending) return;
    this.ingests.delete(msg.ingestId);
    if (msg.result) {
      const { stored, bytes } = msg.result;
      if (stored > 0) this.notify((o) => o.stored(stored, bytes));
      pending.resolve(msg.result);
    } else {
      const e = msg.error;
      pending.reject(new StoreError('QP_ERR_STORE_WRITE', `store ingest failed, nothing of the batch was stored: ${e?.message ?? 'unknown error'} (${e?.code ?? '?'})`));
    }
  }

  private onReopenDone(msg: Extract<FromWriter, { type: 'reopenDone' }>): void {
    const pending = this.reopens.get(msg.reopenId);
    if (!pending) return;
    this.reopens.delete(msg.reopenId);
    if (msg.outcome) pending.resolve(msg.outcome);
    else {
      const code = msg.error?.code === 'QP_ERR_STORE_REPLACED' ? 'QP_ERR_STORE_REPLACED' : 'QP_ERR_STORE_OPEN';
      pending.reject(new StoreError(code, `store ${this.opts.path} could not be reopened: ${msg.error?.message ?? 'unknown error'}`));
    }
  }

  /** Moves `settled` past every answered batch at the front, wakes flush waiters, sends more. */
  private advance(): void {
    while (this.batches[0]?.done) this.settled = this.batches.shift()!.end;
    while (this.waiters[0] && this.waiters[0].target <= this.settled) this.waiters.shift()!.resolve();
    this.pump(false);
  }

  private spawn(): WriterThread {
    const w: WriterThread = new WriterThread(
      { path: this.opts.path, synchronous: this.opts.synchronous, segmentsDir: this.opts.segmentsDir },
      this.opts.writerEntry,
      {
        message: (msg) => this.onMessage(msg),
        exit: (code, error) => {
          if (this.writer === w) this.onExit(code, error);
        },
      },
    );
    return w;
  }

  private onExit(code: number, error: Error | null): void {
    this.writer = null;
    // Batches still being appended are posted to the next writer once their frames are on disk.
    const lost = this.batches.filter((b) => b.posted && !b.done).reduce((n, b) => n + b.count, 0);
    for (const b of this.batches) if (b.posted) b.done = true;
    if (lost > 0) this.drop('writer_down', lost);
    for (const pending of [...this.ingests.values(), ...this.reopens.values()]) pending.reject(writerDown());
    this.ingests.clear();
    this.reopens.clear();
    // Sent ops go back in front, in their order: delete and setMeta are safe to repeat.
    this.unsentOps.unshift(...[...this.sentOps.values()].sort((a, b) => a.msg.opId - b.msg.opId));
    this.sentOps.clear();
    if (!this.closeSent) {
      this.opts.logger.error({ err: error, code, lost, path: this.opts.path }, 'store writer thread died; restarting it');
      if (!this.stopping) this.scheduleRestart();
      else this.abandon();
    }
    this.advance();
  }

  private scheduleRestart(): void {
    const delay = this.restartDelay;
    this.restartDelay = Math.min(delay * 2, RESTART_MAX_MS);
    this.restartTimer = setTimeout(() => {
      this.restartTimer = null;
      this.restarting = this.restart();
    }, delay);
  }

  private async restart(): Promise<void> {
    let w: WriterThread | null = null;
    try {
      w = this.spawn();
      await w.ready;
    } catch (err) {
      if (w) await w.exited;
      this.opts.logger.error({ err, retryInMs: this.restartDelay }, 'store writer thread could not be restarted');
      if (!this.stopping) this.scheduleRestart();
      return;
    } finally {
      this.restarting = null;
    }
    this.writer = w;
    this.restartDelay = RESTART_MIN_MS;
    this.opts.logger.info({ path: this.opts.path }, 'store writer thread restarted');
    for (const op of this.unsentOps.splice(0)) this.sendOp(w, op);
    this.pump(false);
  }

  /** After the writer is gone for good: whatever is left is dropped as 'closed' and waiters are released. */
  private abandon(): void {
    const left = this.queue.clear();
    if (left > 0) this.drop('closed', left);
    this.wakeProducers();
    this.sent = this.settled = this.accepted;
    this.batches.length = 0;
    for (const op of [...this.unsentOps.splice(0), ...this.sentOps.values()]) op.reject(closedError());
    this.sentOps.clear();
    for (const pending of [...this.ingests.values(), ...this.reopens.values()]) pending.reject(closedError());
    this.ingests.clear();
    this.reopens.clear();
    while (this.waiters.length > 0) this.waiters.shift()!.resolve();
  }
}
