import type { HttpRecord, QRecord } from './model.js';
import type { HttpRequestHead } from './selection-rules.js';

/**
 * Where finished records go (the store implements it). `offer` must never block or throw: it
 * returns false when the record was dropped (queue full, storage failing), and the sink counts why.
 */
export interface RecordSink {
  /**
   * `opts.keep`: the caller holds its traffic back while the sink is congested (TCP recording with
   * `on_overload: "backpressure"`), so the record is taken beyond the queue's soft bound instead of
   * dropped; only a hard bound (twice the queue's) still drops.
   */
  offer(record: QRecord, opts?: { keep?: boolean }): boolean;
  /** True while the sink's queue is past the point where producers that can wait should (backpressure). */
  readonly congested?: boolean;
  /** Calls `fn` once, when the sink is no longer congested (at once if it is not). */
  whenUncongested?(fn: () => void): void;
}

/**
 * What the proxy hands to the recorder when an HTTP exchange ends, whatever the outcome. Headers,
 * URL and bodies are raw (not yet redacted): the recorder redacts, stamps id and node_id, and
 * offers the finished record to its sink.
 */
export type HttpRecordDraft = Omit<HttpRecord, 'v' | 'id' | 'node_id' | 'redacted'>;

/** The recorder as the proxy sees it. */
export interface HttpExchangeRecorder {
  /** False when recording is switched off: the proxy then skips body capture entirely. */
  readonly enabled: boolean;
  /** Bytes of each body to keep (storage.max_body). */
  readonly maxBody: number;
  /**
   * WebSocket frame recording (recording.websocket): `frames` false records an upgrade's
   * handshake only; `maxBytes` bounds the payload bytes kept per connection (0 = no bound).
   */
  readonly websocket: { frames: boolean; maxBytes: number };
  /**
   * Asked once per exchange, when its request head arrives: false (recording off, or the
   * exchange is filtered or sampled out, which is counted) means the proxy captures nothing and
   * commits nothing for it. Never throws.
   */
  admit(head: HttpRequestHead): boolean;
  /** Never throws, never blocks: a failure becomes a counted drop. */
  commit(draft: HttpRecordDraft): void;
}
