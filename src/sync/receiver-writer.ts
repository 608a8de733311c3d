import { errorMessage } from '../core/errors.js';
import type { SyncRejectReason } from './observer.js';
import { SyncError } from './sync-error.js';
import { ReceiverLedger, TALLY_KEYS, type NodeLedger } from './receiver-ledger.js';
import type { ReceiverStore, SyncLogger } from './store-port.js';
import { TcpReceiveState } from './tcp-receive-state.js';
import type { ReceivedBatch } from './wire-format.js';

/** What storing one batch came to. */
export interface StoredBatch {
  stored: number;
  skipped: number;
}

/**
 * Batches handed to the store and not yet committed. The sender keeps `peer.streams` (default 4)
 * batches in flight; as many here let each one's segment fdatasync and index commit overlap the
 * next one's preparation and segment write, and bound what waits in memory.
 */
export const RECEIVER_BATCHES_IN_FLIGHT = 4;

interface Job {
  /** Runs only with nothing in flight (ledger entries for refused batches). */
  exclusive: boolean;
  run(): void;
  /** A batch waiting for its turn when one before it failed. */
  refuse?(err: Error): void;
}

/**
 * Everything the receiver writes: batches (with their TCP segment trimming and ledger entries in
 * the same transaction) and ledger entries for refused batches.
 *
 * Batches are pipelined through the store: batch N+1 is prepared (its TCP segments trimmed, its
 * ledger meta computed) while N is still being written and committed, on top of the state N will
 * leave (the expected states in TcpReceiveState and ReceiverLedger). A serial receiver sat idle
 * during each fdatasync and SQLite commit while the sender's next batches queued up.
 *
 * What keeps that safe: batches commit in arrival order, each is acknowledged only after its own
 * commit, and the store links them (an ingest chain) so that a batch prepared on top of one that
 * failed is refused instead of committing figures that claim data never stored (a TCP session's
 * chunk count would then make the sender's retry look like a duplicate). After a failure nothing
 * new is prepared until every batch in flight has been answered; then the expected and cached
 * states are dropped and read again from what is durable, which is right whether or not the failed
 * batch committed (a writer that died may have committed without answering), and a new chain starts.
 */
export class ReceiverWriter {
  readonly ledger: ReceiverLedger;
  private readonly tcp: TcpReceiveState;
  private readonly chain = { last: 0 };
  private inFlight = 0;
  private exclusiveRunning = false;
  /** A batch failed: states build on something that may not have happened, until the chain drains. */
  private broken = false;
  /** What failed first since the pipeline last ran clean, for the message of the batches refused with it. */
  private failure: unknown = null;
  /** Failures so far, one per episode (a failed batch and those refused with it): see {@link epoch}. */
  private failures = 0;
  private waiting: Job[] = [];
  private idleWaiters: Array<() => void> = [];

  constructor(
    private readonly store: ReceiverStore,
    private readonly logger: SyncLogger,
    private readonly maxInFlight = RECEIVER_BATCHES_IN_FLIGHT,
  ) {
    this.ledger = new ReceiverLedger(store);
    this.tcp = new TcpReceiveState(store, logger);
  }

  /**
   * Counts failures (one per episode, the failed batch and those refused with it). A sender drops its connection and its whole window when a
   * batch fails, and sends everything unacknowledged again on a new one; a batch of the old window
   * may still reach the receiver after the failure has drained (its body was still arriving or
   * being decompressed). Prepared on the durable state, which lacks the failed batch, its TCP
   * segment would be stored with a gap and make the resend of the failed one look like a duplicate.
   * A peer connection notes the epoch it was opened in and passes it with each batch: a batch from a
   * connection that was open when a batch failed is refused, whichever sender it came from.
   */
  get epoch(): number {
    return this.failures;
  }

  /**
   * Stores a validated batch; resolves after its commit. Rejects with the store's error (nothing of
   * it stored), and refuses a batch from a connection opened before the latest failure (`openedIn`,
   * the {@link epoch} then).
   */
  storeBatch(batch: ReceivedBatch, openedIn?: number): Promise<StoredBatch> {
    // Arriving while the batches of a failure drain: refused like those waiting then (see refuseWaiting).
    if (this.broken && this.inFlight > 0) return Promise.reject(this.failingError(this.failure));
    if (openedIn !== undefined && openedIn < this.failures) {
      return Promise.reject(
        new SyncError(
          'QP_ERR_SYNC_STORE',
          `a batch failed while this connection was open (${errorMessage(this.failure)}); nothing of this one was stored: reconnect and send everything unacknowledged again`,
        ),
      );
    }
    return new Promise<StoredBatch>((resolve, reject) => {
      this.waiting.push({
        exclusive: false,
        run: () => {
          this.runBatch(batch).then(resolve, reject);
        },
        refuse: reject,
      });
      this.pump();
    });
  }

  /** Counts a refused batch in the ledger and persists it (best effort: a failed write is logged). */
  noteRejected(node: string, reason: SyncRejectReason, records: number): void {
    this.waiting.push({
      exclusive: true,
      run: () => {
        void this.persistRejected(node, reason, records).finally(() => {
          this.exclusiveRunning = false;
          this.pump();
        });
      },
    });
    this.pump();
  }

  ledgerSnapshot(): Record<string, NodeLedger> {
    return this.ledger.snapshot();
  }

  /** Resolves when every write queued so far has finished. */
  idle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise<void>((resolve) => this.idleWaiters.push(resolve));
  }

  private isIdle(): boolean {
    return this.inFlight === 0 && !this.exclusiveRunning && this.waiting.length === 0;
  }

  /** Starts waiting jobs, in arrival order, as far as the rules allow. */
  private pump(): void {
    for (;;) {
      const job = this.waiting[0];
      if (!job || this.exclusiveRunning) break;
      if (this.inFlight > 0 && (job.exclusive || this.broken || this.inFlight >= this.maxInFlight)) break;
      if (this.inFlight === 0 && this.broken) this.reload();
      this.waiting.shift();
      if (job.exclusive) this.exclusiveRunning = true;
      // A batch's prepare and its hand-off to the store run synchronously in here, so batches
      // reach the store in the order they were prepared.
      job.run();
    }
    if (this.isIdle()) for (const resolve of this.idleWaiters.splice(0)) resolve();
  }

  private reload(): void {
    this.broken = false;
    this.chain.last = 0;
    this.tcp.reset();
    try {
      this.ledger.reload();
    } catch (err) {
      // The store could not be read (closed): the committed figures in memory are the best left.
      this.logger.warn({ err: errorMessage(err) }, 'sync ledger could not be read again after a failed batch; its figures may miss that batch');
    }
  }

  private async runBatch(batch: ReceivedBatch): Promise<StoredBatch> {
    this.inFlight++;
    try {
      const at = new Date();
      const maxSeq = new Map<string, number>();
      for (const e of batch.entries) {
        const node = 'received' in e ? e.received.head.node_id : e.record.node_id;
        maxSeq.set(node, Math.max(maxSeq.get(node) ?? 0, e.seq));
      }
      const prepared = this.tcp.prepare(batch.entries);
      const meta = { ...prepared.meta, ...this.ledger.metaForBatch(maxSeq, prepared.skippedByNode, at) };
      const outcome = await this.store.ingest(prepared.records, { tally: TALLY_KEYS, meta, docs: prepared.docs, chain: this.chain });
      prepared.commit();
      this.ledger.stored(maxSeq, outcome.byNode, prepared.skippedByNode, at);
      let tcpDup = 0;
      for (const n of prepared.skippedByNode.values()) tcpDup += n;
      return { stored: outcome.stored, skipped: outcome.skipped + tcpDup };
    } catch (err) {
      // A failed prepare counts too: its expected states may be half set. The batches in flight on
      // top of this one fail after it; the first failure is the one to report.
      if (!this.broken) {
        this.broken = true;
        this.failures++;
        this.failure = err;
      }
      this.refuseWaiting();
      throw err;
    } finally {
      this.inFlight--;
      if (this.inFlight === 0) {
        // Nothing in flight: the next batch depends on nothing (a writer restarted meanwhile would refuse a link).
        this.chain.last = 0;
        if (!this.broken) this.ledger.caughtUp();
      }
      this.pump();
    }
  }

  /**
   * Batches that arrived while the failed one was in flight fail with it. They come from the same
   * senders' windows and may continue a TCP session of the failed batch: prepared on the durable
   * state, such a segment would be stored with a gap and make the retry of the failed one look like
   * a duplicate. The senders drop their window on the failure and send all of it again anyway.
   */
  private refuseWaiting(): void {
    const err = this.failingError(this.failure);
    this.waiting = this.waiting.filter((job) => {
      if (!job.refuse) return true;
      job.refuse(err);
      return false;
    });
  }

  private failingError(cause: unknown): SyncError {
    return new SyncError('QP_ERR_SYNC_STORE', `an earlier batch in the receiver's pipeline failed (${errorMessage(cause)}); nothing of this one was stored, send it again`);
  }

  private async persistRejected(node: string, reason: SyncRejectReason, records: number): Promise<void> {
    const meta = this.ledger.rejected(node, reason, records);
    try {
      for (const [key, value] of Object.entries(meta)) await this.store.setMeta(key, value);
    } catch (err) {
      this.logger.warn({ err: errorMessage(err) }, 'sync ledger entry for a refused batch could not be persisted; it is counted in memory only');
    }
  }
}
