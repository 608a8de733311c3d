import { createHmac } from 'node:crypto';
import type { HeaderLine } from '../../src/recording/model.js';
import type { RedactionOptions } from '../../src/recording/redaction.js';
import type { HttpRecordDraft } from '../../src/recording/sink.js';

export const KEY = 'test-redaction-key-0123456789abcdef';

/** The replacement the spec prescribes, computed independently of the code under test. */
export function expected(value: string, key: string | Buffer = KEY): string {
  return `REDACTED:hmac-sha256:${createHmac('sha256', key).update(value, 'utf8').digest('hex').slice(0, 16)}`;
}

export function options(over: Partial<RedactionOptions> = {}): RedactionOptions {
  return {
    enabled: true,
    key: KEY,
    headers: [],
    queryParams: [],
    jsonPaths: [],
    bodyPatterns: [],
    replaceDefaults: false,
    ...over,
  };
}

export interface DraftParts {
  url?: string;
  reqHeaders?: HeaderLine[];
  reqBody?: string | Buffer;
  reqTruncated?: boolean;
  reqTrailers?: HeaderLine[];
  resHeaders?: HeaderLine[];
  resBody?: string | Buffer;
  resTruncated?: boolean;
  noResponse?: boolean;
}

function body(data: string | Buffer | undefined, truncated = false): HttpRecordDraft['request']['body'] {
  const buf = data === undefined ? Buffer.alloc(0) : Buffer.isBuffer(data) ? data : Buffer.from(data, 'utf8');
  return { data: buf, size: buf.length + (truncated ? 100 : 0), truncated };
}

/** A complete draft as the proxy would hand it over, with the given parts filled in. */
export function draft(p: DraftParts = {}): HttpRecordDraft {
  return {
    protocol: 'http',
    started_at: Date.now(),
    duration_ms: 3.5,
    client: { address: '127.0.0.1', port: 50000 },
    tls: null,
    downstream: 'http://127.0.0.1:8081',
    request: {
      method: 'POST',
      url: p.url ?? '/api/items',
      http_version: '1.1',
      headers: p.reqHeaders ?? [['Host', 'example.test']],
      body: body(p.reqBody, p.reqTruncated),
      trailers: p.reqTrailers ?? [],
    },
    response: p.noResponse
      ? null
      : {
          status: 200,
          status_message: 'OK',
          http_version: '1.1',
          headers: p.resHeaders ?? [['Content-Type', 'text/plain']],
          body: body(p.resBody, p.resTruncated),
          trailers: [],
        },
    status: p.noResponse ? 502 : 200,
    timings: { request_end: 1, response_start: 2, response_end: 3 },
    error: null,
  };
}

/** A serialized copy (bodies included), to prove the input draft was not mutated. */
export function snapshot(d: HttpRecordDraft): string {
  return JSON.stringify(d);
}
