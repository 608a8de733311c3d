import type { QRecord, RecordSummary } from '../../recording/model.js';

/** What playback reads from the record store (the Store implements it). */
export interface PlaybackStore {
  /** Newest first; `end` exclusive. Throws QP_ERR_BAD_CURSOR / QP_ERR_BAD_QUERY for bad input. */
  list(q: { start?: number; end?: number; limit: number; protocol?: 'http' | 'tcp'; cursor?: string }): {
    records: RecordSummary[];
    next: string | null;
  };
  get(id: string): QRecord | null;
  /**
   * Records above feed position `seq`, ascending. `tcpFrom` (see the store): per TCP session (id,
   * open), the first chunk needed; earlier ones may be left out of `record.chunks`.
   */
  readAfter(seq: number, limit: number, tcpFrom?: (id: string, open: boolean) => number): Array<{ seq: number; record: QRecord }>;
  stats(): { lastSeq: number };
}

/** What a replay takes from a record source: a record (or an id that no longer exists) and its feed position. */
export interface SourceItem {
  id: string;
  /** Null when the record is gone from the store. */
  record: QRecord | null;
  /** Feed position (live replay), or -1. */
  seq: number;
}

/** A feed of records in replay order. */
export interface RecordSource {
  /** The next records; an empty array when none are there yet (live), null when exhausted. */
  next(): Promise<SourceItem[] | null>;
}
