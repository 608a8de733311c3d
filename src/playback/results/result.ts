/**
 * What a replay stores per record and how it is shown in the API. Field names are snake_case
 * because they are the public JSON shape of `GET /api/replays/{id}/results`.
 */

/**
 * How one record fared: `match` / `mismatch` (compared), `failed` (the target gave no answer),
 * `skipped` (safety policy, or not replayable such as a truncated request body), `dry_run` (the
 * policy only counts it), `missing` (the record is no longer in the store).
 */
export type ResultStatus = 'match' | 'mismatch' | 'failed' | 'skipped' | 'dry_run' | 'missing';

export const RESULT_STATUSES: readonly ResultStatus[] = ['match', 'mismatch', 'failed', 'skipped', 'dry_run', 'missing'];

/** One record's result. */
export interface ReplayResult {
  replay_id: string;
  record_id: string;
  protocol: 'http' | 'tcp';
  status: ResultStatus;
  /** HTTP method, null for TCP. */
  method: string | null;
  /** HTTP request target as recorded, or the TCP session's recorded downstream. */
  target: string | null;
  recorded_status: number | null;
  replayed_status: number | null;
  /** HTTP: time to the response head; TCP: session length. */
  recorded_ms: number | null;
  replayed_ms: number | null;
  /** How late the scheduler sent it, against its target time. */
  lateness_ms: number | null;
  /** A body (or byte stream) was compared by prefix or left out because it was truncated. */
  truncated: boolean;
  /** Kinds of difference ("status", "header content-type", "json $.price", "body"). */
  kinds: string[];
  /** A short readable diff (one line per difference), or null. */
  diff: string | null;
  /** Why it failed or was skipped ("QP_ERR_REPLAY_TIMEOUT: …", "safety policy: skip"), or null. */
  error: string | null;
  /** Epoch ms when the result was decided. */
  at: number;
}

/** A result before comparison: everything the replaying side knows. */
export type ResultBase = Omit<ReplayResult, 'status' | 'truncated' | 'kinds' | 'diff'>;
