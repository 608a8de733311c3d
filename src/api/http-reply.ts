import type { ServerResponse } from 'node:http';
import type { Reply } from './router.js';

/** A reply turned into what goes on the wire. */
export interface WireReply {
  status: number;
  headers: Record<string, string>;
  body: string | Buffer | undefined;
  /** Written piece by piece after the head instead of `body` (see Reply). */
  stream?: Iterable<string | Buffer>;
}

// No caching anywhere (answers change, and some carry recorded payloads); no MIME sniffing of JSON
// that may echo client text. No CORS headers ever: browsers must not read this API cross-origin.
const BASE_HEADERS: Readonly<Record<string, string>> = {
  'Cache-Control': 'no-store',
  'X-Content-Type-Options': 'nosniff',
};

export const JSON_TYPE = 'application/json; charset=utf-8';

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
  } else if ('stream' in reply) {
    headers['Content-Type'] = reply.contentType;
  }
  if ('headers' in reply) Object.assign(headers, reply.headers);
  if (body !== undefined) headers['Content-Length'] = String(Buffer.byteLength(body));
  return { status: reply.status, headers, body, ...('stream' in reply && { stream: reply.stream }) };
}

/**
 * Writes a reply unless the client is already gone. `close` asks for the connection to end after it.
 * A streamed reply resolves once written (or the client left); it rejects, with the connection
 * broken, when a piece throws.
 */
export function writeReply(res: ServerResponse, reply: WireReply, close: boolean): Promise<void> | void {
  if (res.destroyed || res.headersSent) return;
  if (close) reply.headers.Connection = 'close';
  res.writeHead(reply.status, reply.headers);
  if (reply.stream === undefined) res.end(reply.body);
  else if (res.req.method === 'HEAD') res.end();
  else return pump(res, reply.stream);
}

async function pump(res: ServerResponse, pieces: Iterable<string | Buffer>): Promise<void> {
  try {
    for (const piece of pieces) {
      if (res.destroyed) return; // the client left: read no further
      if (!res.write(piece)) await writable(res);
    }
    res.end();
  } catch (err) {
    res.destroy();
    throw err;
  }
}

/** Resolves when the response takes more bytes, or is gone. */
function writable(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
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
