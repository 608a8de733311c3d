import { performance } from 'node:perf_hooks';
import { errorMessage } from '../../core/errors.js';
import { BatchReader, entryHead, type BatchLimits, type OutBatch } from './batch-reader.js';
import { CONTENT_ENCODING, compress, type Compression } from '../compression.js';
import { SyncFailure, classifyError, classifyStatus } from './failure.js';
import { settleWithin } from '../link/deadline.js';
import type { FeedPoller } from '../link/feed-poller.js';
import { SenderCore, type SendingLinkOptions } from '../link/sender-core.js';
import { SendingLink } from '../link/sync-link.js';
import { PeerConnection, peerLabel, type PeerEndpoint, type PeerTimers } from './connection.js';
import { BATCH_CONTENT_TYPE, HEADER_BATCH_FORMAT, HEADER_NODE, HEADER_RAW_BYTES, HEADER_RECORDS, SYNC_PATH, type BatchAck } from './protocol.js';
import { SendWindow, type Settled, type Slot } from './send-window.js';
import { SENDER_CURSOR } from './sender-state.js';
import { TcpWatermarks } from '../tcp-watermarks.js';
import { WIRE_FORMAT, encodeBatch, type WireFormat } from '../wire-format.js';
import type { SenderStatus } from '../../core/documents.js';
import { senderStatus } from './sender-status.js';

export interface SyncSenderOptions extends SendingLinkOptions {
  peer: PeerEndpoint & { token?: string };
  timers: PeerTimers;
  batch: BatchLimits;
  compression: Compression;
  /** Batches in flight at once (one HTTP/2 stream each). */
  streams: number;
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
export class SyncSender extends SendingLink<SenderStatus> {
  private readonly label: string;
  protected readonly core: SenderCore<'refused_records', 'peer'>;
  private readonly window = new SendWindow();
  private readonly watermarks = new TcpWatermarks();
  private readonly feed: FeedPoller<OutBatch>;
  private readonly inFlight = new Set<Promise<void>>();
  private conn: PeerConnection | null = null;
  private connecting = false;
  /** Bumped on every failure: answers to batches of an older epoch are ignored. */
  private epoch = 0;
  private retryTimer: NodeJS.Timeout | null = null;
  private started = false;
  private lastFailureReason: string | null = null;
  private nextRetryAt: string | null = null;
  /** Batches acknowledged since start. */
  private batches = 0;
  /** The batch format of the current connection: 1 until the receiver announces a newer one (protocol.ts). */
  private format: WireFormat = 1;
  /** The format last logged, so a mixed-version pair is said once, not per reconnect. */
  private loggedFormat: WireFormat | null = null;

  constructor(private readonly opts: SyncSenderOptions) {
    super();
    this.label = peerLabel(opts.peer);
    this.core = new SenderCore({
      ...opts,
      cursor: SENDER_CURSOR,
      target: this.label,
      logPrefix: 'sync',
      connected: () => this.connected,
      oldestInFlight: () => {
        const oldest = this.window.oldest();
        return oldest ? entryHead(oldest) : undefined;
      },
    });
    // The feed is read once per batch acknowledged, not per record: no need to hold off a dry feed.
    this.feed = this.core.feed(new BatchReader(opts.store, this.watermarks, opts.batch), () => this.pump(), 0);
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
      { peer: this.label, tls: this.opts.peer.tls, cursor: this.core.cursor.cursor, compression: this.opts.compression },
      'sync sender starting',
    );
    this.connect();
    return Promise.resolve();
  }

  get connected(): boolean {
    return this.conn?.alive ?? false;
  }

  status(): SenderStatus {
    const connected = this.connected;
    return senderStatus(
      this.core.status({ stopping: this.stopping, connected, retrying: this.retryTimer !== null, nextRetryAt: this.nextRetryAt }),
      {
        peer: this.label,
        tls: this.opts.peer.tls,
        mutualTls: Boolean(this.opts.peer.cert),
        compression: this.opts.compression,
        window: this.window,
        batches: this.batches,
        sent: this.core.sent,
        refused: this.core.cursor.figures.refused_records,
      },
    );
  }

  private connect(): void {
    if (this.stopping || this.conn || this.connecting) return;
    this.retryTimer = null;
    this.nextRetryAt = null;
    this.connecting = true;
    PeerConnection.open(this.opts.peer, this.opts.timers).then(
      (conn) => {
        this.connecting = false;
        if (this.stopping) {
          conn.close();
          return;
        }
        this.conn = conn;
        this.format = 1;
        const linkFailed = this.lastFailureReason !== null && LINK_FAILURES.has(this.lastFailureReason);
        if (linkFailed) this.core.backoff.reset();
        // Announced when the link itself was down (or never up): after a refusal such as a wrong
        // token the link was fine, and the refusal stays the news until a batch gets through.
        if (this.core.log.said === null || linkFailed) this.core.log.up({ peer: this.label, cursor: this.core.cursor.cursor }, 'sync connected to the peer');
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
        else {
          this.useFormat(answer.status === 204 ? Number(answer.headers[HEADER_BATCH_FORMAT]) : 1);
          this.pump();
        }
      },
      (err: unknown) => {
        if (epoch === this.epoch && this.conn === conn) this.fail(classifyError(err, this.label));
      },
    );
  }

  /** Sends the newest batch format both sides read; an older receiver gets format 1, and the log says so once. */
  private useFormat(announced: number): void {
    this.format = Number.isInteger(announced) && announced >= WIRE_FORMAT ? WIRE_FORMAT : 1;
    if (this.format === this.loggedFormat) return;
    this.loggedFormat = this.format;
    if (this.format < WIRE_FORMAT) {
      this.opts.logger.info(
        { peer: this.label, format: this.format },
        `the peer does not read sync batch format ${WIRE_FORMAT} (an older QProxy); sending format 1, which costs more CPU per record on both nodes — upgrade the Playback node`,
      );
    }
  }

  /** Fills the window: queued slots first, then new batches from the feed, up to `streams` in flight. */
  private pump(): void {
    const conn = this.conn;
    if (this.stopping || !conn) return;
    while (this.window.sending < this.opts.streams) {
      let slot = this.window.nextToSend();
      if (!slot) {
        if (this.window.size >= this.opts.streams) break;
        const batch = this.feed.next();
        if (!batch) break;
        slot = this.window.add(batch);
        if (this.window.nextToSend() !== slot) break;
      }
      this.dispatch(conn, slot);
    }
    if (this.window.size === 0) this.feed.schedule();
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
    const raw = encodeBatch(this.opts.nodeId, slot.batch.entries, this.format);
    // A full batch means a backlog: compress for CPU, not for ratio (compression.ts).
    const body = await compress(raw, this.opts.compression, slot.batch.full === true);
    const t0 = performance.now();
    const answer = await conn.request(
      {
        ':path': SYNC_PATH,
        'content-type': BATCH_CONTENT_TYPE,
        'content-encoding': CONTENT_ENCODING[this.opts.compression],
        'content-length': body.byteLength,
        [HEADER_NODE]: this.opts.nodeId,
        [HEADER_RECORDS]: slot.batch.entries.length,
        [HEADER_RAW_BYTES]: raw.byteLength,
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
    const entries = slot.batch.entries;
    for (const e of entries) {
      if ('record' in e && e.record.protocol === 'tcp') {
        this.watermarks.ack(e.record.id, (e.chunkBase ?? 0) + e.record.chunks.length, e.complete && e.record.state === 'closed');
      }
    }
    this.batches++;
    this.core.cursor.add('sent_records', entries.length);
    this.core.cursor.add('sent_bytes', a.raw);
    this.core.acked(
      entries.map(entryHead),
      a,
    );
    this.core.log.up({ peer: this.label, after: this.core.log.said }, 'sync batches are acknowledged again');
    this.lastFailureReason = null;
    this.settled(this.window.ack(slot));
  }

  private onSendFailure(slot: Slot, f: SyncFailure): void {
    if (f.reason !== 'rejected') {
      this.fail(f);
      return;
    }
    this.core.observe((o) => o.sendFailed('rejected'));
    if (slot.batch.entries.length > 1) {
      // Find the offending entry by halving: every other entry still gets through.
      this.window.split(slot);
      this.pump();
      return;
    }
    const e = slot.batch.entries[0]!;
    const head = entryHead(e);
    this.opts.logger.error(
      { peer: this.label, id: head.id, seq: e.seq, protocol: head.protocol },
      `the peer refused a record for good; it is skipped and counted (refused_by_peer): ${f.message}`,
    );
    this.core.cursor.add('refused_records', 1);
    this.core.observe((o) => o.recordsRefused(1));
    this.settled(this.window.refuse(slot));
  }

  private settled(s: Settled): void {
    if (s.cursor !== null) this.core.cursor.advance(s.cursor);
    this.core.cursor.persist();
    this.pump();
  }

  /** Drops the connection and everything unacknowledged, then reconnects after a back-off. */
  private fail(f: SyncFailure): void {
    this.epoch++;
    this.window.reset();
    this.feed.reset(this.core.cursor.cursor);
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
    this.core.failed(f);
    this.core.log.failed(`${f.reason}:${f.code}`, f, { peer: this.label, reason: f.reason, code: f.code });
  }

  private scheduleRetry(f: SyncFailure): void {
    if (this.stopping || this.retryTimer) return;
    const delay = this.core.backoff.after(f);
    this.nextRetryAt = new Date(Date.now() + delay).toISOString();
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }

  /**
   * Stops sending: batches in flight get up to `deadlineMs` to be acknowledged, the cursor is saved,
   * the connection closed. Whatever is unacknowledged is sent after the next start.
   */
  protected async shutdown(deadlineMs: number): Promise<void> {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.feed.stop();
    await settleWithin(deadlineMs, this.inFlight);
    this.epoch++;
    this.core.cursor.persist();
    await this.core.cursor.flush();
    const conn = this.conn;
    this.conn = null;
    // GOAWAY when nothing is pending; a batch still unanswered after the deadline is cut off.
    if (this.inFlight.size === 0) conn?.close();
    else conn?.kill(new SyncFailure('reset', 'QP_ERR_SYNC_RESET', 'the sender is shutting down'));
    this.opts.logger.info({ peer: this.label, cursor: this.core.cursor.cursor }, 'sync sender stopped');
  }
}
