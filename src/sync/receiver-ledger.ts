import type { NodeLedger } from '../core/documents.js';
import type { SyncRejectReason } from './observer.js';
import type { ReceiverStore } from './store-port.js';

export type { NodeLedger };

/**
 * The receiving half of the loss ledger, per origin node_id, kept in the store's meta table so it
 * survives restarts:
 *
 *   sync.rx.nodes                 JSON list of node ids seen
 *   sync.rx.tally:<node>:stored   entries that changed the store   } added by the store inside the
 *   sync.rx.tally:<node>:skipped  entries already present          } batch's own transaction
 *   sync.rx.tally:<node>:tcp_dup  TCP segments already present (left out before the store saw them)
 *   sync.rx.node:<node>           JSON { rejected: {reason: n}, last_seq, last_received_at }
 *
 * `received` is not kept: it is stored + duplicates + rejected.
 */
/** The keys the store adds each batch's per-node counts to (`{node}`: the origin node_id). */
export const TALLY_KEYS = { stored: 'sync.rx.tally:{node}:stored', skipped: 'sync.rx.tally:{node}:skipped' } as const;
/** Kept by the ledger itself (the store never sees these segments). */
const TCP_DUP_KEY = 'sync.rx.tally:{node}:tcp_dup';
const NODES_KEY = 'sync.rx.nodes';
const NODE_PREFIX = 'sync.rx.node:';

interface NodeInfo {
  rejected: Record<string, number>;
  last_seq: number;
  last_received_at: string | null;
}

function parseJson<T>(text: string | null, fallback: T): T {
  if (text === null) return fallback;
  try {
    return JSON.parse(text) as T;
  } catch {
    return fallback;
  }
}

type Tallied = NodeInfo & { stored: number; skipped: number; tcpDup: number };

function keyOf(template: string, node: string): string {
  return template.replace('{node}', () => node);
}

function count(text: string | null): number {
  const n = Number(text);
  return Number.isSafeInteger(n) && n > 0 ? n : 0;
}

/** In-memory ledger mirrored to meta. Callers order writes (the receiver's writer does). */
export class ReceiverLedger {
  /** Committed figures. */
  private readonly nodes = new Map<string, Tallied>();
  /**
   * What the batches prepared but not yet committed will leave in meta (the figures meta holds as
   * absolute values): the next batch's meta builds on them, or it would overwrite their counts.
   */
  private readonly ahead = new Map<string, { last_seq: number; tcpDup: number }>();

  constructor(private readonly store: Pick<ReceiverStore, 'getMeta'>) {
    this.reload();
  }

  /**
   * Reads the ledger again from meta, forgetting expected figures: after a failed batch, when
   * nothing prepared is waiting for its commit (a writer that died may have committed a batch it
   * never answered for). A refused batch counted in memory but not persisted is forgotten.
   */
  reload(): void {
    const store = this.store;
    this.nodes.clear();
    this.ahead.clear();
    for (const node of parseJson<string[]>(store.getMeta(NODES_KEY), [])) {
      if (typeof node !== 'string') continue;
      const info = parseJson<Partial<NodeInfo>>(store.getMeta(NODE_PREFIX + node), {});
      this.nodes.set(node, {
        rejected: typeof info.rejected === 'object' && info.rejected !== null ? { ...info.rejected } : {},
        last_seq: typeof info.last_seq === 'number' ? info.last_seq : 0,
        last_received_at: typeof info.last_received_at === 'string' ? info.last_received_at : null,
        stored: count(store.getMeta(keyOf(TALLY_KEYS.stored, node))),
        skipped: count(store.getMeta(keyOf(TALLY_KEYS.skipped, node))),
        tcpDup: count(store.getMeta(keyOf(TCP_DUP_KEY, node))),
      });
    }
  }

  /**
   * Meta writes that record a batch from these nodes (ids seen, highest seq, time), to commit in the
   * batch's own transaction, on top of the batches prepared before it. The committed figures change
   * only when {@link stored} confirms the commit.
   */
  metaForBatch(maxSeqByNode: ReadonlyMap<string, number>, tcpDupByNode: ReadonlyMap<string, number>, at: Date): Record<string, string> {
    const meta: Record<string, string> = {};
    let newNode = false;
    for (const [node, seq] of maxSeqByNode) {
      const cur = this.nodes.get(node);
      const prior = this.ahead.get(node) ?? (cur && { last_seq: cur.last_seq, tcpDup: cur.tcpDup });
      if (!prior) newNode = true;
      const dup = tcpDupByNode.get(node) ?? 0;
      const next = { last_seq: Math.max(prior?.last_seq ?? 0, seq), tcpDup: (prior?.tcpDup ?? 0) + dup };
      this.ahead.set(node, next);
      if (dup > 0) meta[keyOf(TCP_DUP_KEY, node)] = String(next.tcpDup);
      meta[NODE_PREFIX + node] = JSON.stringify({
        rejected: cur?.rejected ?? {},
        last_seq: next.last_seq,
        last_received_at: at.toISOString(),
      } satisfies NodeInfo);
    }
    if (newNode) meta[NODES_KEY] = JSON.stringify([...new Set([...this.nodes.keys(), ...this.ahead.keys()])]);
    return meta;
  }

  /** Every prepared batch committed: the committed figures are the expected ones again. */
  caughtUp(): void {
    this.ahead.clear();
  }

  /** The batch committed: mirror what {@link metaForBatch} and the store's tally wrote. */
  stored(
    maxSeqByNode: ReadonlyMap<string, number>,
    byNode: Record<string, { stored: number; skipped: number }>,
    tcpDupByNode: ReadonlyMap<string, number>,
    at: Date,
  ): void {
    for (const [node, seq] of maxSeqByNode) {
      const n = this.node(node);
      n.last_seq = Math.max(n.last_seq, seq);
      n.last_received_at = at.toISOString();
      n.stored += byNode[node]?.stored ?? 0;
      n.skipped += byNode[node]?.skipped ?? 0;
      n.tcpDup += tcpDupByNode.get(node) ?? 0;
    }
  }

  /** Counts a refused batch of `records` entries from `node`; returns the meta writes to persist it. */
  rejected(node: string, reason: SyncRejectReason, records: number): Record<string, string> {
    const isNew = !this.nodes.has(node);
    const n = this.node(node);
    n.rejected[reason] = (n.rejected[reason] ?? 0) + records;
    const meta: Record<string, string> = {
      [NODE_PREFIX + node]: JSON.stringify({ rejected: n.rejected, last_seq: n.last_seq, last_received_at: n.last_received_at } satisfies NodeInfo),
    };
    if (isNew) meta[NODES_KEY] = JSON.stringify([...this.nodes.keys()]);
    return meta;
  }

  /** Every node's figures. */
  snapshot(): Record<string, NodeLedger> {
    const out: Record<string, NodeLedger> = {};
    for (const [node, n] of this.nodes) {
      const rejected = Object.values(n.rejected).reduce((a, b) => a + b, 0);
      out[node] = {
        received: n.stored + n.skipped + n.tcpDup + rejected,
        stored: n.stored,
        duplicates: n.skipped + n.tcpDup,
        rejected: { ...n.rejected },
        last_seq: n.last_seq,
        last_received_at: n.last_received_at,
      };
    }
    return out;
  }

  private node(node: string): Tallied {
    let n = this.nodes.get(node);
    if (!n) {
      n = { rejected: {}, last_seq: 0, last_received_at: null, stored: 0, skipped: 0, tcpDup: 0 };
      this.nodes.set(node, n);
    }
    return n;
  }
}
