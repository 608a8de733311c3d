import { performance } from 'node:perf_hooks';
import { sessionStart } from '../core/session-clock.js';
import {
  RECORD_FORMAT_VERSION,
  type AppProtocol,
  type Endpoint,
  type RecordError,
  type TcpChunk,
  type TcpCloseReason,
  type TcpDirection,
  type TcpRecord,
  type TlsInfo,
} from './model.js';
import { uuidv7 } from '../core/uuidv7.js';
import { TcpChunkBuffer } from './tcp-capture.js';

/** What the proxy knows when a client connection is accepted (after the TLS handshake, if any). */
export interface TcpSessionStart {
  client: Endpoint;
  /** TLS details when the listener terminated TLS. */
  tls: TlsInfo | null;
  /** Whether QProxy speaks TLS to the downstream (recorded even when no downstream could be reached). */
  downstreamTls: boolean;
}

/**
 * One session's recording as the proxy drives it. Calls are cheap and never throw: `chunk` may keep
 * a reference to the Buffer it is given (large reads, see {@link TcpChunkBuffer}), so the caller
 * must not reuse that Buffer's memory.
 */
export interface TcpSessionTap {
  /** The downstream accepted: its "host:port". */
  connected(downstream: string): void;
  /**
   * One read from either socket, as it arrived. Returns false when the relay should stop reading
   * (`on_overload: "backpressure"` and the store is congested) until {@link whenWritable} calls back.
   */
  chunk(dir: TcpDirection, data: Buffer): boolean;
  /** Calls `fn` once recording can take more bytes (at once when it can now). */
  whenWritable(fn: () => void): void;
  /** The session ended (call once; later calls are ignored). */
  close(reason: TcpCloseReason, error: RecordError | null): void;
}

/** What a session needs from its recorder. */
export interface SegmentOutlet {
  readonly nodeId: string;
  readonly maxSessionBytes: number;
  readonly segmentBytes: number;
  /** The listener's application protocol, stamped into every segment; null for raw. */
  readonly appProtocol: AppProtocol | null;
  /** Hands a segment to the sink; false when it was dropped. */
  offer(segment: TcpRecord): boolean;
  /** True while the relay should hold its sockets (backpressure mode and a congested store). */
  readonly holdTraffic: boolean;
  /** Calls `fn` once the relay may read again. */
  whenWritable(fn: () => void): void;
  /** The session has sent its last segment. */
  ended(session: SessionRecording): void;
}

/**
 * The recording of one TCP connection. Chunks are kept until `maxSessionBytes` bytes
 * (both directions together) are kept; later bytes are only counted and the record is marked
 * truncated. Kept chunks wait in `pending` until a segment takes them to the sink, so memory per
 * session stays below about `segmentBytes`:
 *
 * ```
 * chunk ─▶ pending ─(segmentBytes reached, or the recorder's sweep after segmentInterval)─▶ segment (state "open")
 * close ─▶ last segment (state "closed", close_reason) ─▶ store appends it to the same record id
 * ```
 */
export class SessionRecording implements TcpSessionTap {
  readonly id: string;
  readonly #out: SegmentOutlet;
  readonly #start: TcpSessionStart;
  readonly #startedAt: number;
  /** performance.now() at accept: chunk offsets and durations are measured from it. */
  readonly #t0: number;
  #downstream: string | null = null;
  #bytesIn = 0;
  #bytesOut = 0;
  #kept = 0;
  #truncated = false;
  /** A segment was dropped by the sink: the stored record misses bytes, so it is marked truncated. */
  #lost = false;
  #pending: TcpChunk[] = [];
  /** The pending chunks' bytes, copied and laid out as the store writes them. */
  readonly #buffer = new TcpChunkBuffer();
  #pendingBytes = 0;
  /** performance.now() of the last segment, or null before the first. */
  #lastSegment: number | null = null;
  /** bytes_in + bytes_out as of the last segment, to see whether totals moved since. */
  #lastTotals = 0;
  #closed = false;

  constructor(out: SegmentOutlet, start: TcpSessionStart) {
    this.#out = out;
    this.#start = start;
    ({ startedAt: this.#startedAt, t0: this.#t0 } = sessionStart());
    this.id = uuidv7(this.#startedAt);
  }

  connected(downstream: string): void {
    this.#downstream = downstream;
  }

  chunk(dir: TcpDirection, data: Buffer): boolean {
    if (this.#closed) return true;
    const n = data.length;
    if (dir === 'c2s') this.#bytesIn += n;
    else this.#bytesOut += n;
    const room = this.#out.maxSessionBytes - this.#kept;
    if (room <= 0) {
      if (n > 0) this.#truncated = true;
      return true;
    }
    const part = n <= room ? data : data.subarray(0, room);
    if (part !== data) this.#truncated = true;
    const tUs = Math.round((performance.now() - this.#t0) * 1000);
    this.#pending.push({ dir, t_us: tUs, data: this.#buffer.add(dir, tUs, part) });
    this.#kept += part.length;
    this.#pendingBytes += part.length;
    if (this.#pendingBytes >= this.#out.segmentBytes) this.#emit('open', null, null);
    return !this.#out.holdTraffic;
  }

  whenWritable(fn: () => void): void {
    this.#out.whenWritable(fn);
  }

  close(reason: TcpCloseReason, error: RecordError | null): void {
    if (this.#closed) return;
    this.#emit('closed', reason, error);
    this.#closed = true;
    this.#out.ended(this);
  }

  /**
   * Called by the recorder's sweep: the first segment once the session is `intervalMs` old (short
   * sessions then make a single record), later ones when chunks or totals changed and the last
   * segment is `intervalMs` old.
   */
  sweep(now: number, intervalMs: number): void {
    if (this.#closed) return;
    if (this.#lastSegment === null) {
      if (now - this.#t0 >= intervalMs) this.#emit('open', null, null);
      return;
    }
    const changed = this.#pending.length > 0 || this.#bytesIn + this.#bytesOut !== this.#lastTotals;
    if (changed && now - this.#lastSegment >= intervalMs) this.#emit('open', null, null);
  }

  #emit(state: 'open' | 'closed', reason: TcpCloseReason | null, error: RecordError | null): void {
    const now = performance.now();
    const segment: TcpRecord = {
      v: RECORD_FORMAT_VERSION,
      id: this.id,
      protocol: 'tcp',
      node_id: this.#out.nodeId,
      started_at: this.#startedAt,
      duration_ms: Math.round((now - this.#t0) * 1000) / 1000,
      client: this.#start.client,
      tls: this.#start.tls,
      downstream: this.#downstream,
      downstream_tls: this.#start.downstreamTls,
      ...(this.#out.appProtocol !== null && { app_protocol: this.#out.appProtocol }),
      bytes_in: this.#bytesIn,
      bytes_out: this.#bytesOut,
      chunks: this.#pending,
      truncated: this.#truncated || this.#lost,
      state,
      close_reason: reason,
      error,
      redacted: [],
    };
    this.#buffer.attach(segment);
    this.#pending = [];
    this.#pendingBytes = 0;
    this.#lastSegment = now;
    this.#lastTotals = this.#bytesIn + this.#bytesOut;
    if (!this.#out.offer(segment)) this.#lost = true;
  }
}
