import type { SenderStatus } from '../../core/documents.js';
import { PURGED_UNSENT_META } from '../../store/index.js';
import type { Compression } from '../compression.js';
import type { SendWindow } from './send-window.js';
import type { PersistedSender } from './sender-state.js';
import type { SenderStore } from '../store-port.js';
import { recordTime } from '../lag.js';

/** The recording side of the ledger, since this process started (from metrics). */
export interface UpstreamFigures {
  /** Exchanges and TCP sessions proxied. */
  proxied: number;
  /** Records (and TCP segments) durably stored. */
  recorded: number;
  /** Records lost before the store, by reason. */
  dropped: Record<string, number>;
}

export interface StatusSource {
  label: string;
  opts: {
    nodeId: string;
    peer: { tls: boolean; cert?: Buffer };
    compression: Compression;
    store: SenderStore;
  };
  connected: boolean;
  stopping: boolean;
  retrying: boolean;
  state: PersistedSender;
  live: {
    lastSuccessAt: string | null;
    lastError: SenderStatus['last_error'];
    nextRetryAt: string | null;
    lastLagMs: number | null;
    batches: number;
    records: number;
    rawBytes: number;
    wireBytes: number;
  };
  window: SendWindow;
  upstream: (() => UpstreamFigures) | undefined;
}

/**
 * A count of what is left to send is a range scan; status and scrapes reuse it for a second while
 * neither the cursor nor the store's last seq moved (new records make it stale at once).
 */
const PENDING_TTL_MS = 1000;
const pendingCache = new WeakMap<SenderStore, { at: number; cursor: number; lastSeq: number; count: number; bytes: number; oldest: number | null }>();

function pendingOf(store: SenderStore, cursor: number, window: SendWindow): { count: number; bytes: number; oldest: number | null } {
  const now = Date.now();
  const hit = pendingCache.get(store);
  let count = 0;
  let bytes = 0;
  let oldest: number | null = null;
  let lastSeq: number;
  try {
    lastSeq = store.stats().lastSeq;
    if (hit && hit.cursor === cursor && hit.lastSeq === lastSeq && now - hit.at < PENDING_TTL_MS) return hit;
    ({ count, bytes } = store.countAfter(cursor));
    // Only its time is needed: none of a TCP session's chunks are read.
    const first = window.oldest()?.record ?? (count > 0 ? store.readAfter(cursor, 1, () => Number.POSITIVE_INFINITY)[0]?.record : undefined);
    oldest = first ? recordTime(first) : null;
  } catch {
    // The store is closing: report what was known.
    return hit ?? { count: 0, bytes: 0, oldest: null };
  }
  const fresh = { at: now, cursor, lastSeq, count, bytes, oldest };
  pendingCache.set(store, fresh);
  return fresh;
}

function meta(store: SenderStore, key: string): number {
  try {
    const n = Number(store.getMeta(key));
    return Number.isSafeInteger(n) && n > 0 ? n : 0;
  } catch {
    return 0;
  }
}

/** Figures the metrics gauges read on scrape. */
export function senderGaugeFigures(store: SenderStore, cursor: number, window: SendWindow): { pendingRecords: number; pendingBytes: number; purgedUnsent: number } {
  const p = pendingOf(store, cursor, window);
  return { pendingRecords: p.count, pendingBytes: p.bytes, purgedUnsent: meta(store, `${PURGED_UNSENT_META}records`) };
}

/** Builds the sender's status document. */
export function senderStatus(s: StatusSource): SenderStatus {
  const store = s.opts.store;
  const p = pendingOf(store, s.state.cursor, s.window);
  let lastSeq = 0;
  try {
    lastSeq = store.stats().lastSeq;
  } catch {
    // closing
  }
  const up = s.upstream?.();
  return {
    role: 'sender',
    peer: s.label,
    tls: s.opts.peer.tls,
    mutual_tls: Boolean(s.opts.peer.cert),
    compression: s.opts.compression,
    state: s.stopping ? 'stopped' : s.connected ? 'connected' : s.retrying ? 'backoff' : 'connecting',
    connected: s.connected,
    last_success_at: s.live.lastSuccessAt,
    last_error: s.live.lastError,
    next_retry_at: s.live.nextRetryAt,
    cursor: s.state.cursor,
    last_seq: lastSeq,
    pending: { records: p.count, bytes: p.bytes },
    in_flight: { batches: s.window.size, records: s.window.records },
    lag_ms: s.live.lastLagMs,
    behind_ms: p.count > 0 && p.oldest !== null ? Math.max(0, Date.now() - p.oldest) : 0,
    sent: { batches: s.live.batches, records: s.live.records, raw_bytes: s.live.rawBytes, wire_bytes: s.live.wireBytes },
    ledger: {
      node_id: s.opts.nodeId,
      proxied: up?.proxied ?? null,
      recorded: up?.recorded ?? null,
      dropped: up?.dropped ?? null,
      purged_unsent: { records: meta(store, `${PURGED_UNSENT_META}records`), bytes: meta(store, `${PURGED_UNSENT_META}bytes`) },
      sent: s.state.sent_records,
      sent_bytes: s.state.sent_bytes,
      refused_by_peer: s.state.refused_records,
      pending: p.count,
    },
  };
}
