import { performance } from 'node:perf_hooks';
import { errorMessage } from '../../core/errors.js';
import { Backoff } from '../backoff.js';
import { BatchReader, type BatchLimits } from './batch-reader.js';
import { CONTENT_ENCODING, compress, type Compression } from '../compression.js';
import { SyncFailure, classifyError, classifyStatus } from './failure.js';
import { lagSeconds, recordTime } from '../lag.js';
import { notifyObserver } from '../../core/observer-guard.js';
import type { SyncMetricsObserver } from '../observer.js';
import { PeerConnection, peerLabel, type PeerEndpoint, type PeerTimers } from './connection.js';
import { BATCH_CONTENT_TYPE, HEADER_NODE, HEADER_RECORDS, SYNC_PATH, type BatchAck } from './protocol.js';
import { SendWindow, type Settled, type Slot } from './send-window.js';
import { SenderState } from './sender-state.js';
import type { SenderStore, SyncLogger } from '../store-port.js';
import { TcpWatermarks } from '../tcp-watermarks.js';
import { encodeBatch } from '../wire-format.js';
import type { SenderStatus } from '../../core/documents.js';
import { senderGaugeFigures, senderStatus, type UpstreamFigures } from './sender-status.js';

export interface SyncSenderOptions {
  /** This node's id, sent with every batch. */
  nodeId: string;
  peer: PeerEndpoint & { token?: string };
  timers: PeerTimers;
  batch: BatchLimits;
  compression: Compression;
  /** Batches in flight at once (one HTTP/2 stream each). */
  streams: number;
  backoffInitialMs: number;
  backoffMaxMs: number;
  /** How often the store is checked for new records once everything is sent. */
  pollIntervalMs: number;
  store: SenderStore;
  observer?: SyncMetricsObserver;
  logger: SyncLogger;
  /** The recording side of the ledger (proxied, recorded, dropped since start). */
  upstream?: () => UpstreamFigures;
}

/** Failures that only mean the link went away: a reconnect that works resets the back-off. */
const LINK_FAILURES: ReadonlySet<string> = new Set(['connect', 'connect_timeout', 'ping_timeout', 'reset', 'ack_timeout']);

interface Answer {
  ack: BatchAck;
  raw: number;
  wire: number;
  seconds: number;
}

/**
 * The Record node's side of cross-zone sync. It reads the store's feed after a durable cursor,
 * sends size-bounded, compressed batches over one HTTP/2 connection (a few streams at once) and
 * moves the cursor over the acknowledged prefix only. Any failure of the link drops the
 * connection and everything unacknowledged; after a back-off with jitter it reconnects and reads
 * again from the cursor, so nothing is skipped and the receiver's idempotence absorbs repeats.
 */
export class SyncSender {
  private readonly label: string;
  private readonly state: SenderState;
  private readonly window = new SendWindow();
  private readonly watermarks = new TcpWatermarks();
  private readonly reader: BatchReader;
  private readonly backoff: Backoff;
  private readonly inFlight = new Set<Promise<void>>();
  private conn: PeerConnection | null = null;
  private connecting = false;
  /** Bumped on every failure: answers to batches of an older epoch are ignored. */
  private epoch = 0;
  private retryTimer: NodeJS.Timeout | null = null;
  private pollTimer: NodeJS.Timeout | null = null;
  private started = false;
  private stopping = false;
  private closing: Promise<void> | null = null;
  /** What the log last said about the link: 'up', or the failure it last reported. */
  private logged: string | null = null;
  private lastFailureReason: string | null = null;
  private readonly live = {
    lastSuccessAt: null as string | null,
    lastError: null as SenderStatus['last_error'],
    nextRetryAt: null as string | null,
    lastLagMs: null as number | null,
    batches: 0,
    records: 0,
    rawBytes: 0,
    wireBytes: 0,
  };

  constructor(private readonly opts: SyncSenderOptions) {
    this.label = peerLabel(opts.peer);
    this.state = new SenderState(opts.store, this.label, opts.logger);
    this.reader = new BatchReader(opts.store, this.watermarks, opts.batch);
    this.reader.reset(this.state.value.cursor);
    this.backoff = new Backoff(opts.backoffInitialMs, opts.backoffMaxMs);
    opts.observer?.setSenderGauges(() => ({
      connected: this.connected,
      cursor: this.state.durableCursor,
      ...senderGaugeFigures(opts.store, this.state.value.cursor, this.window),
    }));
  }

  /** Starts connecting and sending; returns at once (the link comes up in the background). */
  start(): Promise<void> {
    if (this.started) return Promise.resolve();
    this.started = true;
    const loopback = this.opts.peer.host === 'localhost' || this.opts.peer.host === '::1' || this.opts.peer.host.startsWith('127.');
    if (!this.opts.peer.tls && !loopback) {
      this.opts.logger.warn({ peer: this.label }, 'sync to a non-loopback peer without TLS: records cross the network in clear text; set peer.tls');
    }
    if (!this.opts.peer.token && !this.opts.peer.cert) {
      this.opts.logger.warn(
        { peer: this.label },
        'peer.token is not set (nor a client certificate): a Playback node with a sync.token refuses every batch — set peer.token or QPROXY_PEER_TOKEN; the link is checked as it comes up',
      );
    }
    this.opts.logger.info(
      { peer: this.label, tls: this.opts.peer.tls, cursor: this.state.value.cursor, compression: this.opts.compression },
      'sync sender starting',
    );
    this.connect();
    return Promise.resolve();
  }

  /**
   * Stops sending: batches in flight get up to `deadlineMs` to be acknowledged, the cursor is saved,
   * the connection closed. Whatever is unacknowledged is sent after the next start.
   */
  close(deadlineMs: number): Promise<void> {
    this.closing ??= this.shutdown(deadlineMs);
    return this.closing;
  }

  /** The in-memory cursor (acknowledged prefix). */
  get cursor(): number {
    return this.state.value.cursor;
  }

  /** The durable cursor: records above it are not yet sent for sure (the store's retention floor). */
  get durableCursor(): number {
    return this.state.durableCursor;
  }

  get connected(): boolean {
    return this.conn?.alive ?? false;
  }

  status(): SenderStatus {
    return senderStatus({
      label: this.label,
      opts: this.opts,
      connected: this.connected,
      stopping: this.stopping,
      retrying: this.retryTimer !== null,
      state: this.state.value,
      live: this.live,
      window: this.window,
      upstream: this.opts.upstream,
    });
  }

  private connect(): void {
    if (this.stopping || this.conn || this.connecting) return;
    this.retryTimer = null;
    this.live.nextRetryAt = null;
    this.connecting = true;
    PeerConnection.open(this.opts.peer, this.opts.timers).then(
      (conn) => {
        this.connecting = false;
        if (this.stopping) {
          conn.close();
          return;
        }
        this.conn = conn;
        if (this.lastFailureReason !== null && LINK_FAILURES.has(this.lastFailureReason)) this.backoff.reset();
        // Announced when the link itself was down (or never up): after a refusal such as a wrong
        // token the link was fine, and the refusal stays the news until a batch gets through.
        if (this.logged === null || (this.lastFailureReason !== null && LINK_FAILURES.has(this.lastFailureReason) && this.logged !== 'up')) {
          this.logged = 'up';
          this.opts.logger.info({ peer: this.label, cursor: this.state.value.cursor }, 'sync connected to the peer');
        }
        void conn.dead.then((f) => {
          if (this.conn === conn) this.fail(f);
        });
        this.checkAccess(conn);
      },
      (err: unknown) => {
        this.connecting = false;
        if (this.stopping) return;
        const f = classifyError(err, this.label);
        this.noteFailure(f);
        this.scheduleRetry(f);
      },
    );
  }

  /**
   * Shows the token (GET, no body) as soon as the link is up, then starts sending. The receiver closes a
   * connection that has not passed its access checks within sync.auth_timeout — an idle sender
   * has no batch to show — and a refused token is known now, not with the first batch.
   */
  private checkAccess(conn: PeerConnection): void {
    const epoch = this.epoch;
    const headers = {
      ':method': 'GET',
      ':path': SYNC_PATH,
      [HEADER_NODE]: this.opts.nodeId,
      ...(this.opts.peer.token && { authorization: `Bearer ${this.opts.peer.token}` }),
    };
    conn.request(headers, null).then(
      (answer) => {
        if (epoch !== this.epoch || this.conn !== conn) return;
        // 405: a receiver older than this check, which takes the connection without it.
        if (answer.status !== 204 && answer.status !== 405) this.fail(classifyStatus(answer.status, answer.body, this.label));
        else this.pump();
      },
      (err: unknown) => {
        if (epoch === this.epoch && this.conn === conn) this.fail(classifyError(err, this.label));
      },
    );
  }

  /** Fills the window: queued slots first, then new batches from the feed, up to `streams` in flight. */
  private pump(): void {
    const conn = this.conn;
    if (this.stopping || !conn) return;
    while (this.window.sending < this.opts.streams) {
      let slot = this.window.nextToSend();
      if (!slot) {
        if (this.window.size >= this.opts.streams) break;
        const batch = this.readBatch();
        if (!batch) break;
        slot = this.window.add(batch);
        if (this.window.nextToSend() !== slot) break;
      }
      this.dispatch(conn, slot);
    }
    if (this.window.size === 0) this.schedulePoll();
  }

  private readBatch(): ReturnType<BatchReader['next']> {
    try {
      return this.reader.next();
    } catch (err) {
      // The store is closing or broken: try again on the next poll rather than fail the link.
      this.opts.logger.warn({ err: errorMessage(err) }, 'sync could not read records from the store; retrying');
      return null;
    }
  }

  private schedulePoll(): void {
    if (this.pollTimer || this.stopping) return;
    this.pollTimer = setTimeout(() => {
      this.pollTimer = null;
      this.pump();
    }, this.opts.pollIntervalMs);
  }

  private dispatch(conn: PeerConnection, slot: Slot): void {
    slot.state = 'sending';
    const epoch = this.epoch;
    const task = this.send(conn, slot).then(
      (answer) => {
        if (epoch === this.epoch) this.onAck(slot, answer);
      },
      (err: unknown) => {
        if (epoch === this.epoch) this.onSendFailure(slot, classifyError(err, this.label));
      },
    );
    this.inFlight.add(task);
    void task.finally(() => this.inFlight.delete(task));
  }

  private async send(conn: PeerConnection, slot: Slot): Promise<Answer> {
    const raw = encodeBatch(this.opts.nodeId, slot.batch.entries);
    const body = await compress(raw, this.opts.compression);
    const t0 = performance.now();
    const answer = await conn.request(
      {
        ':path': SYNC_PATH,
        'content-type': BATCH_CONTENT_TYPE,
        'content-encoding': CONTENT_ENCODING[this.opts.compression],
        'content-length': body.byteLength,
        [HEADER_NODE]: this.opts.nodeId,
        [HEADER_RECORDS]: slot.batch.entries.length,
        ...(this.opts.peer.token && { authorization: `Bearer ${this.opts.peer.token}` }),
      },
      body,
    );
    if (answer.status !== 200) throw classifyStatus(answer.status, answer.body, this.label);
    let ack: BatchAck;
    try {
      ack = JSON.parse(answer.body.toString('utf8')) as BatchAck;
      if (typeof ack.stored !== 'number' || typeof ack.skipped !== 'number') throw new Error('missing stored/skipped');
    } catch (err) {
      throw new SyncFailure('peer_error', 'QP_ERR_SYNC_PEER_ERROR', `the peer ${this.label} answered 200 without a valid acknowledgement (${errorMessage(err)})`);
    }
    return { ack, raw: raw.byteLength, wire: body.byteLength, seconds: (performance.now() - t0) / 1000 };
  }

  private onAck(slot: Slot, a: Answer): void {
    const now = Date.now();
    const entries = slot.batch.entries;
    for (const e of entries) {
      if (e.record.protocol === 'tcp') {
        this.watermarks.ack(e.record.id, (e.chunkBase ?? 0) + e.record.chunks.length, e.complete && e.record.state === 'closed');
      }
    }
    const lags = lagSeconds(
      entries.map((e) => e.record),
      now,
    );
    const newest = entries.reduce((t, e) => Math.max(t, recordTime(e.record)), 0);
    this.live.lastLagMs = Math.max(0, now - newest);
    this.live.batches++;
    this.live.records += entries.length;
    this.live.rawBytes += a.raw;
    this.live.wireBytes += a.wire;
    this.live.lastSuccessAt = new Date(now).toISOString();
    this.state.value.sent_records += entries.length;
    this.state.value.sent_bytes += a.raw;
    this.observe((o) => o.batchAcked({ records: entries.length, rawBytes: a.raw, wireBytes: a.wire, seconds: a.seconds, lagSeconds: lags }));
    this.backoff.reset();
    if (this.logged !== 'up') {
      this.opts.logger.info({ peer: this.label, after: this.logged }, 'sync batches are acknowledged again');
      this.logged = 'up';
    }
    this.lastFailureReason = null;
    this.settled(this.window.ack(slot));
  }

  private onSendFailure(slot: Slot, f: SyncFailure): void {
    if (f.reason !== 'rejected') {
      this.fail(f);
      return;
    }
    this.observe((o) => o.sendFailed('rejected'));
    if (slot.batch.entries.length > 1) {
      // Find the offending entry by halving: every other entry still gets through.
      this.window.split(slot);
      this.pump();
      return;
    }
    const e = slot.batch.entries[0]!;
    this.opts.logger.error(
      { peer: this.label, id: e.record.id, seq: e.seq, protocol: e.record.protocol },
      `the peer refused a record for good; it is skipped and counted (refused_by_peer): ${f.message}`,
    );
    this.state.value.refused_records++;
    this.observe((o) => o.recordsRefused(1));
    this.settled(this.window.refuse(slot));
  }

  private settled(s: Settled): void {
    if (s.cursor !== null && s.cursor > this.state.value.cursor) this.state.value.cursor = s.cursor;
    this.state.persist();
    this.pump();
  }

  /** Drops the connection and everything unacknowledged, then reconnects after a back-off. */
  private fail(f: SyncFailure): void {
    this.epoch++;
    this.window.reset();
    this.reader.reset(this.state.value.cursor);
    const conn = this.conn;
    this.conn = null;
    conn?.kill(f);
    if (this.stopping) return;
    this.noteFailure(f);
    this.scheduleRetry(f);
  }

  /** Status and metrics get every failure; the log gets one line per change of reason, not one per retry. */
  private noteFailure(f: SyncFailure): void {
    this.lastFailureReason = f.reason;
    this.live.lastError = { code: f.code, reason: f.reason, message: f.message, at: new Date().toISOString(), attempts: this.backoff.attempts + 1 };
    this.observe((o) => o.sendFailed(f.reason));
    const key = `${f.reason}:${f.code}`;
    if (this.logged === key) return;
    this.logged = key;
    const log = f.operatorFix ? this.opts.logger.error.bind(this.opts.logger) : this.opts.logger.warn.bind(this.opts.logger);
    log({ peer: this.label, reason: f.reason, code: f.code }, `sync: ${f.message}`);
  }

  private scheduleRetry(f: SyncFailure): void {
    if (this.stopping || this.retryTimer) return;
    const delay = f.operatorFix ? this.backoff.long() : this.backoff.next();
    this.live.nextRetryAt = new Date(Date.now() + delay).toISOString();
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }

  private observe(fn: (o: SyncMetricsObserver) => void): void {
    notifyObserver(this.opts.observer, this.opts.logger, 'sync metrics', fn);
  }

  private async shutdown(deadlineMs: number): Promise<void> {
    this.stopping = true;
    for (const t of [this.retryTimer, this.pollTimer]) if (t) clearTimeout(t);
    this.retryTimer = this.pollTimer = null;
    if (this.inFlight.size > 0) {
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<void>((resolve) => (timer = setTimeout(resolve, deadlineMs)));
      await Promise.race([Promise.allSettled([...this.inFlight]), deadline]);
      clearTimeout(timer);
    }
    this.epoch++;
    this.state.persist();
    await this.state.flush();
    const conn = this.conn;
    this.conn = null;
    // GOAWAY when nothing is pending; a batch still unanswered after the deadline is cut off.
    if (this.inFlight.size === 0) conn?.close();
    else conn?.kill(new SyncFailure('reset', 'QP_ERR_SYNC_RESET', 'the sender is shutting down'));
    this.opts.logger.info({ peer: this.label, cursor: this.state.value.cursor }, 'sync sender stopped');
  }
}
