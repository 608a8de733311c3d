import { performance } from 'node:perf_hooks';
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { errorMessage } from '../../core/errors.js';
import type { Compression } from '../compression.js';
import { settleWithin } from '../link/deadline.js';
import type { FeedPoller } from '../link/feed-poller.js';
import { SenderCore, type SendingLinkOptions, type SentCounter } from '../link/sender-core.js';
import { SendingLink } from '../link/sync-link.js';
import { TcpWatermarks } from '../tcp-watermarks.js';
import { compressRecord, encodeManifest, encodePlain, recordHeaders, splitParts, worthCompressing, type EncodedRecord } from './codec.js';
import { NatsLink, type NatsServerOptions } from './connection.js';
import { FeedReader, type OutMessage } from './feed-reader.js';
import { NatsError, classifyNatsError } from './nats-error.js';
import { pubAckOf } from './pub-ack.js';
import { checkPublishPermission } from './publish-check.js';
import { PERSIST_EVERY_MS, PUBLISHER_CURSOR } from './publisher-state.js';
import type { PublisherStatus } from '../../core/documents.js';
import { publisherStatus } from './publisher-status.js';
import { ReplyTimeoutError, ReplyTracker } from './reply-tracker.js';
import { ensureStream, type StreamPlan } from './stream-setup.js';
import type { Subjects } from './subjects.js';

export interface NatsPublisherOptions extends SendingLinkOptions {
  server: NatsServerOptions;
  stream: StreamPlan;
  subjects: Subjects;
  /** Publishes awaiting acknowledgement at once. */
  maxInFlight: number;
  publishTimeoutMs: number;
  compression: Compression;
  compressMinBytes: number;
}

/** Room left in a message for headers and protocol framing. */
const HEADROOM = 4096;
/**
 * Once the feed has nothing new, PubAcks look again at most this often (an idle window waits for
 * the poll timer). Looking on every PubAck, as one per record arrives, was a store query per record.
 */
const DRY_REREAD_MS = 10;

interface Slot {
  msg: OutMessage;
  acked: boolean;
}

interface Acked {
  raw: number;
  wire: number;
  seconds: number;
  duplicate: boolean;
  split: boolean;
}

/**
 * The Record node's side of NATS sync. It reads the store's feed after a durable cursor, publishes
 * each record as a JetStream message with its id as the message id (up to max_in_flight awaiting
 * their PubAck, through a ReplyTracker rather than one client request each), and moves the cursor
 * over the acknowledged prefix only. A failed publish drops everything unacknowledged and, after a
 * back-off with jitter, publishes again from the cursor: the stream's duplicate window drops what
 * it already holds, so nothing is lost and nothing is stored twice.
 */
export class NatsPublisher extends SendingLink<PublisherStatus> {
  private readonly link: NatsLink;
  protected readonly core: SenderCore<SentCounter, 'stream'>;
  private readonly watermarks = new TcpWatermarks();
  private readonly feed: FeedPoller<OutMessage>;
  /** Messages published and not yet part of the acknowledged prefix: window[head..] (a queue without shifts). */
  private window: Slot[] = [];
  private head = 0;
  /** Compressed or split records being published (the rare, promise-based path). */
  private slow = new Set<Promise<void>>();
  private tracker: ReplyTracker | null = null;
  private maxMessage = 0;
  private epoch = 0;
  private retryTimer: NodeJS.Timeout | null = null;
  /** Since start: messages acknowledged, of which the stream already held (duplicates) or that went in parts (split). */
  private readonly counts = { messages: 0, duplicates: 0, split: 0 };

  constructor(private readonly opts: NatsPublisherOptions) {
    super();
    this.core = new SenderCore({
      ...opts,
      cursor: PUBLISHER_CURSOR,
      target: opts.stream.name,
      logPrefix: 'NATS sync',
      connected: () => this.link.connected,
    });
    this.feed = this.core.feed(new FeedReader(opts.store, this.watermarks), () => this.pump(), DRY_REREAD_MS);
    this.link = new NatsLink({
      server: opts.server,
      name: `qproxy-record-${opts.nodeId}`,
      backoffInitialMs: opts.backoffInitialMs,
      backoffMaxMs: opts.backoffMaxMs,
      logger: opts.logger,
      setup: (nc) => this.setup(nc),
      failed: (f) => this.noteFailure(f),
      resumed: () => this.pump(),
    });
  }

  /** Starts connecting and publishing; returns at once (the link comes up in the background). */
  start(): Promise<void> {
    this.opts.logger.info({ servers: this.link.label, stream: this.opts.stream.name, cursor: this.core.cursor.cursor }, 'NATS sync publisher starting');
    this.link.start();
    return Promise.resolve();
  }

  get connected(): boolean {
    return this.link.connected;
  }

  status(): PublisherStatus {
    const connected = this.link.connected;
    const retrying = Boolean(this.link.nextRetryAt) || this.retryTimer !== null;
    return publisherStatus(this.core.status({ stopping: this.stopping, connected, retrying, nextRetryAt: this.link.nextRetryAt }), {
      servers: this.link.label,
      server: this.link.server,
      stream: this.opts.stream.name,
      prefix: this.opts.subjects.prefix,
      inFlight: this.window.length - this.head,
      sent: this.core.sent,
      counts: this.counts,
    });
  }

  private async setup(nc: NatsConnection): Promise<void> {
    const facts = await ensureStream(await jetstreamManager(nc), this.opts.stream, 'publisher', this.opts.logger);
    const s = this.opts.subjects;
    await checkPublishPermission(nc, [s.record(this.opts.nodeId, 'http'), s.record(this.opts.nodeId, 'tcp'), s.part('link-check', 0)], this.opts.publishTimeoutMs, this.link.label);
    const payload = nc.info?.max_payload ?? 1024 * 1024;
    const limit = facts.maxMsgSize > 0 ? Math.min(payload, facts.maxMsgSize) : payload;
    this.maxMessage = Math.max(1024, limit - HEADROOM);
    // The epoch moves first, so the old tracker's failures (closed below) are ignored.
    this.restartFromCursor();
    this.tracker?.close();
    this.tracker = new ReplyTracker(nc, this.opts.publishTimeoutMs);
    this.core.log.up({ server: nc.getServer(), stream: this.opts.stream.name, max_message: limit, cursor: this.core.cursor.cursor }, 'NATS sync publisher connected');
    // The link marks itself up only after setup returns: pump on the next turn.
    setImmediate(() => this.pump());
  }

  /** Fills the window up to max_in_flight from the feed. */
  private pump(): void {
    const tracker = this.tracker;
    if (this.stopping || !tracker || !this.link.connected || this.retryTimer) return;
    while (this.window.length - this.head < this.opts.maxInFlight) {
      const msg = this.feed.next();
      if (!msg) break;
      const slot: Slot = { msg, acked: false };
      this.window.push(slot);
      this.dispatch(tracker, slot);
    }
    // A dry feed is looked at again by the poll timer, whatever PubAcks still arrive.
    if (this.feed.dry || this.window.length === this.head) this.feed.schedule();
  }

  /**
   * Publishes one record. The common case (small, uncompressed, one message) is a synchronous
   * publish whose PubAck comes back through the tracker's callback, so PubAcks that arrive in one
   * socket read refill the window in one turn and those publishes leave in one socket write.
   */
  private dispatch(tracker: ReplyTracker, slot: Slot): void {
    const epoch = this.epoch;
    const m = slot.msg;
    const plain = encodePlain(this.opts.nodeId, m.entry);
    if (!worthCompressing(plain, this.opts.compression, this.opts.compressMinBytes) && plain.data.byteLength <= this.maxMessage) {
      const subject = this.opts.subjects.record(m.entry.record.node_id, m.entry.record.protocol);
      const t0 = performance.now();
      tracker.send(subject, plain.data, recordHeaders(m.msgId), (err, reply) => {
        if (epoch !== this.epoch) return;
        let duplicate: boolean;
        try {
          if (err) throw err;
          duplicate = pubAckOf(reply!, subject).duplicate;
        } catch (failure) {
          this.onFailure(failure);
          return;
        }
        this.onAck(slot, { raw: plain.raw, wire: plain.data.byteLength, seconds: (performance.now() - t0) / 1000, duplicate, split: false });
      });
      return;
    }
    const task = this.publishSlow(tracker, m, plain).then(
      (a) => {
        if (epoch === this.epoch) this.onAck(slot, a);
      },
      (err: unknown) => {
        if (epoch === this.epoch) this.onFailure(err);
      },
    );
    this.slow.add(task);
    void task.finally(() => this.slow.delete(task));
  }

  /** A record to compress, or too large for one message: the parts first (not matched by consumers), then the manifest. */
  private async publishSlow(tracker: ReplyTracker, m: OutMessage, plain: EncodedRecord): Promise<Acked> {
    const r = m.entry.record;
    const subject = this.opts.subjects.record(r.node_id, r.protocol);
    const enc = worthCompressing(plain, this.opts.compression, this.opts.compressMinBytes) ? await compressRecord(plain, this.opts.compression) : plain;
    const t0 = performance.now();
    const publish = async (subj: string, data: Uint8Array, headers: ReturnType<typeof recordHeaders>): Promise<boolean> =>
      pubAckOf(await tracker.request(subj, data, headers), subj).duplicate;
    if (enc.data.byteLength <= this.maxMessage) {
      const duplicate = await publish(subject, enc.data, recordHeaders(m.msgId, enc.encoding));
      return { raw: enc.raw, wire: enc.data.byteLength, seconds: (performance.now() - t0) / 1000, duplicate, split: false };
    }
    const partSubject = this.opts.subjects.part(m.msgId, 0).replace(/\.0$/, '');
    const { manifest, parts } = splitParts(enc.data, this.maxMessage, partSubject);
    await Promise.all(parts.map((p, n) => publish(`${partSubject}.${n}`, p, recordHeaders(`${m.msgId}:p${n}`))));
    const duplicate = await publish(subject, encodeManifest(manifest), recordHeaders(m.msgId, enc.encoding, true));
    return { raw: enc.raw, wire: enc.data.byteLength, seconds: (performance.now() - t0) / 1000, duplicate, split: true };
  }

  private onAck(slot: Slot, a: Acked): void {
    slot.acked = true;
    const m = slot.msg;
    if (m.tcp) this.watermarks.ack(m.tcp.id, m.tcp.end, m.tcp.closed);
    this.counts.messages++;
    if (a.duplicate) this.counts.duplicates++;
    if (a.split) this.counts.split++;
    this.core.acked([m.entry.record], a);
    this.core.log.up({ stream: this.opts.stream.name, after: this.core.log.said }, 'NATS sync publishes are acknowledged again');
    let cursor: number | null = null;
    let prefix = 0;
    while (this.window[this.head]?.acked) {
      cursor = this.window[this.head]!.msg.seq;
      prefix++;
      this.head++;
    }
    // Compact once the acknowledged prefix is most of the array (amortised O(1) per message).
    if (this.head > 0 && this.head * 2 >= this.window.length) {
      this.window = this.window.slice(this.head);
      this.head = 0;
    }
    this.core.cursor.add('sent_records', prefix);
    this.core.cursor.add('sent_bytes', a.raw);
    if (cursor !== null && this.core.cursor.advance(cursor)) this.core.cursor.persistSoon(PERSIST_EVERY_MS);
    this.pump();
  }

  /** Drops everything unacknowledged and publishes again from the cursor after a back-off. */
  private onFailure(err: unknown): void {
    const f = err instanceof NatsError ? err : publishFailure(err, this.link.label);
    this.noteFailure(f);
    this.restartFromCursor();
    if (this.stopping) return;
    // No responders: the stream is gone (a server restarted without its store); set it up again.
    if (/no responders|stream not found/i.test(errorMessage(err))) {
      this.link.restart(f);
      return;
    }
    const delay = this.core.backoff.after(f);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.pump();
    }, delay);
  }

  private restartFromCursor(): void {
    this.epoch++;
    this.window = [];
    this.head = 0;
    this.feed.reset(this.core.cursor.cursor);
  }

  /** Status and metrics get every failure; the log gets one line per change of reason. */
  private noteFailure(f: NatsError): void {
    this.core.failed(f);
    if (!this.stopping) this.core.log.failed(f.code, f, { servers: this.link.label, stream: this.opts.stream.name, code: f.code });
  }

  /** Publishes in flight get up to `deadlineMs`; the cursor is saved and the connection drained. */
  protected async shutdown(deadlineMs: number): Promise<void> {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.feed.stop();
    await this.link.close(async () => {
      const started = Date.now();
      await this.tracker?.idle(deadlineMs);
      await settleWithin(deadlineMs - (Date.now() - started), this.slow);
      this.epoch++;
      this.tracker?.close();
      this.core.cursor.persist();
      await this.core.cursor.flush();
    });
    this.opts.logger.info({ stream: this.opts.stream.name, cursor: this.core.cursor.cursor }, 'NATS sync publisher stopped');
  }
}

function publishFailure(err: unknown, servers: string): NatsError {
  if (err instanceof ReplyTimeoutError) {
    return new NatsError('QP_ERR_NATS_PUBLISH', `a publish to ${servers} was not acknowledged within ${err.timeoutMs} ms (nats.publish_timeout); publishing again from the cursor after a back-off`, { cause: err });
  }
  const f = classifyNatsError(err, servers);
  if (f.operatorFix) return f;
  return new NatsError('QP_ERR_NATS_PUBLISH', `a publish to ${servers} was not acknowledged (${errorMessage(err)}); publishing again from the cursor after a back-off`, { cause: err });
}
