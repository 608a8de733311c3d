import { ApiError } from './api-errors.js';
import { parseIso8601 } from '../core/iso8601.js';

/** What `GET /api/records` asks the store for. Times are epoch milliseconds, inclusive. */
export interface RecordQuery {
  start?: number;
  end?: number;
  limit: number;
  protocol?: 'http' | 'tcp';
  /** The previous page's `next`, passed back to the store unread. */
  cursor?: string;
}

export const DEFAULT_LIMIT = 100;
export const MAX_LIMIT = 1000;
const MAX_CURSOR_LENGTH = 1024;
/** The store's parameters, and the filters applied to its pages (records-filter.ts). */
const PARAMS = ['start', 'end', 'limit', 'protocol', 'cursor', 'method', 'status', 'q'];

function badParam(message: string): ApiError {
  return new ApiError(400, 'QP_ERR_API_BAD_PARAM', message);
}

/** A client's value, quoted and shortened for an error message. */
function shown(value: string): string {
  return JSON.stringify(value.length > 64 ? `${value.slice(0, 64)}…` : value);
}

function time(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const ms = parseIso8601(value);
  if (ms === null) {
    throw badParam(`${name} must be an ISO 8601 date or date-time such as 2024-05-01T12:00:00Z, got ${shown(value)}`);
  }
  return ms;
}

function limit(value: string | undefined): number {
  if (value === undefined) return DEFAULT_LIMIT;
  const n = /^\d{1,7}$/.test(value) ? Number(value) : NaN;
  if (!(n >= 1 && n <= MAX_LIMIT)) throw badParam(`limit must be an integer from 1 to ${MAX_LIMIT}, got ${shown(value)}`);
  return n;
}

function protocol(value: string | undefined): 'http' | 'tcp' | undefined {
  if (value === undefined || value === 'http' || value === 'tcp') return value;
  throw badParam(`protocol must be "http" or "tcp", got ${shown(value)}`);
}

function cursor(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (value === '' || value.length > MAX_CURSOR_LENGTH) {
    throw badParam('cursor must be the "next" value of the previous page, unchanged');
  }
  return value;
}

/**
 * Reads and checks the query of `GET /api/records`. Unknown and repeated parameters are errors
 * too: a typo such as `?form=` must not silently return everything.
 */
export function parseRecordQuery(params: URLSearchParams): RecordQuery {
  const seen = new Set<string>();
  for (const name of params.keys()) {
    if (!PARAMS.includes(name)) throw badParam(`unknown query parameter ${shown(name)}; known: ${PARAMS.join(', ')}`);
    if (seen.has(name)) throw badParam(`query parameter ${name} is given more than once`);
    seen.add(name);
  }
  const get = (name: string): string | undefined => params.get(name) ?? undefined;
  const q: RecordQuery = { limit: limit(get('limit')) };
  const start = time('start', get('start'));
  const end = time('end', get('end'));
  if (start !== undefined && end !== undefined && start > end) {
    throw badParam(`start (${get('start')}) is after end (${get('end')})`);
  }
  if (start !== undefined) q.start = start;
  if (end !== undefined) q.end = end;
  const proto = protocol(get('protocol'));
  if (proto !== undefined) q.protocol = proto;
  const next = cursor(get('cursor'));
  if (next !== undefined) q.cursor = next;
  return q;
}
