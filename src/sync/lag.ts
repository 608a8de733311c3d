import type { QRecord } from '../recording/model.js';

/** What lag is measured from: a record's times (a stored HTTP entry carries them without its record). */
export type RecordTimes = Pick<QRecord, 'started_at' | 'duration_ms'>;

/**
 * When a record came into being, for sync lag: the end of the exchange (an HTTP record is written
 * when the response ends) or, for a TCP segment, the time of its last recorded byte. Measuring from
 * `started_at` alone would count a 30-second download as 30 seconds of sync delay.
 */
export function recordTime(r: RecordTimes): number {
  return r.started_at + Math.max(0, r.duration_ms);
}

/** Seconds from each record's time to `now` (never negative: clocks of two zones may differ a little). */
export function lagSeconds(records: Iterable<RecordTimes>, now: number): number[] {
  const out: number[] = [];
  for (const r of records) out.push(Math.max(0, now - recordTime(r)) / 1000);
  return out;
}
