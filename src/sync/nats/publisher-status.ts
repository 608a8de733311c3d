import type { PublisherStatus } from '../../core/documents.js';
import { PURGED_UNSENT_META } from '../../store/index.js';
import { recordTime } from '../lag.js';
import type { UpstreamFigures } from '../peer/sender-status.js';
import type { SenderStore } from '../store-port.js';
import type { PersistedPublisher } from './publisher-state.js';

/**
 * A count of what is left to send is a range scan; status and scrapes reuse it for a second while
 * neither the cursor nor the store's last seq moved (new records make it stale at once).
 */
const PENDING_TTL_MS = 1000;

/** What is left to publish after the cursor, cached briefly. */
export class PendingFigures {
  private hit: { at: number; cursor: number; lastSeq: number; count: number; bytes: number; oldest: number | null } | null = null;

  constructor(private readonly store: SenderStore) {}

  read(cursor: number): { count: number; bytes: number; oldest: number | null } {
    const now = Date.now();
    try {
      const lastSeq = this.store.stats().lastSeq;
      if (this.hit && this.hit.cursor === cursor && this.hit.lastSeq === lastSeq && now - this.hit.at < PENDING_TTL_MS) return this.hit;
      const { count, bytes } = this.store.countAfter(cursor);
      // Only its time is needed: none of a TCP session's chunks are read.
      const first = count > 0 ? this.store.readAfter(cursor, 1, () => Number.POSITIVE_INFINITY)[0]?.record : undefined;
      this.hit = { at: now, cursor, lastSeq, count, bytes, oldest: first ? recordTime(first) : null };
    } catch {
      // The store is closing: report what was known.
      return this.hit ?? { count: 0, bytes: 0, oldest: null };
    }
    return this.hit;
  }

  /** Records the store's size limit purged before they were sent (since the store was created). */
  purged(): { records: number; bytes: number } {
    return { records: this.meta(`${PURGED_UNSENT_META}records`), bytes: this.meta(`${PURGED_UNSENT_META}bytes`) };
  }

  lastSeq(): number {
    try {
      return this.store.stats().lastSeq;
    } catch {
      return 0;
    }
  }

  private meta(key: string): number {
    try {
      const n = Number(this.store.getMeta(key));
      return Number.isSafeInteger(n) && n > 0 ? n : 0;
    } catch {
      return 0;
    }
  }
}

export interface PublisherLive {
  lastSuccessAt: string | null;
  lastError: PublisherStatus['last_error'];
  lastLagMs: number | null;
  messages: number;
  records: number;
  rawBytes: number;
  wireBytes: number;
  duplicates: number;
  split: number;
}

/** Builds the publisher's status document. */
export function publisherStatus(s: {
  nodeId: string;
  servers: string;
  server: string | null;
  stream: string;
  prefix: string;
  state: PublisherStatus['state'];
  connected: boolean;
  nextRetryAt: string | null;
  persisted: PersistedPublisher;
  inFlight: number;
  live: PublisherLive;
  pending: PendingFigures;
  upstream: (() => UpstreamFigures) | undefined;
}): PublisherStatus {
  const p = s.pending.read(s.persisted.cursor);
  const up = s.upstream?.();
  return {
    role: 'sender',
    backend: 'nats',
    servers: s.servers,
    server: s.server,
    stream: s.stream,
    subject_prefix: s.prefix,
    state: s.state,
    connected: s.connected,
    last_success_at: s.live.lastSuccessAt,
    last_error: s.live.lastError,
    next_retry_at: s.nextRetryAt,
    cursor: s.persisted.cursor,
    last_seq: s.pending.lastSeq(),
    pending: { records: p.count, bytes: p.bytes },
    in_flight: { messages: s.inFlight },
    lag_ms: s.live.lastLagMs,
    behind_ms: p.count > 0 && p.oldest !== null ? Math.max(0, Date.now() - p.oldest) : 0,
    sent: {
      messages: s.live.messages,
      records: s.live.records,
      raw_bytes: s.live.rawBytes,
      wire_bytes: s.live.wireBytes,
      duplicates: s.live.duplicates,
      split: s.live.split,
    },
    ledger: {
      node_id: s.nodeId,
      proxied: up?.proxied ?? null,
      recorded: up?.recorded ?? null,
      dropped: up?.dropped ?? null,
      purged_unsent: s.pending.purged(),
      sent: s.persisted.sent_records,
      sent_bytes: s.persisted.sent_bytes,
      pending: p.count,
    },
  };
}
