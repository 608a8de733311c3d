import type { QRecord, TcpRecord } from '../recording/model.js';
import type { ReceivedEntry, ReceivedHttp, SyncEntry } from './wire-format.js';
import type { ReceiverStore, SyncLogger } from './store-port.js';

/**
 * Makes TCP segments idempotent on the receiver. A sender sends an open session's new chunks as
 * an entry whose `chunkBase` says where they start in the session; after a lost acknowledgement
 * or a restart it may send chunks the receiver already holds. The receiver keeps, per open
 * session, how many chunks it stored (meta `sync.rx.tcp:<id>`, written in the batch's own
 * transaction) and passes the store only what is new:
 *
 *   stored 10 chunks, entry base 8 with 5 chunks → chunks 10..12 appended (8, 9 dropped)
 *   stored 10 chunks, entry base 4 with 6 chunks, same totals → duplicate, nothing passed on
 *
 * The key is deleted when the session's closing segment is stored (the store ignores anything
 * later for a closed session).
 */
const KEY_PREFIX = 'sync.rx.tcp:';
/** Sessions whose state stays cached; beyond this the oldest are forgotten and re-read from meta when needed. */
const CACHE_MAX = 10_000;

interface SessionState {
  /** Chunks of the session stored here. */
  chunks: number;
  /** bytes_in + bytes_out of the stored header: grows even after chunks stop (byte cap reached). */
  bytes: number;
  durationMs: number;
  closed: boolean;
}

/** A batch made ready for the store: records to ingest and meta to write with them. */
export interface PreparedBatch {
  /** What to store: records, and HTTP records as received (their heads and documents). */
  records: Array<QRecord | ReceivedHttp>;
  /** `docs[i]`: the checked document of `records[i]` as the sender stored it (HTTP of a format 2 batch), stored as is. */
  docs: Array<Buffer | undefined>;
  meta: Record<string, string | null>;
  /** Entries left out as already stored, per origin node. */
  skippedByNode: Map<string, number>;
  /** Call after the batch committed. */
  commit(): void;
}

function stateOf(r: TcpRecord, chunks: number): SessionState {
  return { chunks, bytes: r.bytes_in + r.bytes_out, durationMs: r.duration_ms, closed: r.state === 'closed' };
}

function newerHeader(r: TcpRecord, s: SessionState): boolean {
  return (r.state === 'closed' && !s.closed) || r.bytes_in + r.bytes_out > s.bytes || r.duration_ms > s.durationMs;
}

export class TcpReceiveState {
  /** Committed states. */
  private readonly cache = new Map<string, SessionState | null>();
  /**
   * The states the batches prepared but not yet committed will leave (per session, the latest): the
   * next batch is prepared on top of them (the receiver keeps several in flight). `batch` tells which
   * prepare set it, so a commit only clears what no later batch has overwritten. Never evicted:
   * it holds at most the sessions of the batches in flight.
   */
  private readonly ahead = new Map<string, { state: SessionState | null; batch: number }>();
  private batches = 0;
  private warnedGap = false;

  constructor(
    private readonly store: Pick<ReceiverStore, 'get' | 'getMeta'>,
    private readonly logger: SyncLogger,
  ) {}

  /**
   * Decides, entry by entry, what of a batch reaches the store, assuming every batch prepared
   * before commits (callers commit them in prepare order, and after a failure {@link reset} before
   * preparing again).
   */
  prepare(entries: ReadonlyArray<SyncEntry | ReceivedEntry>): PreparedBatch {
    const batch = ++this.batches;
    const records: Array<QRecord | ReceivedHttp> = [];
    const docs: Array<Buffer | undefined> = [];
    const local = new Map<string, SessionState | null>();
    const skippedByNode = new Map<string, number>();
    for (const e of entries) {
      if ('received' in e) {
        records.push(e.received);
        docs.push(undefined);
        continue;
      }
      if (e.record.protocol !== 'tcp') {
        records.push(e.record);
        docs.push(e.doc);
        continue;
      }
      const r = e.record;
      const known = local.has(r.id) ? local.get(r.id)! : this.load(r.id);
      const next = this.admit(r, e.chunkBase ?? 0, known);
      if (next.record) {
        records.push(next.record);
        docs.push(undefined);
      } else skippedByNode.set(r.node_id, (skippedByNode.get(r.node_id) ?? 0) + 1);
      local.set(r.id, next.state);
    }
    const meta: Record<string, string | null> = {};
    for (const [id, s] of local) {
      meta[KEY_PREFIX + id] = s && !s.closed ? JSON.stringify(s) : null;
      this.ahead.set(id, { state: s, batch });
    }
    return {
      records,
      docs,
      meta,
      skippedByNode,
      commit: () => {
        for (const [id, s] of local) {
          this.remember(id, s);
          if (this.ahead.get(id)?.batch === batch) this.ahead.delete(id);
        }
      },
    };
  }

  /**
   * Forgets every cached and expected state: after a batch failed (whether it committed may be
   * unknown, and batches prepared on top of it were refused) states are read again from what is
   * durable. Call only when no prepared batch is still waiting for its commit.
   */
  reset(): void {
    this.cache.clear();
    this.ahead.clear();
  }

  /** What to store for one TCP entry given the session's stored state, and the state after it. */
  private admit(r: TcpRecord, base: number, known: SessionState | null): { record: TcpRecord | null; state: SessionState | null } {
    const end = base + r.chunks.length;
    if (!known) {
      if (base > 0) this.warnGap(r.id, 0, base);
      return { record: r, state: stateOf(r, end) };
    }
    if (known.closed) return { record: null, state: known };
    if (end <= known.chunks && !newerHeader(r, known)) return { record: null, state: known };
    if (base > known.chunks) this.warnGap(r.id, known.chunks, base);
    const fresh = r.chunks.slice(Math.max(0, known.chunks - base));
    return { record: { ...r, chunks: fresh }, state: stateOf(r, Math.max(known.chunks, end)) };
  }

  /** The stored state of a session: cache, then meta, then the record itself (a closed one, or one stored another way). */
  private load(id: string): SessionState | null {
    const expected = this.ahead.get(id);
    if (expected) return expected.state;
    if (this.cache.has(id)) return this.cache.get(id)!;
    const text = this.store.getMeta(KEY_PREFIX + id);
    if (text !== null) {
      try {
        return JSON.parse(text) as SessionState;
      } catch {
        // fall through to the record
      }
    }
    const rec = this.store.get(id);
    if (!rec) return null;
    if (rec.protocol !== 'tcp') return { chunks: 0, bytes: 0, durationMs: 0, closed: true };
    return stateOf(rec, rec.chunks.length);
  }

  private remember(id: string, s: SessionState | null): void {
    this.cache.delete(id);
    this.cache.set(id, s);
    if (this.cache.size > CACHE_MAX) this.cache.delete(this.cache.keys().next().value!);
  }

  private warnGap(id: string, have: number, base: number): void {
    if (this.warnedGap) return;
    this.warnedGap = true;
    this.logger.warn(
      { id, stored_chunks: have, segment_starts_at: base },
      'a TCP session segment starts after the chunks stored here (the earlier part was purged or deleted on this node); storing it with the gap — later gaps are not logged',
    );
  }
}
