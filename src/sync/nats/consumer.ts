import { jetstream, jetstreamManager, type ConsumerMessages, type JetStreamManager, type JsMsg } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { ConsumerStatus } from '../../core/documents.js';
import { errorMessage } from '../../core/errors.js';
import { Backoff } from '../backoff.js';
import { lagSeconds, recordTime } from '../lag.js';
import { settleWithin } from '../link/deadline.js';
import { LinkLog } from '../link/link-log.js';
import { LinkLifecycle } from '../link/sync-link.js';
import { notifyObserver } from '../../core/observer-guard.js';
import type { SyncMetricsObserver, SyncRejectReason } from '../observer.js';
import { ReceiverWriter } from '../receiver-writer.js';
import type { ReceiverStore, SyncLogger } from '../store-port.js';
import { SyncError } from '../sync-error.js';
import type { SyncEntry } from '../wire-format.js';
import { decodeManifest, decodePlainRecord, decodeRecord, encodingOf, isManifest, joinParts, type Manifest } from './codec.js';
import { NatsLink, type NatsServerOptions } from './connection.js';
import { NatsError } from './nats-error.js';
import { ensureConsumer, ensureStream, type StreamPlan } from './stream-setup.js';
import type { Subjects } from './subjects.js';
import { TcpGapGuard } from './tcp-gap-guard.js';
import { UpstreamWatch } from './upstream-watch.js';

export interface NatsConsumerOptions {
  nodeId: string;
  server: NatsServerOptions;
  stream: StreamPlan;
  subjects: Subjects;
  /** Durable consumer name: the node's own, or the group's (shared). */
  durable: string;
  group: string | null;
  /** Messages stored per batch. */
  batch: number;
  ackWaitMs: number;
  maxAckPending: number;
  backoffInitialMs: number;
  backoffMaxMs: number;
  store: ReceiverStore;
  observer?: SyncMetricsObserver;
  logger: SyncLogger;
}

/** A delivered message, decoded. */
interface Item {
  m: JsMsg;
  entry: SyncEntry;
  raw: number;
  wire: number;
}

/** An out-of-order TCP segment is held back at most this many deliveries before it is skipped. */
const GAP_DELIVERIES = 4;
/** A message from a newer QProxy is kept in the stream and offered again this often. */
const FORMAT_RETRY_MS = 60_000;

/**
 * The Playback node's side of NATS sync: a durable pull consumer. Messages are decoded and
 * validated like peer batches, stored in one transaction per pull batch (idempotent by record id),
 * and acknowledged only after the commit. With a backlog queued, the next batch is decoded while
 * the previous one commits. Redeliveries are skipped by the store, so they never add records nor live replays;
 * a message that is not a record is logged, counted and terminated. With a group, members share
 * the durable and JetStream splits the messages.
 */
export class NatsConsumer extends LinkLifecycle<void, ConsumerStatus> {
  private readonly link: NatsLink;
  private readonly writer: ReceiverWriter;
  private readonly gaps: TcpGapGuard;
  private readonly backoff: Backoff;
  private readonly upstream: UpstreamWatch;
  private messages: ConsumerMessages | null = null;
  private readonly queue: JsMsg[] = [];
  private draining: Promise<void> | null = null;
  /** The pull loop waits on this while the queue is full; the drain calls it when it takes a batch. */
  private room: (() => void) | null = null;
  /** The batch being stored and acknowledged (one at a time: the gap guard reads what the previous one committed). */
  private storing: Promise<void> = Promise.resolve();
  private running: Promise<void> | null = null;
  private jsm: JetStreamManager | null = null;
  private readonly log: LinkLog;
  private readonly warned = new Set<string>();
  private pendingCount: number | null = null;
  private lastLagMs: number | null = null;
  private lastSuccessAt: string | null = null;
  private lastError: ConsumerStatus['last_error'] = null;
  private readonly counts = { messages: 0, stored: 0, duplicates: 0, malformed: 0, gaps_held: 0, gaps_skipped: 0, redelivered: 0 };

  constructor(private readonly opts: NatsConsumerOptions) {
    super();
    this.writer = new ReceiverWriter(opts.store, opts.logger);
    this.gaps = new TcpGapGuard(opts.store);
    this.backoff = new Backoff(opts.backoffInitialMs, opts.backoffMaxMs);
    this.log = new LinkLog(opts.logger, 'NATS sync');
    this.upstream = new UpstreamWatch(opts.stream.name);
    this.link = new NatsLink({
      server: opts.server,
      name: `qproxy-playback-${opts.nodeId}`,
      backoffInitialMs: opts.backoffInitialMs,
      backoffMaxMs: opts.backoffMaxMs,
      logger: opts.logger,
      setup: (nc) => this.setup(nc),
      failed: (f) => this.noteFailure(f),
    });
    opts.observer?.setReceiverPeers(() => (this.link.connected ? 1 : 0));
    opts.observer?.setUpstream(() => this.upstream.current);
  }

  start(): Promise<void> {
    this.opts.logger.info(
      { servers: this.link.label, stream: this.opts.stream.name, durable: this.opts.durable, group: this.opts.group },
      'NATS sync consumer starting',
    );
    this.link.start();
    return Promise.resolve();
  }

  get connected(): boolean {
    return this.link.connected;
  }

  status(): ConsumerStatus {
    const connected = this.link.connected;
    return {
      role: 'receiver',
      backend: 'nats',
      servers: this.link.label,
      server: this.link.server,
      stream: this.opts.stream.name,
      durable: this.opts.durable,
      group: this.opts.group,
      state: this.stopping ? 'stopped' : connected ? 'connected' : this.link.nextRetryAt ? 'backoff' : 'connecting',
      connected,
      pending: { records: this.pendingCount },
      lag_ms: this.lastLagMs,
      upstream: this.upstream.current,
      last_success_at: this.lastSuccessAt,
      last_error: this.lastError,
      next_retry_at: this.link.nextRetryAt,
      received: { ...this.counts },
      ledger: this.writer.ledgerSnapshot(),
    };
  }

  private async setup(nc: NatsConnection): Promise<void> {
    const jsm = await jetstreamManager(nc);
    await ensureStream(jsm, this.opts.stream, 'consumer', this.opts.logger);
    await ensureConsumer(
      jsm,
      { stream: this.opts.stream.name, durable: this.opts.durable, filter: this.opts.subjects.recordFilter, ackWaitMs: this.opts.ackWaitMs, maxAckPending: this.opts.maxAckPending },
      this.opts.logger,
    );
    const consumer = await jetstream(nc).consumers.get(this.opts.stream.name, this.opts.durable);
    const info = await consumer.info(true);
    this.pendingCount = info.num_pending + info.num_ack_pending;
    this.jsm = jsm;
    this.upstream.start(jsm);
    // A previous pull loop (an earlier connection) must be gone before this one starts.
    const previous = this.messages;
    this.messages = null;
    previous?.stop();
    await this.running;
    const messages = await consumer.consume({ max_messages: this.opts.batch * 2, expires: 5_000 });
    this.messages = messages;
    this.running = this.pull(messages);
    this.log.up({ server: nc.getServer(), stream: this.opts.stream.name, durable: this.opts.durable, pending: this.pendingCount }, 'NATS sync consumer connected');
  }

  /**
   * Takes messages as they come; a separate drain stores them in batches: whatever arrived while
   * the previous batch was being stored, up to `batch`. (The iterator's own pending count also
   * counts heartbeats and status items, so it cannot tell when a batch is complete.)
   */
  private async pull(messages: ConsumerMessages): Promise<void> {
    try {
      for await (const m of messages) {
        this.queue.push(m);
        this.kick();
        // Waits for room, not for the drain to finish: the pull keeps going (and asking the server
        // for more) while batches are stored.
        if (this.queue.length >= this.opts.batch * 2 && this.draining) await new Promise<void>((resolve) => (this.room = resolve));
        if (this.stopping) break;
      }
      // The iterator ended by itself (consumer deleted, connection closed): set everything up again.
      if (!this.stopping && this.messages === messages) {
        this.link.restart(new NatsError('QP_ERR_NATS_CONNECT', `the pull from the consumer "${this.opts.durable}" stopped; setting it up again`));
      }
    } catch (err) {
      if (!this.stopping) this.link.restart(new NatsError('QP_ERR_NATS_CONNECT', `pulling from the consumer "${this.opts.durable}" failed (${errorMessage(err)}); setting it up again`, { cause: err }));
    }
    await this.draining;
  }

  private kick(): void {
    this.draining ??= this.drain()
      .catch((err: unknown) => this.storeFailed(err))
      .finally(() => {
        this.draining = null;
        this.room?.();
        this.room = null;
        if (this.queue.length > 0 && !this.stopping) this.kick();
      });
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      if (this.stopping) {
        // Pulled but not stored: offered again at once (to any group member).
        for (const m of this.queue.splice(0)) m.nak();
        break;
      }
      const taken = this.queue.splice(0, this.opts.batch);
      this.room?.();
      this.room = null;
      const items = await this.decodeAll(taken);
      await this.storing;
      this.storing = this.store(items).catch((err: unknown) => this.storeFailed(err));
    }
    await this.storing;
  }

  /** Something unexpected broke a batch: its messages are not acknowledged, so JetStream offers them again after ack_wait. */
  private storeFailed(err: unknown): void {
    this.gaps.reset();
    this.opts.logger.warn({ err: errorMessage(err) }, 'NATS sync could not store pulled messages; they are delivered again');
  }

  private async decodeAll(msgs: JsMsg[]): Promise<Item[]> {
    const items: Item[] = [];
    for (const m of msgs) {
      this.counts.messages++;
      if (m.redelivered) this.counts.redelivered++;
      this.pendingCount = m.info.pending;
      const decoded = this.decode(m);
      const item = decoded instanceof Promise ? await decoded : decoded;
      if (item) items.push(item);
    }
    return items;
  }

  private async store(items: Item[]): Promise<void> {
    const { ready, gaps } = this.gaps.admit(items);
    for (const g of gaps) this.holdGap(g);
    if (ready.length === 0) return;
    const entries = ready.map((i) => i.entry);
    const raw = ready.reduce((n, i) => n + i.raw, 0);
    const wire = ready.reduce((n, i) => n + i.wire, 0);
    let outcome;
    try {
      outcome = await this.writer.storeBatch({ node: this.opts.nodeId, entries });
    } catch (err) {
      this.gaps.reset();
      const delay = this.backoff.next();
      for (const i of ready) i.m.nak(delay);
      this.refused('store_error', ready.length, wire, 'QP_ERR_SYNC_STORE', `the store could not take ${ready.length} records (${errorMessage(err)}); they are delivered again in ${delay} ms`);
      return;
    }
    this.backoff.reset();
    this.gaps.stored(entries);
    const now = Date.now();
    const newest = entries.reduce((t, e) => Math.max(t, recordTime(e.record)), 0);
    this.lastLagMs = Math.max(0, now - newest);
    this.lastSuccessAt = new Date(now).toISOString();
    this.counts.stored += outcome.stored;
    this.counts.duplicates += outcome.skipped;
    const lags = lagSeconds(
      entries.map((e) => e.record),
      now,
    );
    this.observe((o) => o.batchStored({ stored: outcome.stored, skipped: outcome.skipped, rawBytes: raw, wireBytes: wire, lagSeconds: lags }));
    // Acknowledged only now that the batch is committed: a crash before this redelivers it. A plain
    // ack, not ackAck: the server's confirmation would change nothing here (an ack lost with the
    // connection means a redelivery the store skips either way), and ackAck costs a request, a
    // timer and two Errors per message, and made each batch wait a round trip for the last one.
    // The acks go out in order on the connection, and close() drains it, so a clean stop loses none.
    for (const i of ready) {
      try {
        i.m.ack();
      } catch {
        // The connection is gone: the message comes again after ack_wait and the store skips it.
      }
    }
  }

  /**
   * Decodes a message: synchronously for a plain record (most), through a promise for a
   * compressed one or the manifest of a large one. Null when it was refused.
   */
  private decode(m: JsMsg): Item | null | Promise<Item | null> {
    const headers = m.headers;
    try {
      const encoding = encodingOf(headers);
      if (encoding === 'none' && !isManifest(headers)) {
        const body = Buffer.from(m.data.buffer, m.data.byteOffset, m.data.byteLength);
        const { entry, raw } = decodePlainRecord(body);
        return { m, entry, raw, wire: body.byteLength };
      }
    } catch (err) {
      return this.refuse(m, err);
    }
    return this.decodeSlow(m);
  }

  /** Decodes a compressed message or a large one's manifest (fetching the parts). */
  private async decodeSlow(m: JsMsg): Promise<Item | null> {
    try {
      const encoding = encodingOf(m.headers);
      let body = Buffer.from(m.data.buffer, m.data.byteOffset, m.data.byteLength);
      if (isManifest(m.headers)) body = await this.fetchParts(decodeManifest(body));
      const { entry, raw } = await decodeRecord(body, encoding);
      return { m, entry, raw, wire: body.byteLength };
    } catch (err) {
      return this.refuse(m, err);
    }
  }

  /** A message that cannot be stored: kept (newer format), terminated (malformed) or offered again (parts unreadable). */
  private refuse(m: JsMsg, err: unknown): null {
    const wire = m.data.byteLength;
    if (err instanceof SyncError && err.code === 'QP_ERR_SYNC_FORMAT_VERSION') {
      m.nak(FORMAT_RETRY_MS);
      this.refused('format_version', 1, wire, err.code, `${err.message}; the message stays in the stream`);
      return null;
    }
    if (err instanceof NatsError && (err.code === 'QP_ERR_NATS_MESSAGE_MALFORMED' || err.code === 'QP_ERR_NATS_PARTS_MISSING')) {
      m.term(err.code);
      this.counts.malformed++;
      this.refused('malformed', 1, wire, err.code, `${err.message} (subject ${m.subject}, stream seq ${m.seq}); the message is terminated`);
      return null;
    }
    // The connection failed while fetching parts: offer the message again later.
    m.nak(this.backoff.next());
    this.noteFailure(new NatsError('QP_ERR_NATS_CONNECT', `could not read a large record's parts (${errorMessage(err)}); it is delivered again`, { cause: err }));
    return null;
  }

  private async fetchParts(manifest: Manifest): Promise<Buffer> {
    const jsm = this.jsm;
    if (!jsm) throw new NatsError('QP_ERR_NATS_CONNECT', 'not connected');
    const parts: Buffer[] = [];
    for (let n = 0; n < manifest.parts; n++) {
      const sm = await jsm.streams.getMessage(this.opts.stream.name, { last_by_subj: `${manifest.subject}.${n}` });
      if (!sm) {
        throw new NatsError(
          'QP_ERR_NATS_PARTS_MISSING',
          `part ${n} of ${manifest.parts} of a large record (${manifest.subject}) is no longer in the stream "${this.opts.stream.name}" (removed by its retention before this node read it)`,
        );
      }
      parts.push(Buffer.from(sm.data.buffer, sm.data.byteOffset, sm.data.byteLength));
    }
    return joinParts(manifest, parts);
  }

  /** An open TCP segment whose start is not here: offered again a few times, then skipped. */
  private holdGap(g: Item): void {
    if (g.m.info.deliveryCount < GAP_DELIVERIES) {
      this.counts.gaps_held++;
      g.m.nak(Math.max(500, Math.round(this.opts.ackWaitMs / 2)));
      return;
    }
    this.counts.gaps_skipped++;
    void g.m.ackAck().catch(() => undefined);
    this.warnOnce(
      'gap',
      { id: g.entry.record.id, chunk_base: g.entry.chunkBase },
      'an open TCP segment arrived without the session\'s earlier chunks on this node (another group member holds them, or they were lost); it is skipped — the session\'s closing message carries it whole',
    );
  }

  private refused(reason: SyncRejectReason, records: number, wire: number, code: string, message: string): void {
    this.lastError = { code, message, at: new Date().toISOString() };
    this.observe((o) => o.batchRefused(reason, records, wire));
    this.warnOnce(code, { code }, `NATS sync: ${message}`);
  }

  private noteFailure(f: NatsError): void {
    this.lastError = { code: f.code, message: f.message, at: new Date().toISOString() };
    if (!this.stopping) this.log.failed(f.code, f, { servers: this.link.label, stream: this.opts.stream.name, durable: this.opts.durable, code: f.code });
  }

  /** One log line per kind of problem: a stream full of garbage must not flood the log. */
  private warnOnce(key: string, obj: object, msg: string): void {
    if (this.warned.has(key)) return;
    this.warned.add(key);
    this.opts.logger.error(obj, msg);
  }

  private observe(fn: (o: SyncMetricsObserver) => void): void {
    notifyObserver(this.opts.observer, this.opts.logger, 'sync metrics', fn);
  }

  /** Stops pulling; the batch being stored is finished and acknowledged (up to `deadlineMs`). */
  protected async shutdown(deadlineMs: number): Promise<void> {
    this.upstream.stop();
    await this.link.close(async () => {
      this.messages?.stop();
      await settleWithin(deadlineMs, [this.running, this.draining, this.writer.idle()]);
      for (const m of this.queue.splice(0)) m.nak();
    });
    await this.writer.idle();
    this.opts.logger.info({ stream: this.opts.stream.name, durable: this.opts.durable }, 'NATS sync consumer stopped');
  }
}
