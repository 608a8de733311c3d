import type { QRecord } from '../recording/model.js';
import type { Compared } from './results/results-thread.js';
import type { ResultBase } from './results/result.js';

/** How a record is described in its result, whatever happens to it. */
export interface RecordFacts {
  method: string | null;
  target: string | null;
  recorded_status: number | null;
  recorded_ms: number | null;
}

/** What replaying one record gave: no answer, or an answer to compare. */
export type JobOutcome =
  | { ok: false; error: { code: string; message: string }; seconds: number }
  | {
      ok: true;
      seconds: number;
      replayedStatus: number | null;
      replayedMs: number;
      /** Hands the comparison to the results thread; resolves with its verdict. */
      compare(base: ResultBase): Promise<Compared>;
    };

/** A record ready to be scheduled. */
export interface PreparedJob {
  /** Ordering lane (the recorded client connection), or null. */
  lane: string | null;
  /** The lane's next job waits for this one to finish (HTTP/1.x). */
  serial: boolean;
  /** Memory the job holds while queued. */
  bytes: number;
  run(signal: AbortSignal): Promise<JobOutcome>;
}

/** What a driver decides for a record. */
export type Preparation =
  | { kind: 'job'; job: PreparedJob }
  | { kind: 'skipped'; reason: string }
  | { kind: 'dry_run'; reason: string }
  /** Not part of this replay at all (not counted): e.g. a TCP session still open in live replay. */
  | { kind: 'ignore' };

/** Replays one protocol's records. */
export interface ProtocolDriver {
  readonly protocol: 'http' | 'tcp';
  facts(record: QRecord): RecordFacts;
  prepare(record: QRecord): Preparation;
}
