/**
 * The running summary of one replay: counts per result status, success rate, latency recorded vs
 * replayed, scheduler lateness, the most frequent kinds of difference and failure.
 */
import type { EndpointCounts, ReplaySummaryDoc } from '../../core/documents.js';
import { RESULT_STATUSES, type ResultStatus } from '../results/result.js';
import { LogHistogram } from './histogram.js';

/** Distinct difference kinds (and error codes) tracked per replay; more are folded into "other". */
const MAX_KINDS = 500;
const TOP = 10;

const TOP_ENDPOINTS = 50;

class EndpointTable {
  private readonly rows = new Map<string, EndpointCounts>();

  add(endpoint: string, status: ResultStatus): void {
    const key = this.rows.has(endpoint) || this.rows.size < MAX_KINDS ? endpoint : 'other';
    let row = this.rows.get(key);
    if (row === undefined) {
      row = { endpoint: key, results: 0, match: 0, mismatch: 0, failed: 0, mismatch_rate: null };
      this.rows.set(key, row);
    }
    row.results++;
    if (status === 'match' || status === 'mismatch' || status === 'failed') row[status]++;
  }

  ranked(n: number): EndpointCounts[] {
    return [...this.rows.values()]
      .sort((a, b) => b.mismatch - a.mismatch || b.failed - a.failed || b.results - a.results || (a.endpoint < b.endpoint ? -1 : 1))
      .slice(0, n)
      .map((r) => {
        const replayed = r.match + r.mismatch + r.failed;
        return { ...r, mismatch_rate: replayed === 0 ? null : Math.round((r.mismatch / replayed) * 10_000) / 10_000 };
      });
  }
}

class TopCounter {
  private readonly counts = new Map<string, number>();

  add(key: string): void {
    const k = this.counts.has(key) || this.counts.size < MAX_KINDS ? key : 'other';
    this.counts.set(k, (this.counts.get(k) ?? 0) + 1);
  }

  top(n: number): Array<[string, number]> {
    return [...this.counts.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, n);
  }
}

export class ReplaySummary {
  readonly counts: Record<ResultStatus, number> = Object.fromEntries(RESULT_STATUSES.map((s) => [s, 0])) as Record<ResultStatus, number>;
  private truncatedCount = 0;
  private readonly recordedMs = new LogHistogram();
  private readonly replayedMs = new LogHistogram();
  readonly lateness = new LogHistogram();
  private readonly kinds = new TopCounter();
  private readonly errors = new TopCounter();
  private readonly endpoints = new EndpointTable();

  add(status: ResultStatus, r: { truncated?: boolean; kinds?: readonly string[]; errorCode?: string | null; endpoint?: string }): void {
    this.counts[status]++;
    if (r.endpoint !== undefined) this.endpoints.add(r.endpoint, status);
    if (r.truncated) this.truncatedCount++;
    for (const k of r.kinds ?? []) this.kinds.add(k);
    if (r.errorCode) this.errors.add(r.errorCode);
  }

  latency(recordedMs: number | null, replayedMs: number): void {
    if (recordedMs !== null) this.recordedMs.record(recordedMs);
    this.replayedMs.record(replayedMs);
  }

  get replayed(): number {
    return this.counts.match + this.counts.mismatch + this.counts.failed;
  }

  get successRate(): number | null {
    const n = this.replayed;
    return n === 0 ? null : this.counts.match / n;
  }

  toJSON(): ReplaySummaryDoc {
    const rate = this.successRate;
    const rec = this.recordedMs.summary();
    const rep = this.replayedMs.summary();
    const late = this.lateness.summary();
    return {
      counts: { ...this.counts },
      replayed: this.replayed,
      success_rate: rate === null ? null : Math.round(rate * 10_000) / 10_000,
      truncated: this.truncatedCount,
      latency_ms: { recorded: { p50: rec.p50, p99: rec.p99 }, replayed: { p50: rep.p50, p99: rep.p99 } },
      lateness_ms: { p50: late.p50, p99: late.p99, max: late.max },
      top_differences: this.kinds.top(TOP).map(([kind, count]) => ({ kind, count })),
      top_errors: this.errors.top(TOP).map(([error, count]) => ({ error, count })),
      endpoints: this.endpoints.ranked(TOP_ENDPOINTS),
    };
  }
}
