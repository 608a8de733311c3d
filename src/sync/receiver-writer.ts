import { errorMessage } from '../core/errors.js';
import type { SyncRejectReason } from './observer.js';
import { ReceiverLedger, TALLY_KEYS, type NodeLedger } from './receiver-ledger.js';
import type { ReceiverStore, SyncLogger } from './store-port.js';
import { TcpReceiveState } from './tcp-receive-state.js';
import type { DecodedBatch } from './wire-format.js';

/** What storing one batch came to. */
export interface StoredBatch {
  stored: number;
  skipped: number;
}

/**
 * Everything the receiver writes, one write at a time: batches (with their TCP segment trimming
 * and ledger entries in the same transaction) and ledger entries for refused batches. Serial on
 * purpose: a TCP segment's trimming reads the state the previous batch committed, and the store
 * has one writer anyway, so parallel ingests would only queue there.
 */
export class ReceiverWriter {
  readonly ledger: ReceiverLedger;
  private readonly tcp: TcpReceiveState;
  private tail: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly store: ReceiverStore,
    private readonly logger: SyncLogger,
  ) {
    this.ledger = new ReceiverLedger(store);
    this.tcp = new TcpReceiveState(store, logger);
  }

  /** Stores a validated batch; resolves after the commit. Rejects with the store's error (nothing stored). */
  storeBatch(batch: DecodedBatch): Promise<StoredBatch> {
    return this.enqueue(async () => {
      const at = new Date();
      const maxSeq = new Map<string, number>();
      for (const e of batch.entries) maxSeq.set(e.record.node_id, Math.max(maxSeq.get(e.record.node_id) ?? 0, e.seq));
      const prepared = this.tcp.prepare(batch.entries);
      const meta = { ...prepared.meta, ...this.ledger.metaForBatch(maxSeq, prepared.skippedByNode, at) };
      let outcome;
      try {
        outcome = await this.store.ingest(prepared.records, { tally: TALLY_KEYS, meta, docs: prepared.docs });
      } catch (err) {
        prepared.abandon();
        throw err;
      }
      prepared.commit();
      this.ledger.stored(maxSeq, outcome.byNode, prepared.skippedByNode, at);
      let tcpDup = 0;
      for (const n of prepared.skippedByNode.values()) tcpDup += n;
      return { stored: outcome.stored, skipped: outcome.skipped + tcpDup };
    });
  }

  /** Counts a refused batch in the ledger and persists it (best effort: a failed write is logged). */
  noteRejected(node: string, reason: SyncRejectReason, records: number): void {
    const meta = this.ledger.rejected(node, reason, records);
    void this.enqueue(async () => {
      for (const [key, value] of Object.entries(meta)) await this.store.setMeta(key, value);
    }).catch((err: unknown) => {
      this.logger.warn({ err: errorMessage(err) }, 'sync ledger entry for a refused batch could not be persisted; it is counted in memory only');
    });
  }

  ledgerSnapshot(): Record<string, NodeLedger> {
    return this.ledger.snapshot();
  }

  /** Resolves when every write queued so far has finished. */
  idle(): Promise<void> {
    return this.tail.then(
      () => undefined,
      () => undefined,
    );
  }

  private enqueue<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.tail.then(fn, fn);
    this.tail = run.catch(() => undefined);
    return run;
  }
}
