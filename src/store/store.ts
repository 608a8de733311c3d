import { mkdir } from 'node:fs/promises';
import { dirname, isAbsolute } from 'node:path';
import { StoreError, errorMessage } from '../core/errors.js';
import type { QRecord } from '../recording/model.js';
import type { RecordSink } from '../recording/sink.js';
import { FILE_CHECK_INTERVAL_MS, FileGuard } from './file-guard.js';
import { PayloadReader } from './payload-reader.js';
import type { ReceivedHttp } from './record-frames.js';
import type { FeedItem, StoredFeedItem } from './feed-item.js';
import { StoreReader, type DamagedRecord, type TcpFrom } from './reader.js';
import { SegmentLog } from './segment-log.js';
import type { LazyHttpRecord } from './stored-body.js';
import type { TailReport } from './segment-tail.js';
import { PURGED_UNSENT_META, RESERVED_META_KEYS, metaCount, type IngestTally } from './meta-keys.js';
import { SCHEMA_VERSION } from './schema.js';
import type { IngestChain, ListQuery, ListResult, StoreHealth, StoreLogger, StoreOptions, StoreStats } from './types.js';
import { WritePipeline, closedError } from './write-pipeline.js';
import type { FromWriter, IngestResult } from './writer-protocol.js';

const silent: StoreLogger = { warn() {}, error() {}, info() {} };

/** Default size at which payload segments roll. */
export const SEGMENT_BYTES = 64 * 1024 * 1024;
/** Damaged record ids remembered so each is logged once; beyond this they are only counted. */
const DAMAGED_LOGGED_MAX = 1000;

/** `<storage.path>.segments`: where the payload segments of the store at `path` live. */
export function segmentsDir(path: string): string {
  return `${path}.segments`;
}

function checkOptions(opts: StoreOptions): void {
  const bad = (what: string): never => {
    throw new StoreError('QP_ERR_STORE_OPEN', `cannot open store ${opts.path}: ${what}`);
  };
  if (!isAbsolute(opts.path)) bad('the path must be absolute (resolve it against the config file first)');
  if (opts.segmentBytes !== undefined && (!Number.isSafeInteger(opts.segmentBytes) || opts.segmentBytes < 4096)) {
    bad(`segmentBytes must be an integer of at least 4096, got ${opts.segmentBytes}`);
  }
  for (const k of ['flushIntervalMs', 'purgeIntervalMs', 'queueMaxRecords', 'queueMaxBytes'] as const) {
    if (!Number.isFinite(opts[k]) || opts[k] <= 0) bad(`${k} must be a positive number, got ${opts[k]}`);
  }
  for (const k of ['retentionMs', 'maxSizeBytes'] as const) {
    if (!Number.isFinite(opts[k]) || opts[k] < 0) bad(`${k} must be 0 (off) or a positive number, got ${opts[k]}`);
  }
}

/**
 * The record store: payloads in append-only segment files (`<path>.segments/`), an SQLite index
 * written by one worker thread in group commits, read on the main thread through a read-only
 * connection and the PayloadReader.
 *
 * `offer()` frames the record (its JSON document and frame headers, see record-frames.ts) and
 * appends it to a bounded queue; every `flushIntervalMs` (or at 500 records) the queue
 * is appended to the segment log, synced, and its index rows go to the writer as one transaction,
 * so a crash loses at most one flush interval and no index row points at bytes not on disk.
 * Failures never reach the caller of `offer()`: they become counted drops (see {@link StoreObserver}).
 */
export class Store implements RecordSink {
  private readonly log: StoreLogger;
  private readonly pipeline: WritePipeline;
  private reader: StoreReader | null = null;
  private readonly payloads: PayloadReader;
  private segments: SegmentLog | null = null;
  private readonly guard: FileGuard;
  private readonly damagedLogged = new Set<string>();
  /** The last totals read, answered by stats() while the reader is being reopened. */
  private lastTotals = { count: 0, bytes: 0, lastSeq: 0 };
  private readonly timers: NodeJS.Timeout[] = [];
  private closing: Promise<void> | null = null;
  private closed = false;

  private constructor(private readonly opts: StoreOptions) {
    this.log = opts.logger ?? silent;
    this.payloads = new PayloadReader(segmentsDir(opts.path));
    this.pipeline = new WritePipeline({
      path: opts.path,
      synchronous: opts.synchronous,
      queueMaxRecords: opts.queueMaxRecords,
      queueMaxBytes: opts.queueMaxBytes,
      segmentsDir: segmentsDir(opts.path),
      writerEntry: opts.writerEntry,
      observer: opts.observer,
      logger: this.log,
      onOtherMessage: (msg) => this.onWriterNews(msg),
    });
    this.guard = new FileGuard({
      path: opts.path,
      intervalMs: opts.fileCheckIntervalMs ?? FILE_CHECK_INTERVAL_MS,
      runner: opts.fileCheckRunner,
      logger: this.log,
      observer: opts.observer,
      floor: () => this.opts.purgeFloor?.() ?? Number.POSITIVE_INFINITY,
      detachReader: () => {
        this.reader?.close();
        this.reader = null;
      },
      attachReader: () => {
        if (!this.closed) this.reader = new StoreReader(opts.path, this.payloads);
      },
      reopen: (lostFile, floor) => this.pipeline.reopen(lostFile, floor),
    });
  }

  /**
   * Opens or creates the store. Throws StoreError: `QP_ERR_STORE_OPEN` (path unusable),
   * `QP_ERR_STORE_CORRUPT` (not a QProxy store; the file is left untouched),
   * `QP_ERR_STORE_VERSION` (written by a newer QProxy).
   */
  static async open(opts: StoreOptions): Promise<Store> {
    checkOptions(opts);
    try {
      await mkdir(dirname(opts.path), { recursive: true });
    } catch (err) {
      throw new StoreError(
        'QP_ERR_STORE_OPEN',
        `cannot create the folder of store ${opts.path}: ${errorMessage(err)}; set storage.path to a writable location`,
        { cause: err },
      );
    }
    const store = new Store(opts);
    const opened = await store.pipeline.start();
    if (opened.upgradedFrom !== null) {
      store.log.info(
        { path: opts.path, from: opened.upgradedFrom, to: SCHEMA_VERSION, legacy_records: opened.legacyRecords },
        `store upgraded in place from schema ${opened.upgradedFrom} to ${SCHEMA_VERSION}: its ${opened.legacyRecords} records stay in SQLite and are read as before; new payloads go to segment files in ${segmentsDir(opts.path)}`,
      );
    }
    try {
      const reader = new StoreReader(opts.path, store.payloads);
      store.reader = reader;
      store.segments = SegmentLog.open({
        dir: segmentsDir(opts.path),
        rollBytes: opts.segmentBytes ?? SEGMENT_BYTES,
        logger: store.log,
        indexedEnd: (id) => reader.indexedEnd(id),
        maxReferenced: () => reader.maxReferencedSegment(),
        onTailCut: (id, report) => store.onTailCut(id, report),
      });
      store.pipeline.attachLog(store.segments);
    } catch (err) {
      store.reader?.close();
      await store.pipeline.stop();
      throw err instanceof StoreError
        ? err
        : new StoreError('QP_ERR_STORE_OPEN', `cannot open the segments of store ${opts.path}: ${errorMessage(err)}; check that ${segmentsDir(opts.path)} is writable`, { cause: err });
    }
    store.startTimers();
    await store.guard.start();
    return store;
  }

  /**
   * Queues a record for writing. Never blocks or throws; false when it was dropped (and counted).
   * `opts.keep` (a producer that holds its traffic back while {@link congested}): taken up to
   * twice the queue bounds rather than dropped.
   */
  offer(record: QRecord, opts?: { keep?: boolean }): boolean {
    return this.pipeline.offer(record, opts);
  }

  /** True while the write queue is past half of its bounds (see RecordSink.congested). */
  get congested(): boolean {
    return this.pipeline.congested;
  }

  /** Calls `fn` once the write queue is down to a quarter of its bounds. */
  whenUncongested(fn: () => void): void {
    this.pipeline.whenUncongested(fn);
  }

  /** Resolves when every record offered before the call is committed (or was counted as dropped). */
  flush(): Promise<void> {
    return this.pipeline.flush();
  }

  /**
   * One page of record summaries, newest first (`started_at` desc, then `seq` desc). Throws
   * QProxyError `QP_ERR_BAD_CURSOR` for a cursor this store did not issue and `QP_ERR_BAD_QUERY`
   * for a non-positive limit or a non-finite time bound.
   */
  list(q: ListQuery): ListResult {
    return this.read().listRecords(q);
  }

  /**
   * The full record with its bodies, or null if there is none with this id. Throws StoreError
   * `QP_ERR_STORE_DAMAGED` when its stored bytes fail their checksum (or their segment is gone).
   */
  get(id: string): QRecord | null {
    return this.read().get(id);
  }

  /**
   * An HTTP record whose bodies are read only when asked for, piece by piece (for exports of large
   * bodies), or null when there is none with this id or it is not kept that way (a TCP session, a
   * record of a v1 store): use {@link get} then. The bodies can still be read after the record is
   * deleted, until its segment is removed. Throws StoreError `QP_ERR_STORE_DAMAGED` like `get`.
   */
  getLazy(id: string): LazyHttpRecord | null {
    return this.read().getLazy(id);
  }

  /** Deletes a committed record; false if there was none with this id. */
  delete(id: string): Promise<boolean> {
    return this.pipeline.op({ type: 'delete', id });
  }

  /**
   * Cheap: totals are kept by triggers in the writing transactions, not summed per call. While the
   * store file is being reopened (see {@link health}) the last figures read are answered.
   */
  stats(): StoreStats {
    if (!this.closed && this.reader === null) return { ...this.lastTotals, queueDepth: this.pipeline.depth };
    this.lastTotals = this.read().totalsNow();
    return { ...this.lastTotals, queueDepth: this.pipeline.depth };
  }

  /** Whether the store writes to the file at its path; false (with the problem) after it was deleted or replaced. */
  health(): StoreHealth {
    return this.guard.health();
  }

  /**
   * The sync sender's feed: up to `limit` records whose feed position is above `seq`, ascending;
   * each comes with its feed position as `seq`. A record's feed position is its seq until a TCP
   * segment is appended to it, which moves it to a new, higher position (see schema.ts), so a
   * session that grows after it was read shows up again. `tcpFrom` (sync senders): per TCP session,
   * the first chunk needed; what lies wholly before it is not read and the item's `chunkBase` says
   * where its chunks start (a 1 GiB session appended to 4,096 times is then read once, not 4,096
   * times). Throws QProxyError `QP_ERR_BAD_QUERY` for a non-positive limit.
   */
  readAfter(seq: number, limit: number, tcpFrom?: TcpFrom): FeedItem[] {
    return this.read().readAfter(seq, limit, (d) => this.onDamaged(d), tcpFrom);
  }

  /**
   * The feed as {@link readAfter} reads it, but an HTTP record kept as one extent comes as it lies
   * in its segment (feed-item.ts `StoredHttp`: frames checked against their checksums, the document
   * not parsed): what the sync sender needs for batch format 2. Damaged records are reported and
   * left out as in readAfter.
   */
  readStoredAfter(seq: number, limit: number, tcpFrom?: TcpFrom): StoredFeedItem[] {
    return this.read().readStoredAfter(seq, limit, (d) => this.onDamaged(d), tcpFrom);
  }

  /**
   * Records (and their stored bytes) whose feed position is above `seq` — what the sync sender
   * with that cursor has still to send. A range count over an index: cache it, do not call per record.
   */
  countAfter(seq: number, upTo?: number): { count: number; bytes: number } {
    return this.read().countAfter(seq, upTo);
  }

  /**
   * Stores records received from a peer in ONE transaction and resolves only after it committed:
   * all of them or (rejecting) none. An id already present is skipped; a TCP segment whose session
   * is stored and open is appended to it. `opts.tally`: per origin node_id, the stored and skipped
   * counts are added to the meta keys the caller names (see {@link IngestTally}) in the same transaction.
   * `opts.meta`: key/values written (null deletes) in the same transaction. `opts.docs[i]`: the
   * document of HTTP record i exactly as the sending store wrote it, already validated against the
   * record by the caller; it is stored as is (see record-frames.ts). An item with a `head` is an
   * HTTP record received as its document, body bytes and head ({@link ReceivedHttp}): stored the
   * same way, without the record being built. Rejects with StoreError
   * `QP_ERR_STORE_WRITE`, `QP_ERR_STORE_WRITER_DOWN` (outcome unknown: the writer died) or
   * `QP_ERR_STORE_CLOSED`. `opts.chain`: see {@link IngestChain} — lets a receiver keep several
   * batches in flight, each prepared on top of the one before.
   */
  ingest(
    records: ReadonlyArray<QRecord | ReceivedHttp>,
    opts: { tally?: IngestTally; meta?: Record<string, string | null>; docs?: ReadonlyArray<Buffer | undefined>; chain?: IngestChain } = {},
  ): Promise<IngestResult> {
    const meta = Object.entries(opts.meta ?? {});
    for (const [key] of meta) {
      if (RESERVED_META_KEYS.has(key)) {
        if (opts.chain) this.pipeline.failLink(opts.chain);
        return Promise.reject(new StoreError('QP_ERR_STORE_META_KEY', `meta key "${key}" belongs to the store itself; choose another key`));
      }
    }
    return this.pipeline.ingest(records, opts.tally ?? null, meta, opts.docs, opts.chain);
  }

  getMeta(key: string): string | null {
    return this.read().getMeta(key);
  }

  /**
   * Records (and their bytes) the size limit purged, or a lost store file held, before sync had
   * sent them (feed positions above the purge floor), since the store was created.
   */
  purgedUnsent(): { records: number; bytes: number } {
    const reader = this.read();
    return { records: metaCount(reader.getMeta(PURGED_UNSENT_META.records)), bytes: metaCount(reader.getMeta(PURGED_UNSENT_META.bytes)) };
  }

  /** Durably sets a free key/value (sync cursors and the like); `schema_version` and `created_by` are refused. */
  async setMeta(key: string, value: string): Promise<void> {
    if (RESERVED_META_KEYS.has(key)) {
      throw new StoreError('QP_ERR_STORE_META_KEY', `meta key "${key}" belongs to the store itself; choose another key`);
    }
    await this.pipeline.op({ type: 'setMeta', key, value });
  }

  /** Writes out everything queued, stops the writer, closes the connections. Idempotent. */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private read(): StoreReader {
    if (this.closed) throw closedError();
    if (!this.reader) {
      throw new StoreError('QP_ERR_STORE_UNAVAILABLE', `store ${this.opts.path} is being reopened after its file was deleted or replaced; retry shortly`);
    }
    return this.reader;
  }

  private startTimers(): void {
    this.timers.push(setInterval(() => this.pipeline.tick(), this.opts.flushIntervalMs).unref());
    // Always: even with no age or size limit, segments whose records were all deleted go.
    this.requestPurge();
    this.timers.push(setInterval(() => this.requestPurge(), this.opts.purgeIntervalMs).unref());
  }

  private requestPurge(): void {
    let floor = Number.POSITIVE_INFINITY;
    if (this.opts.purgeFloor) {
      try {
        floor = this.opts.purgeFloor();
      } catch (err) {
        // Unknown floor: protect every record from retention this round rather than purge unsent ones.
        this.log.warn({ err }, 'store purgeFloor threw; retention skipped this round');
        floor = 0;
      }
    }
    const { retentionMs, maxSizeBytes } = this.opts;
    this.pipeline.purge({ now: Date.now(), retentionMs, maxSizeBytes, floor });
  }

  private onWriterNews(msg: FromWriter): void {
    if (msg.type === 'purged') {
      this.log.info({ reason: msg.reason, count: msg.count, bytes: msg.bytes }, 'store purged records');
      if (msg.unsent) {
        this.log.warn(
          { reason: msg.reason, count: msg.unsent.count, bytes: msg.unsent.bytes },
          'store size limit forced purging records that sync had not yet sent to the peer; they are lost for the peer (counted in the sync ledger as purged_unsent) — raise storage.max_size or check the sync link',
        );
      }
      const observer = this.opts.observer;
      try {
        observer?.purged(msg.reason, msg.count, msg.bytes);
      } catch (err) {
        this.log.error({ err }, 'store observer threw; ignored');
      }
    } else if (msg.type === 'segmentsRemoved') {
      for (const seg of msg.segments) this.payloads.forget(seg);
    } else if (msg.type === 'purgeFailed') {
      this.log.warn({ code: msg.error.code }, `store purge failed (${msg.error.message}); it runs again next interval`);
    }
  }

  private onTailCut(id: number, report: TailReport): void {
    this.log.warn(
      { segment: id, cut_bytes: report.cutBytes, complete_frames: report.completeFrames, torn: report.torn },
      `segment ${id}: cut ${report.cutBytes} bytes written after the last committed record (the process ended before their commit${report.torn ? '; the last frame was torn' : ''}); every indexed record is intact`,
    );
    this.notify((o) => o.tailCut?.(report.cutBytes, report.completeFrames));
  }

  /** A record sync or live replay could not read: logged once per record, counted always. */
  private onDamaged(d: DamagedRecord): void {
    if (!this.damagedLogged.has(d.id) && this.damagedLogged.size < DAMAGED_LOGGED_MAX) {
      this.damagedLogged.add(d.id);
      this.log.error({ id: d.id, code: d.error.code }, `${d.error.message}; it is skipped by sync and live replay`);
    }
    this.notify((o) => o.damaged?.(1));
  }

  private notify(fn: (o: NonNullable<StoreOptions['observer']>) => void): void {
    const o = this.opts.observer;
    if (!o) return;
    try {
      fn(o);
    } catch (err) {
      this.log.error({ err }, 'store observer threw; ignored');
    }
  }

  private async shutdown(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    await this.guard.stop();
    // The reader goes before the writer so that the writer's connection is the last one: SQLite
    // then checkpoints the WAL into the main file and removes it, leaving one self-contained file.
    await this.pipeline.stop(() => {
      this.closed = true;
      this.reader?.close();
    });
    await this.segments?.close();
    this.payloads.close();
  }
}
