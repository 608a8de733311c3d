/**
 * @module Records → HAR 1.2. Each entry holds the request and response as they were (header order
 * and case kept, response content decoded as the spec asks), the timings QProxy measured (phases it
 * does not see are -1), and `_qproxy` with what a HAR has no place for, so that importing the file
 * again restores the same records with the same ids.
 */
import { isIP } from 'node:net';
import type { CapturedBody, HeaderLine, HttpRecord, HttpResponsePart } from '../recording/model.js';
import { bodyText, decodedForExport } from './har-body.js';
import type { HarContent, HarDocument, HarEntry, HarNameValue, HarPostData, HarResponse, HarTimings } from './har-types.js';
import { absoluteUrl, harVersion } from './har-url.js';
import { messagesToHar } from './har-websocket.js';

export interface HarExportOptions {
  /** QProxy's version, written as `log.creator.version`. */
  version: string;
  /** Written as `log._next` when given (the API's paging cursor). */
  next?: string | null;
}

/** A HAR document of `records`, entries sorted by start time (HAR convention), then id. */
export function recordsToHar(records: readonly HttpRecord[], opts: HarExportOptions): HarDocument {
  const sorted = [...records].sort((a, b) => a.started_at - b.started_at || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return {
    log: {
      version: '1.2',
      creator: { name: 'QProxy', version: opts.version },
      entries: sorted.map((r) => recordToEntry(r)),
      ...(opts.next !== undefined && { _next: opts.next }),
    },
  };
}

/**
 * A body's HAR text given by the caller instead of made from `body.data` (export-stream.ts: the
 * bytes are streamed in its place). `length` is the captured bytes' length.
 */
export interface BodyTextOf {
  length: number;
  text: string;
  base64: boolean;
}

/**
 * One record as a HAR entry. `texts`: bodies whose text the caller supplies (their data is not
 * read); a response given so must not need decoding (see export-stream.ts).
 */
export function recordToEntry(r: HttpRecord, texts: { request?: BodyTextOf; response?: BodyTextOf } = {}): HarEntry {
  const response = r.response === null ? noResponse(r) : responseOf(r.response, texts.response);
  const serverIp = serverAddress(r.downstream);
  return {
    startedDateTime: new Date(r.started_at).toISOString(),
    time: r.duration_ms,
    request: {
      method: r.request.method,
      url: absoluteUrl(r),
      httpVersion: harVersion(r.request.http_version),
      cookies: cookiePairs(r.request.headers, 'cookie'),
      headers: nameValues(r.request.headers),
      queryString: queryOf(r.request.url),
      ...postDataOf(r.request.body, r.request.headers, texts.request),
      headersSize: -1,
      bodySize: r.request.body.size,
    },
    response: response.har,
    cache: {},
    timings: timingsOf(r),
    ...(serverIp !== null && { serverIPAddress: serverIp }),
    ...(r.client.port > 0 && { connection: String(r.client.port) }),
    _qproxy: {
      id: r.id,
      node_id: r.node_id,
      client: r.client,
      tls: r.tls,
      downstream: r.downstream,
      status: r.status,
      error: r.error,
      redacted: r.redacted,
      timings: r.timings,
      ...(r.request.body.truncated && { request_body: { size: r.request.body.size, truncated: true } }),
      ...(response.info !== null && { response_body: response.info }),
      ...(r.request.trailers.length > 0 && { request_trailers: r.request.trailers }),
      ...(r.response !== null && r.response.trailers.length > 0 && { response_trailers: r.response.trailers }),
      ...(r.websocket !== undefined && { websocket: { deflate: r.websocket.deflate, dropped: r.websocket.dropped, stopped: r.websocket.stopped } }),
    },
    ...(r.websocket !== undefined && { _webSocketMessages: messagesToHar(r, r.websocket) }),
  };
}

function nameValues(lines: readonly HeaderLine[]): HarNameValue[] {
  return lines.map(([name, value]) => ({ name, value }));
}

function headerOf(lines: readonly HeaderLine[], name: string): string | undefined {
  return lines.find(([n]) => n.toLowerCase() === name)?.[1];
}

/** Cookie pairs of the Cookie header(s), or the name=value of each Set-Cookie line. */
function cookiePairs(lines: readonly HeaderLine[], header: 'cookie' | 'set-cookie'): HarNameValue[] {
  const out: HarNameValue[] = [];
  for (const [name, value] of lines) {
    if (name.toLowerCase() !== header) continue;
    const pairs = header === 'cookie' ? value.split(';') : [value.split(';')[0] ?? ''];
    for (const pair of pairs) {
      const eq = pair.indexOf('=');
      if (eq > 0) out.push({ name: pair.slice(0, eq).trim(), value: pair.slice(eq + 1).trim() });
    }
  }
  return out;
}

function decodeComponent(s: string): string {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    return s;
  }
}

function queryOf(target: string): HarNameValue[] {
  const q = target.indexOf('?');
  if (q < 0) return [];
  return target
    .slice(q + 1)
    .split('&')
    .filter((p) => p !== '')
    .map((p) => {
      const eq = p.indexOf('=');
      return eq < 0 ? { name: decodeComponent(p), value: '' } : { name: decodeComponent(p.slice(0, eq)), value: decodeComponent(p.slice(eq + 1)) };
    });
}

function truncationNote(body: CapturedBody, kept: number): string {
  return `truncated by QProxy: ${kept} of ${body.size} bytes kept (storage.max_body)`;
}

function postDataOf(body: CapturedBody, headers: readonly HeaderLine[], given?: BodyTextOf): { postData?: HarPostData } {
  const length = given?.length ?? body.data.length;
  if (body.size === 0 && length === 0) return {};
  const { text, base64 } = given ?? bodyText(body.data);
  return {
    postData: {
      mimeType: headerOf(headers, 'content-type') ?? '',
      text,
      ...(base64 && { _encoding: 'base64' as const }),
      ...(body.truncated && { comment: truncationNote(body, length) }),
    },
  };
}

type BodyInfo = { size: number; truncated: boolean; encoded?: boolean };

function responseOf(res: HttpResponsePart, given?: BodyTextOf): { har: HarResponse; info: BodyInfo | null } {
  const { data, decoded } = given ? { data: null, decoded: false } : decodedForExport(res.body, res.headers);
  const length = given?.length ?? data!.length;
  // Bytes still carrying their Content-Encoding (truncated, or not decodable) are marked so that an
  // import does not encode them a second time.
  const encoded = !decoded && length > 0 && isEncoded(res.headers);
  const content: HarContent = { size: decoded ? length : res.body.size, mimeType: headerOf(res.headers, 'content-type') ?? '' };
  if (decoded) content.compression = length - res.body.data.length;
  if (length > 0) {
    const { text, base64 } = given ?? bodyText(data!);
    content.text = text;
    if (base64) content.encoding = 'base64';
  }
  if (res.body.truncated) content.comment = truncationNote(res.body, given?.length ?? res.body.data.length);
  const info: BodyInfo | null =
    res.body.truncated || encoded ? { size: res.body.size, truncated: res.body.truncated, ...(encoded && { encoded: true }) } : null;
  return {
    har: {
      status: res.status,
      statusText: res.status_message,
      httpVersion: harVersion(res.http_version),
      cookies: cookiePairs(res.headers, 'set-cookie'),
      headers: nameValues(res.headers),
      content,
      redirectURL: headerOf(res.headers, 'location') ?? '',
      headersSize: -1,
      bodySize: res.body.size,
    },
    info,
  };
}

function isEncoded(headers: readonly HeaderLine[]): boolean {
  return headers.some(([n, v]) => n.toLowerCase() === 'content-encoding' && v.split(',').some((c) => !['', 'identity'].includes(c.trim().toLowerCase())));
}

/** A record without a response: status 0 with the failure, as DevTools writes failed requests. */
function noResponse(r: HttpRecord): { har: HarResponse; info: null } {
  return {
    har: {
      status: 0,
      statusText: '',
      httpVersion: '',
      cookies: [],
      headers: [],
      content: { size: 0, mimeType: '' },
      redirectURL: '',
      headersSize: -1,
      bodySize: -1,
      _error: r.error ? `${r.error.code}: ${r.error.message}` : 'no response was recorded',
    },
    info: null,
  };
}

function round3(n: number): number {
  return Math.round(n * 1000) / 1000;
}

/** send = until the request was in, wait = until the response head, receive = the rest of `time`. */
function timingsOf(r: HttpRecord): HarTimings {
  const total = r.duration_ms;
  const clamp = (n: number | null, fallback: number): number => Math.min(Math.max(n ?? fallback, 0), total);
  const requestEnd = clamp(r.timings.request_end, 0);
  const responseStart = Math.max(clamp(r.timings.response_start, total), requestEnd);
  return {
    blocked: -1,
    dns: -1,
    connect: -1,
    send: round3(requestEnd),
    wait: round3(responseStart - requestEnd),
    receive: round3(total - responseStart),
    ssl: -1,
  };
}

function serverAddress(downstream: string | null): string | null {
  const m = downstream === null ? null : /^[a-z][a-z0-9+.-]*:\/\/\[?([^\]/?#]+?)\]?(?::\d+)?(?:[/?#]|$)/i.exec(downstream);
  const host = m?.[1];
  return host !== undefined && isIP(host) !== 0 ? host : null;
}
