import { errorMessage } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import { RECORD_FORMAT_VERSION, type HttpRecord } from './model.js';
import type { Redactor } from './redaction.js';
import type { HttpRequestHead, RecordingSelector } from './selector.js';
import type { HttpExchangeRecorder, HttpRecordDraft, RecordSink } from './sink.js';
import { uuidv7 } from '../core/uuidv7.js';

/** Why the recorder itself dropped a record (drops inside the sink are the sink's to count). */
export type RecorderDropReason = 'redaction_error' | 'sink_error';

/** Told about every record the recorder drops, e.g. to count it in metrics. */
export interface RecorderObserver {
  dropped(reason: RecorderDropReason, count: number): void;
  /** TCP, `on_overload: "backpressure"`: a session's relay was paused until the store had room. */
  paused?(): void;
}

/** The one logger method the recorder uses. */
export type RecorderLogger = Pick<Logger, 'warn'>;

/** What an HttpRecorder needs, passed in by the composition root. */
export interface HttpRecorderOptions {
  /** False: commit() ignores drafts (the proxy should not capture bodies at all then). */
  enabled: boolean;
  /** Stamped into every record. */
  nodeId: string;
  /** Bytes of each body to capture (storage.max_body). */
  maxBody: number;
  /** recording.websocket; absent: frames recorded, 16 MiB per connection. */
  websocket?: { frames: boolean; maxBytes: number };
  /** Null: records are stored unredacted. */
  redactor: Redactor | null;
  /** Which exchanges are recorded (recording.include / exclude / sample); null or absent: all. */
  selector?: RecordingSelector | null;
  sink: RecordSink;
  observer?: RecorderObserver;
  logger?: RecorderLogger;
}

/**
 * Turns the proxy's drafts into records: redacts, stamps format version, a UUIDv7 id (time-ordered
 * at commit time) and the node id, and offers the record to the sink. It is fail-closed for
 * secrets and fail-open for traffic: if redaction fails the record is dropped (never stored
 * unredacted) and counted, and nothing is ever thrown back into the proxy.
 */
export class HttpRecorder implements HttpExchangeRecorder {
  readonly enabled: boolean;
  readonly maxBody: number;
  readonly websocket: { frames: boolean; maxBytes: number };
  private readonly nodeId: string;
  private readonly redactor: Redactor | null;
  private readonly selector: RecordingSelector | null;
  private readonly sink: RecordSink;
  private readonly observer: RecorderObserver | undefined;
  private readonly logger: RecorderLogger | undefined;
  /** Each failure reason is logged once per recorder: a broken rule would otherwise log per request. */
  private readonly logged = new Set<RecorderDropReason>();

  constructor(opts: HttpRecorderOptions) {
    this.enabled = opts.enabled;
    this.maxBody = opts.maxBody;
    this.websocket = opts.websocket ?? { frames: true, maxBytes: 16 * 1024 * 1024 };
    this.nodeId = opts.nodeId;
    this.redactor = opts.redactor;
    this.selector = opts.selector ?? null;
    this.sink = opts.sink;
    this.observer = opts.observer;
    this.logger = opts.logger;
  }

  admit(head: HttpRequestHead): boolean {
    if (!this.enabled) return false;
    return this.selector === null || this.selector.http(head);
  }

  /** Redacts, stamps and offers one exchange (one the proxy admitted). Never throws. */
  commit(draft: HttpRecordDraft): void {
    if (!this.enabled) return;
    let record: HttpRecord;
    try {
      record = this.build(draft);
    } catch (err) {
      this.drop('redaction_error', err);
      return;
    }
    try {
      // false means the sink dropped it and already counted why.
      this.sink.offer(record);
    } catch (err) {
      this.drop('sink_error', err);
    }
  }

  private build(draft: HttpRecordDraft): HttpRecord {
    const { draft: d, redacted } = this.redactor ? this.redactor.redactHttp(draft) : { draft, redacted: [] };
    // Fields named rather than spread after `v, id, node_id` (a spread there copies property by
    // property at runtime, ~2× the literal), in the order buildHttpDraft gives them, so the stored
    // document is the same text as with the spread.
    const id = uuidv7();
    if (d.websocket === undefined) {
      return {
        v: RECORD_FORMAT_VERSION, id, node_id: this.nodeId, protocol: d.protocol, started_at: d.started_at, duration_ms: d.duration_ms,
        client: d.client, tls: d.tls, downstream: d.downstream, request: d.request, response: d.response, status: d.status,
        timings: d.timings, error: d.error, redacted,
      };
    }
    return {
      v: RECORD_FORMAT_VERSION, id, node_id: this.nodeId, protocol: d.protocol, started_at: d.started_at, duration_ms: d.duration_ms,
      client: d.client, tls: d.tls, downstream: d.downstream, request: d.request, response: d.response, status: d.status,
      timings: d.timings, error: d.error, websocket: d.websocket, redacted,
    };
  }

  private drop(reason: RecorderDropReason, err: unknown): void {
    // An observer or logger that throws must not reach the proxy, nor keep the other from running.
    try {
      this.observer?.dropped(reason, 1);
    } catch {
      // counted nowhere: the observer itself is what failed
    }
    if (this.logger === undefined || this.logged.has(reason)) return;
    this.logged.add(reason);
    try {
      const code = (err as { code?: unknown } | null)?.code;
      this.logger.warn(
        { reason, err: { name: (err as Error | null)?.name, code, message: errorMessage(err) } },
        reason === 'redaction_error'
          ? 'recording dropped: redaction failed, so the record was not stored; later failures are only counted'
          : 'recording dropped: the record sink threw; later failures are only counted',
      );
    } catch {
      // same as above: logging is best effort here
    }
  }
}
