/**
 * What a replay stores per record; the record's result is the API document
 * `GET /api/replays/{id}/results` shows (core/documents.ts).
 */
import type { ReplayResult, ResultStatus } from '../../core/documents.js';

export type { ReplayResult, ResultStatus };

export const RESULT_STATUSES: readonly ResultStatus[] = ['match', 'mismatch', 'failed', 'skipped', 'dry_run', 'missing'];

/** A result before comparison: everything the replaying side knows. */
export type ResultBase = Omit<ReplayResult, 'status' | 'truncated' | 'kinds' | 'diff'>;
