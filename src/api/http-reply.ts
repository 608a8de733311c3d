import type { ServerResponse } from 'node:http';
import type { Reply } from './router.js';

/** A reply turned into what goes on the wire. */
export interface WireReply {
  status: number;
  headers: Record<string, string>;
  body: string | Buffer | undefined;
}

// No caching anywhere (answers change, and some carry recorded payloads); no MIME sniffing of JSON
// that may echo client text. No CORS headers ever: browsers must not read this API cross-origin.
const BASE_HEADERS: Readonly<Record<string, string>> = {
  'Cache-Control': 'no-store',
  'X-Content-Type-Options': 'nosniff',
};

const JSON_TYPE = 'application/json; charset=utf-8';

/** Serialises a reply; throws if the JSON body cannot be serialised, so the caller can answer 500. */
export function toWire(reply: Reply): WireReply {
  const headers: Record<string, string> = { ...BASE_HEADERS };
  let body: string | Buffer | undefined;
  if ('json' in reply) {
    body = JSON.stringify(reply.json);
    headers['Content-Type'] = JSON_TYPE;
  } else if ('text' in reply) {
    body = reply.text;
    headers['Content-Type'] = reply.contentType;
  } else if ('bytes' in reply) {
    body = reply.bytes;
    headers['Content-Type'] = reply.contentType;
  }
  if ('headers' in reply) Object.assign(headers, reply.headers);
  if (body !== undefined) headers['Content-Length'] = String(Buffer.byteLength(body));
  return { status: reply.status, headers, body };
}

/** Writes a reply unless the client is already gone. `close` asks for the connection to end after it. */
export function writeReply(res: ServerResponse, reply: WireReply, close: boolean): void {
  if (res.destroyed || res.headersSent) return;
  if (close) reply.headers.Connection = 'close';
  res.writeHead(reply.status, reply.headers);
  res.end(reply.body);
}

function canned(status: number, reason: string, code: string, error: string): Buffer {
  const body = JSON.stringify({ error, code });
  return Buffer.from(
    `HTTP/1.1 ${status} ${reason}\r\nContent-Type: ${JSON_TYPE}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
      `Cache-Control: no-store\r\nConnection: close\r\n\r\n${body}`,
    'latin1',
  );
}

/**
 * Answers for requests Node's parser refused before any handler ran, built once: like Node's own
 * canned replies, but JSON as every other API error.
 */
export const CLIENT_ERROR_REPLIES = {
  headersTooLarge: canned(431, 'Request Header Fields Too Large', 'QP_ERR_API_HEADERS_TOO_LARGE', 'request headers are too large'),
  timeout: canned(408, 'Request Timeout', 'QP_ERR_API_REQUEST_TIMEOUT', 'the request did not arrive in time'),
  badRequest: canned(400, 'Bad Request', 'QP_ERR_API_BAD_REQUEST', 'the request is not valid HTTP/1.1'),
} as const;
