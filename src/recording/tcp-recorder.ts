import { performance } from 'node:perf_hooks';
import { errorMessage } from '../core/errors.js';
import type { AppProtocol, TcpRecord } from './model.js';
import type { RecorderLogger, RecorderObserver } from './recorder.js';
import type { RecordingSelector } from './selector.js';
import type { RecordSink } from './sink.js';
import { SessionRecording, type SegmentOutlet, type TcpSessionStart, type TcpSessionTap } from './tcp-session-recording.js';

export type { TcpSessionStart, TcpSessionTap } from './tcp-session-recording.js';

/** The TCP recorder as the proxy sees it. */
export interface TcpSessionRecorder {
  /** False when recording is off: `open` then returns null and the proxy records nothing. */
  readonly enabled: boolean;
  /**
   * Starts recording one accepted connection; null when recording is off or the session is
   * filtered or sampled out (counted). Never throws.
   */
  open(start: TcpSessionStart): TcpSessionTap | null;
}

/** What a TcpRecorder needs, passed in by the composition root. */
export interface TcpRecorderOptions {
  /** False: `open()` returns null. */
  enabled: boolean;
  /** Stamped into every record. */
  nodeId: string;
  /** Bytes of one session kept (both directions together); later bytes are counted only. */
  maxSessionBytes: number;
  /**
   * The listener's `tcp.protocol` (null or absent for raw): stamped into each record so that the
   * API, replay and comparison read the bytes as messages. Recording itself stays byte-for-byte.
   */
  appProtocol?: AppProtocol | null;
  /** An open session's new chunks go to the sink at least this often (ms). */
  segmentIntervalMs: number;
  /** ... or as soon as this many new bytes are waiting. */
  segmentBytes: number;
  /**
   * `tcp.recording.on_overload`: "drop" (default) sheds segments when the store's queue is full
   * (counted, the record marked truncated); "backpressure" pauses the relay's sockets while the
   * store is congested, so that nothing is shed (the traffic slows down to the disk instead).
   */
  onOverload?: 'drop' | 'backpressure';
  /** Which sessions are recorded (recording.include / exclude / sample); null or absent: all. */
  selector?: RecordingSelector | null;
  sink: RecordSink;
  observer?: RecorderObserver;
  logger?: RecorderLogger;
}

/** The sweep runs twice per interval, so a segment is never more than 1.5 intervals late. */
const SWEEPS_PER_INTERVAL = 2;

/**
 * Records TCP sessions: one record per connection, written in segments while it is open (see
 * {@link SessionRecording}). One timer for all open sessions sends the segments that are due; it
 * runs only while some session is open. Redaction does not apply to raw TCP bytes (`redacted: []`).
 */
export class TcpRecorder implements TcpSessionRecorder, SegmentOutlet {
  readonly enabled: boolean;
  readonly nodeId: string;
  readonly maxSessionBytes: number;
  readonly segmentBytes: number;
  readonly appProtocol: AppProtocol | null;
  readonly #intervalMs: number;
  readonly #backpressure: boolean;
  readonly #sink: RecordSink;
  readonly #selector: RecordingSelector | null;
  readonly #observer: RecorderObserver | undefined;
  readonly #logger: RecorderLogger | undefined;
  readonly #open = new Set<SessionRecording>();
  #timer: NodeJS.Timeout | null = null;
  #loggedSinkError = false;

  constructor(opts: TcpRecorderOptions) {
    this.enabled = opts.enabled;
    this.nodeId = opts.nodeId;
    this.maxSessionBytes = Math.max(0, opts.maxSessionBytes);
    this.segmentBytes = Math.max(1, opts.segmentBytes);
    this.appProtocol = opts.appProtocol ?? null;
    this.#intervalMs = Math.max(1, opts.segmentIntervalMs);
    this.#backpressure = opts.onOverload === 'backpressure' && opts.sink.whenUncongested !== undefined;
    this.#sink = opts.sink;
    this.#selector = opts.selector ?? null;
    this.#observer = opts.observer;
    this.#logger = opts.logger;
  }

  /** Sessions being recorded now. */
  get openSessions(): number {
    return this.#open.size;
  }

  open(start: TcpSessionStart): TcpSessionTap | null {
    if (!this.enabled) return null;
    if (this.#selector !== null && !this.#selector.tcp(start)) return null;
    const session = new SessionRecording(this, start);
    this.#open.add(session);
    if (this.#timer === null) {
      this.#timer = setInterval(() => this.#sweep(), Math.max(1, Math.floor(this.#intervalMs / SWEEPS_PER_INTERVAL)));
      this.#timer.unref();
    }
    return session;
  }

  /** @internal Used by SessionRecording. Never throws: a throwing sink is a counted drop. */
  offer(segment: TcpRecord): boolean {
    try {
      // false means the sink dropped it and already counted why.
      return this.#backpressure ? this.#sink.offer(segment, { keep: true }) : this.#sink.offer(segment);
    } catch (err) {
      this.#sinkFailed(err);
      return false;
    }
  }

  /** @internal Used by SessionRecording: in backpressure mode, while the sink is congested. */
  get holdTraffic(): boolean {
    return this.#backpressure && this.#sink.congested === true;
  }

  /** @internal Used by SessionRecording. */
  whenWritable(fn: () => void): void {
    if (this.#backpressure && this.#sink.whenUncongested) {
      try {
        this.#observer?.paused?.();
      } catch {
        // counting is best effort
      }
      this.#sink.whenUncongested(fn);
    } else queueMicrotask(fn);
  }

  /** @internal Used by SessionRecording once its last segment is out. */
  ended(session: SessionRecording): void {
    this.#open.delete(session);
    if (this.#open.size === 0 && this.#timer !== null) {
      clearInterval(this.#timer);
      this.#timer = null;
    }
  }

  #sweep(): void {
    const now = performance.now();
    for (const session of this.#open) session.sweep(now, this.#intervalMs);
  }

  #sinkFailed(err: unknown): void {
    try {
      this.#observer?.dropped('sink_error', 1);
    } catch {
      // the observer itself failed: nothing left to tell
    }
    if (this.#loggedSinkError || this.#logger === undefined) return;
    this.#loggedSinkError = true;
    try {
      this.#logger.warn({ reason: 'sink_error', err: errorMessage(err) }, 'TCP recording segment dropped: the record sink threw; later failures are only counted');
    } catch {
      // logging is best effort here
    }
  }
}
