/**
 * @module One HAR entry → one HttpRecord. Entries written by QProxy's export carry `_qproxy`, from
 * which the record is restored exactly; entries from browsers and tools get plausible values for
 * what a HAR does not hold (client address, exact phase timings).
 */
import { parseIso8601 } from '../core/iso8601.js';
import type { CapturedBody, HeaderLine, HttpRecord, HttpResponsePart, HttpTimings, RecordError } from '../recording/model.js';
import { RECORD_FORMAT_VERSION } from '../recording/model.js';
import {
  boundaryOf,
  encodeForWire,
  fullBody,
  multipartParams,
  textBytes,
  urlencodedParams,
} from './har-body.js';
import { harInvalid } from './har-error.js';
import { MAX_UUIDV7_MS, entryId } from './har-id.js';
import { qproxyEntrySchema, type HarInputEntry, type HarQProxyFields } from './har-schema.js';
import { hostOf, recordVersion, splitUrl, type UrlParts } from './har-url.js';
import { messagesFromHar } from './har-websocket.js';

/** node_id of imported records when neither the caller nor the entry names one. */
export const DEFAULT_IMPORT_NODE_ID = 'har-import';

/** The error code of records made from entries without a response (status 0). */
export const NO_RESPONSE_CODE = 'QP_ERR_HAR_NO_RESPONSE';

/** Where an entry is and what it came from. */
export interface EntrySource {
  index: number;
  /** The entry as it was in the document (before validation dropped unknown fields): hashed for its id. */
  raw: unknown;
  /** Overrides every entry's node_id. */
  nodeId: string | undefined;
}

type Path = readonly PropertyKey[];

function lower(name: string): string {
  return name.toLowerCase();
}

function headerOf(lines: readonly HeaderLine[], name: string): string | undefined {
  return lines.find(([n]) => lower(n) === name)?.[1];
}

function qproxyFields(value: unknown, at: Path): HarQProxyFields | null {
  if (value === undefined || value === null) return null;
  const parsed = qproxyEntrySchema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  throw harInvalid([...at, '_qproxy', ...issue.path], issue.message);
}

function startedAt(value: string, at: Path): number {
  const ms = parseIso8601(value);
  if (ms === null || !value.includes('T')) {
    throw harInvalid([...at, 'startedDateTime'], `expected an ISO 8601 date-time such as "2024-05-01T12:00:00.000Z", got ${JSON.stringify(value.slice(0, 64))}`);
  }
  if (ms < 0 || ms > MAX_UUIDV7_MS) throw harInvalid([...at, 'startedDateTime'], `${value} is outside the years 1970-10889`);
  return ms;
}

function targetOf(e: HarInputEntry, at: Path): UrlParts {
  const url = splitUrl(e.request.url);
  if (url === null) {
    throw harInvalid([...at, 'request', 'url'], `expected an absolute http(s) URL, got ${JSON.stringify(e.request.url.slice(0, 200))}`);
  }
  const query = e.request.queryString ?? [];
  // The URL's own query wins; queryString only fills in a URL written without one.
  if (!url.target.includes('?') && query.length > 0) {
    url.target += `?${query.map((p) => `${encodeURIComponent(p.name)}=${encodeURIComponent(p.value)}`).join('&')}`;
  }
  return url;
}

/** HAR headers as record lines; HTTP/2 pseudo-headers are not header fields and are dropped (kept for QProxy's own entries). */
function headerLines(list: ReadonlyArray<{ name: string; value: string }> | null | undefined, keepPseudo: boolean): HeaderLine[] {
  return (list ?? []).filter((h) => keepPseudo || !h.name.startsWith(':')).map((h) => [h.name, h.value]);
}

function capturedBody(data: Buffer, info: { size: number; truncated: boolean } | undefined): CapturedBody {
  return info?.truncated ? { data, size: info.size, truncated: true } : fullBody(data);
}

function requestBody(e: HarInputEntry, headers: HeaderLine[], q: HarQProxyFields | null, at: Path): CapturedBody {
  const post = e.request.postData;
  if (post === null || post === undefined) return fullBody(Buffer.alloc(0));
  const path = [...at, 'request', 'postData'];
  let data: Buffer;
  if (post.text !== null && post.text !== undefined) {
    data = textBytes(post.text, post._encoding, [...path, 'text'], '_encoding');
  } else if (post.params && post.params.length > 0) {
    const type = headerOf(headers, 'content-type') ?? post.mimeType ?? '';
    const boundary = /^multipart\/form-data/i.test(type) ? boundaryOf(type) : null;
    data = boundary === null ? urlencodedParams(post.params) : multipartParams(post.params, boundary);
  } else {
    data = Buffer.alloc(0);
  }
  if (data.length > 0 && headerOf(headers, 'content-type') === undefined && post.mimeType) {
    headers.push(['Content-Type', post.mimeType]);
  }
  return capturedBody(data, q?.request_body);
}

function responsePart(e: HarInputEntry, q: HarQProxyFields | null, at: Path): HttpResponsePart | null {
  const res = e.response;
  if (res.status === 0) return null;
  let headers = headerLines(res.headers, q !== null);
  const content = res.content;
  const path = [...at, 'response', 'content', 'text'];
  const decoded = content?.text != null ? textBytes(content.text, content.encoding, path, 'encoding') : Buffer.alloc(0);
  let data = decoded;
  const info = q?.response_body;
  if (info?.encoded !== true) {
    const wire = encodeForWire(decoded, headers);
    data = wire.data;
    if (wire.drop) headers = headers.filter(([n]) => lower(n) !== 'content-encoding');
  }
  let body = capturedBody(data, info);
  // A tool that left the content out (DevTools for some types) still says how large it was.
  if (info === undefined && content?.text == null && (content?.size ?? 0) > 0) {
    body = { data, size: Math.round(content!.size!), truncated: true };
  }
  return {
    status: res.status,
    status_message: res.statusText ?? '',
    http_version: recordVersion(res.httpVersion),
    headers,
    body,
    trailers: q?.response_trailers ?? [],
  };
}

function positive(n: number | null | undefined): number {
  return typeof n === 'number' && Number.isFinite(n) && n > 0 ? n : 0;
}

function durationOf(e: HarInputEntry): number {
  if (typeof e.time === 'number' && Number.isFinite(e.time) && e.time >= 0) return e.time;
  const t = e.timings;
  return t ? positive(t.blocked) + positive(t.dns) + positive(t.connect) + positive(t.send) + positive(t.wait) + positive(t.receive) : 0;
}

/** Start, total and (when the HAR has it) the wait for the first byte; the rest is not known. */
function timingsOf(e: HarInputEntry, duration: number, hasResponse: boolean): HttpTimings {
  const t = e.timings;
  if (t && typeof t.wait === 'number' && t.wait >= 0) {
    // ssl is part of connect in HAR 1.2, so it is not added again.
    const before = positive(t.blocked) + positive(t.dns) + positive(t.connect) + positive(t.send);
    return { request_end: round3(before), response_start: round3(before + t.wait), response_end: hasResponse ? duration : null };
  }
  return { request_end: null, response_start: null, response_end: hasResponse ? duration : null };
}

function round3(n: number): number {
  return Math.round(n * 1000) / 1000;
}

function failure(e: HarInputEntry, response: HttpResponsePart | null): RecordError | null {
  if (response !== null) return null;
  return { code: NO_RESPONSE_CODE, message: e.response._error || 'the HAR entry has no response (status 0): the request failed or was cancelled' };
}

/** The record of one entry; throws HarError naming the entry's path for anything it cannot use. */
export function entryToRecord(e: HarInputEntry, src: EntrySource): HttpRecord {
  const at: Path = ['log', 'entries', src.index];
  const q = qproxyFields(e._qproxy, at);
  const started = startedAt(e.startedDateTime, at);
  const url = targetOf(e, at);
  const headers = headerLines(e.request.headers, q !== null);
  const body = requestBody(e, headers, q, at);
  const response = responsePart(e, q, at);
  const duration = durationOf(e);
  const host = hostOf(url.authority);
  const timings = q?.timings ?? timingsOf(e, duration, response !== null);
  const ws = e._webSocketMessages;
  return {
    v: RECORD_FORMAT_VERSION,
    id: q?.id ?? entryId(started, JSON.stringify(src.raw), src.index),
    protocol: 'http',
    node_id: src.nodeId ?? q?.node_id ?? DEFAULT_IMPORT_NODE_ID,
    started_at: started,
    duration_ms: duration,
    client: q?.client ?? { address: '0.0.0.0', port: 0 },
    tls:
      q?.tls !== undefined
        ? q.tls
        : url.scheme === 'https'
          ? { sni: /^[\d.]+$|:/.test(host) ? null : host, alpn: recordVersion(e.request.httpVersion) === '2.0' ? 'h2' : null, version: null }
          : null,
    downstream: q?.downstream !== undefined ? q.downstream : `${url.scheme}://${url.authority}`,
    request: {
      method: e.request.method,
      url: url.target,
      http_version: recordVersion(e.request.httpVersion),
      headers,
      body,
      trailers: q?.request_trailers ?? [],
    },
    response,
    status: q?.status !== undefined ? q.status : (response?.status ?? null),
    timings,
    error: q?.error !== undefined ? q.error : failure(e, response),
    redacted: q?.redacted ?? [],
    ...(ws !== null && ws !== undefined && { websocket: messagesFromHar(ws, { started_at: started, timings }, q?.websocket, at) }),
  };
}
