/**
 * How a finished replay is shown: the summary block, the live progress line, and the worst
 * differences read from its results.
 */
import type { ReplayDoc, ReplayResult } from '../core/documents.js';
import type { ApiClient } from './api-client.js';
import { formatDuration, formatRate, truncate } from './table.js';
import type { Style } from './terminal.js';

/** Results fetched to pick the worst differences from. */
const SAMPLE = 200;
const DIFF_LINES = 6;

/** Records the replay has decided so far, whatever the outcome. */
export function handled(doc: ReplayDoc): number {
  return Object.values(doc.summary.counts).reduce((a, b) => a + b, 0);
}

/** The counts after the progress bar. */
export function progressDetail(doc: ReplayDoc, elapsedMs: number): string {
  const c = doc.summary.counts;
  return `match ${c.match} · mismatch ${c.mismatch} · failed ${c.failed} · skipped ${c.skipped + c.dry_run + c.missing} · success ${formatRate(doc.summary.success_rate)} · ${formatDuration(elapsedMs)}`;
}

function durationOf(doc: ReplayDoc): number | null {
  return doc.finished_at === null ? null : Date.parse(doc.finished_at) - Date.parse(doc.created_at);
}

/** The summary block: counts, success rate against the threshold, top kinds of difference and error. */
export function renderSummary(doc: ReplayDoc, threshold: number | null, style: Style): string {
  const c = doc.summary.counts;
  const rate = doc.summary.success_rate;
  const duration = durationOf(doc);
  const state = doc.state === 'done' ? style.green(doc.state) : style.red(doc.state);
  const lines = [
    style.bold(`replay ${doc.id} ${state}${duration === null ? '' : ` in ${formatDuration(duration)}`}`),
    `  total         ${handled(doc)}`,
    `  matched       ${c.match}`,
    `  mismatched    ${c.mismatch}`,
    `  errors        ${c.failed}`,
    `  skipped       ${c.skipped}${c.dry_run + c.missing > 0 ? ` (+ ${c.dry_run} dry run, ${c.missing} missing)` : ''}`,
  ];
  let rateLine = `  success rate  ${formatRate(rate)}`;
  if (threshold !== null) {
    const ok = rate !== null && rate >= threshold;
    rateLine += `  (threshold ${formatRate(threshold)}: ${ok ? style.green('ok') : style.red('BELOW')})`;
  }
  lines.push(style.bold(rateLine));
  if (doc.error) lines.push(style.red(`  error: ${doc.error}`));
  const kinds = doc.summary.top_differences.map((d) => `${d.kind} ×${d.count}`);
  if (kinds.length > 0) lines.push(`  differences   ${kinds.join(', ')}`);
  const errors = doc.summary.top_errors.map((e) => `${e.error} ×${e.count}`);
  if (errors.length > 0) lines.push(`  error kinds   ${errors.join(', ')}`);
  return lines.join('\n');
}

/** Worse first: a changed status, then more kinds of difference. */
function severity(r: ReplayResult): number {
  return (r.recorded_status !== r.replayed_status ? 1000 : 0) + r.kinds.length;
}

function showResult(r: ReplayResult, width: number | null, style: Style): string[] {
  const statuses = r.protocol === 'http' ? `  ${r.recorded_status ?? '-'} → ${r.replayed_status ?? '-'}` : '';
  const head = `  ${style.bold(`${r.method ?? r.protocol.toUpperCase()} ${r.target ?? ''}`)}${statuses}  ${style.dim(r.record_id)}`;
  const detail = r.status === 'failed' ? [r.error ?? 'no answer'] : (r.diff ?? r.kinds.join(', ')).split('\n');
  const shown = detail.slice(0, DIFF_LINES).map((l) => `      ${width === null ? l : truncate(l, Math.max(20, width - 7))}`);
  if (detail.length > DIFF_LINES) shown.push(style.dim(`      … ${detail.length - DIFF_LINES} more lines (qproxy records show ${r.record_id})`));
  return [head, ...shown];
}

/** The `count` worst mismatches (and a few failures), read from the replay's results. */
export async function renderWorstDiffs(client: ApiClient, doc: ReplayDoc, count: number, width: number | null, style: Style): Promise<string | null> {
  if (count === 0) return null;
  const path = `/api/replays/${encodeURIComponent(doc.id)}/results`;
  const lines: string[] = [];
  if (doc.summary.counts.mismatch > 0) {
    const page = await client.json<{ results: ReplayResult[] }>({ path, query: { status: 'mismatch', limit: SAMPLE } });
    const worst = [...page.results].sort((a, b) => severity(b) - severity(a)).slice(0, count);
    lines.push(style.bold(`worst differences (${worst.length} of ${doc.summary.counts.mismatch}):`));
    for (const r of worst) lines.push(...showResult(r, width, style));
  }
  if (doc.summary.counts.failed > 0) {
    const page = await client.json<{ results: ReplayResult[] }>({ path, query: { status: 'failed', limit: Math.min(count, 3) } });
    lines.push(style.bold(`errors (${page.results.length} of ${doc.summary.counts.failed}):`));
    for (const r of page.results) lines.push(...showResult(r, width, style));
  }
  return lines.length === 0 ? null : lines.join('\n');
}
