/**
 * The record filters of `GET /api/records` as command-line options, shared by `records` and
 * `export`, and the page size arithmetic for `--limit` / `--all`.
 */
import { UsageError, intOption, timeOption } from './args.js';

/** The filter options (parseArgs shape). */
export const FILTER_OPTIONS = {
  start: { type: 'string' },
  end: { type: 'string' },
  protocol: { type: 'string' },
  limit: { type: 'string' },
  all: { type: 'boolean' },
} as const;

export const FILTER_USAGE = `  --start TIME       records from TIME: ISO 8601 (2024-05-01T12:00:00Z), "now", or relative (-15m, -2h, -1d)
  --end TIME         records up to TIME (same forms)
  --limit N          at most N records (default 100; pages of up to 1000 are fetched as needed)
  --all              every record that matches (ignores --limit)`;

/** The API's largest page. */
export const MAX_PAGE = 1000;
const DEFAULT_LIMIT = 100;

export interface RecordFilter {
  /** Query parameters without limit/cursor. */
  query: Record<string, string>;
  /** Records wanted in all; Infinity with --all. */
  max: number;
}

/** Reads the filter options; `protocol` is refused where the command has a fixed one. */
export function recordFilter(
  values: { start?: string | undefined; end?: string | undefined; protocol?: string | undefined; limit?: string | undefined; all?: boolean | undefined },
  now: number,
): RecordFilter {
  const query: Record<string, string> = {};
  if (values.start !== undefined) query.start = timeOption('start', values.start, now);
  if (values.end !== undefined) query.end = timeOption('end', values.end, now);
  if (values.protocol !== undefined) {
    if (values.protocol !== 'http' && values.protocol !== 'tcp') throw new UsageError(`--protocol must be http or tcp, got ${JSON.stringify(values.protocol)}`);
    query.protocol = values.protocol;
  }
  if (values.all === true && values.limit !== undefined) throw new UsageError('give either --all or --limit, not both');
  const max = values.all === true ? Infinity : values.limit !== undefined ? intOption('limit', values.limit, 1, 100_000_000) : DEFAULT_LIMIT;
  return { query, max };
}

/** Size of the next page when `got` of `max` records are in. */
export function pageSize(max: number, got: number): number {
  return Math.min(MAX_PAGE, max - got);
}
