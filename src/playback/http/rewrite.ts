/**
 * Turns a recorded request into the request a replay sends, changing only what must change
 * (issue 5): Host (unless kept), hop-by-hop and framing headers (Content-Length is recomputed from
 * the body), headers and query values redacted at record time (when a substitution is configured),
 * plus the headers every replay sets. Everything else — method, path, query, header order and case,
 * body bytes — goes out as recorded.
 */
import type { HttpRecord } from '../../recording/model.js';
import { hasMarker } from '../compare/redaction-marks.js';
import { HOP_AND_FRAMING_FIELDS } from '../../core/http-fields.js';

/** `playback.rewrite`, names lower-case. */
export interface RewriteOptions {
  keep_host: boolean;
  /** Header name → value for headers redacted at record time. */
  headers: Readonly<Record<string, string>>;
  /** Query parameter name → value for parameters redacted at record time. */
  query: Readonly<Record<string, string>>;
  /** Set on every replayed request (replacing recorded ones of the same name). */
  set_headers: Readonly<Record<string, string>>;
}

/** The request to send. */
export interface ReplayRequest {
  method: string;
  /** Origin-form target. */
  path: string;
  /** Flat [name, value, …] list, order and case kept. */
  headers: string[];
  body: Buffer | null;
}

// RFC 9110 §7.6.1 hop-by-hop, plus framing and Expect, which undici sets (or refuses) itself.
const DROPPED: ReadonlySet<string> = new Set([...HOP_AND_FRAMING_FIELDS, 'expect', 'http2-settings']);

/**
 * The request to replay, or a reason why the record cannot be replayed faithfully (a request body
 * truncated at record time would send different bytes).
 */
export function buildReplayRequest(record: HttpRecord, o: RewriteOptions): ReplayRequest | { skip: string } {
  const body = record.request.body;
  if (body.truncated) {
    return { skip: `request body was truncated at record time (${body.data.length} of ${body.size} bytes kept), so it cannot be replayed` };
  }
  return {
    method: record.request.method,
    path: substituteQuery(originForm(record.request.url), o.query),
    headers: rewriteHeaders(record.request.headers, o),
    body: body.data.length > 0 ? body.data : null,
  };
}

function originForm(url: string): string {
  if (url.startsWith('/')) return url;
  const scheme = url.indexOf('://');
  if (scheme < 0) return `/${url}`;
  const slash = url.indexOf('/', scheme + 3);
  const q = url.indexOf('?', scheme + 3);
  if (slash < 0 && q < 0) return '/';
  if (slash < 0 || (q >= 0 && q < slash)) return `/${url.slice(q)}`;
  return url.slice(slash);
}

function rewriteHeaders(lines: HttpRecord['request']['headers'], o: RewriteOptions): string[] {
  const nominated = new Set<string>();
  for (const [name, value] of lines) {
    if (name.toLowerCase() !== 'connection') continue;
    for (const t of value.split(',')) nominated.add(t.trim().toLowerCase());
  }
  const out: string[] = [];
  for (const [name, value] of lines) {
    const lower = name.toLowerCase();
    // HTTP/2 pseudo-headers (":authority", …) are not header fields of the replayed HTTP/1.1 request.
    if (lower.startsWith(':') || DROPPED.has(lower) || nominated.has(lower)) continue;
    if (lower === 'host' && !o.keep_host) continue;
    if (Object.hasOwn(o.set_headers, lower)) continue;
    const sub = hasMarker(value) && Object.hasOwn(o.headers, lower) ? o.headers[lower]! : value;
    out.push(name, sub);
  }
  for (const [name, value] of Object.entries(o.set_headers)) out.push(name, value);
  return out;
}

/** Replaces redacted values of the configured query parameters; everything else stays byte-identical. */
function substituteQuery(path: string, subs: Readonly<Record<string, string>>): string {
  const q = path.indexOf('?');
  if (q < 0 || Object.keys(subs).length === 0) return path;
  const pairs = path.slice(q + 1).split('&');
  let changed = false;
  for (let i = 0; i < pairs.length; i++) {
    const pair = pairs[i]!;
    const eq = pair.indexOf('=');
    if (eq < 0) continue;
    const name = decode(pair.slice(0, eq)).toLowerCase();
    const sub = Object.entries(subs).find(([k]) => k.toLowerCase() === name)?.[1];
    if (sub === undefined || !hasMarker(decode(pair.slice(eq + 1)))) continue;
    pairs[i] = `${pair.slice(0, eq)}=${encodeURIComponent(sub)}`;
    changed = true;
  }
  return changed ? `${path.slice(0, q + 1)}${pairs.join('&')}` : path;
}

function decode(s: string): string {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    return s;
  }
}
