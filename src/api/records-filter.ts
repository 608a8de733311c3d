/**
 * @module The filters of `GET /api/records` beyond what the store selects by (time, protocol):
 * `method`, `status` and a text search `q`. They are applied to the store's summaries page by page,
 * so they work with any store behind the ApiRecords interface. A filtered page stops at `limit`
 * matches or after a bounded scan, whichever comes first; then `next` is where the scan stopped, so a
 * page may hold fewer than `limit` records (even none) while `next` is not null.
 */
import type { RecordSummary } from '../recording/model.js';
import { ApiError } from './api-errors.js';
import type { RecordQuery } from './records-query.js';
import type { ApiRecords, RecordPage } from './routes.js';

export interface RecordFilter {
  /** Upper-case HTTP methods; a record matches any of them. */
  methods?: readonly string[];
  /** Status ranges ([400, 499] for "4xx"); `none` matches records with no status sent (failed before an answer). */
  statuses?: ReadonlyArray<readonly [number, number] | 'none'>;
  /** Lower-case text looked for in the URL, the downstream, the client address and the id. */
  text?: string;
}

/**
 * One filtered page reads at most this many store pages, and stops once this many records were
 * scanned: a sparse filter answers within milliseconds, and the client pages on with `next`.
 */
const MAX_STORE_CALLS = 100;
const MAX_SCANNED = 2000;
const MAX_TEXT = 256;
const METHOD = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,32}$/;

function badParam(message: string): ApiError {
  return new ApiError(400, 'QP_ERR_API_BAD_PARAM', message);
}

function list(value: string): string[] {
  return value.split(',').map((v) => v.trim()).filter((v) => v !== '');
}

function statusRange(item: string): readonly [number, number] | 'none' {
  const lower = item.toLowerCase();
  if (lower === 'none') return 'none';
  if (/^[1-5]xx$/.test(lower)) {
    const base = Number(lower[0]) * 100;
    return [base, base + 99];
  }
  if (/^[1-5]\d\d$/.test(lower)) return [Number(lower), Number(lower)];
  throw badParam(`status must be codes or classes such as 404, 5xx or 4xx,5xx (or "none"), got ${JSON.stringify(item.slice(0, 64))}`);
}

/** Reads `method`, `status` and `q`; null when none is given. Each at most once (parseRecordQuery checks). */
export function parseRecordFilter(params: URLSearchParams): RecordFilter | null {
  const f: RecordFilter = {};
  const method = params.get('method');
  if (method !== null) {
    const methods = list(method);
    const bad = methods.find((m) => !METHOD.test(m));
    if (methods.length === 0 || bad !== undefined) throw badParam(`method must be HTTP methods such as GET or GET,POST, got ${JSON.stringify(method.slice(0, 64))}`);
    f.methods = methods.map((m) => m.toUpperCase());
  }
  const status = params.get('status');
  if (status !== null) {
    const items = list(status);
    if (items.length === 0) throw badParam('status is empty; give codes or classes such as 404 or 5xx');
    f.statuses = items.map(statusRange);
  }
  const q = params.get('q');
  if (q !== null && q.trim() !== '') {
    if (q.length > MAX_TEXT) throw badParam(`q is longer than ${MAX_TEXT} characters`);
    f.text = q.trim().toLowerCase();
  }
  return Object.keys(f).length === 0 ? null : f;
}

export function matchesFilter(s: RecordSummary, f: RecordFilter): boolean {
  if (f.methods !== undefined && (s.method === undefined || !f.methods.includes(s.method.toUpperCase()))) return false;
  if (f.statuses !== undefined) {
    const code = s.status ?? null;
    const ok = f.statuses.some((r) => (r === 'none' ? code === null : code !== null && code >= r[0] && code <= r[1]));
    if (!ok) return false;
  }
  if (f.text !== undefined) {
    const t = f.text;
    const fields = [s.url, s.downstream, s.client, s.id];
    if (!fields.some((v) => typeof v === 'string' && v.toLowerCase().includes(t))) return false;
  }
  return true;
}

/**
 * One page of records that pass the filter, newest first. Each store call asks for as many
 * records as are still missing, so the page never exceeds `limit` and `next` always points just
 * after the last record scanned.
 */
export function listFiltered(records: ApiRecords, q: RecordQuery, f: RecordFilter | null): RecordPage {
  if (f === null) return records.list(q);
  // Methods and statuses belong to HTTP records: the store can leave TCP sessions out by itself.
  const query: RecordQuery = q.protocol === undefined && (f.methods !== undefined || f.statuses !== undefined) ? { ...q, protocol: 'http' } : q;
  const out: RecordSummary[] = [];
  let cursor = query.cursor;
  let next: string | null = null;
  let scanned = 0;
  for (let call = 0; call < MAX_STORE_CALLS; call++) {
    const page = records.list({ ...query, limit: query.limit - out.length, ...(cursor !== undefined && { cursor }) });
    for (const s of page.records) if (matchesFilter(s, f)) out.push(s);
    scanned += page.records.length;
    next = page.next;
    if (next === null || out.length >= query.limit || scanned >= MAX_SCANNED) break;
    cursor = next;
  }
  return { records: out, next };
}
