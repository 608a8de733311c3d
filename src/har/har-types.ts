/**
 * @module The HAR 1.2 document QProxy writes (http://www.softwareishard.com/blog/har-12-spec/).
 * Custom fields start with "_" as the spec asks: `_qproxy` (the record's own details, see
 * {@link HarQProxyFields}), `_encoding` on postData and `_next` (the API's paging cursor) on the log.
 */
import type { HarQProxyFields } from './har-schema.js';
import type { HarWebSocketMessage } from './har-websocket.js';

export interface HarNameValue {
  name: string;
  value: string;
}

export interface HarPostData {
  mimeType: string;
  text: string;
  /** Present when `text` holds base64 (the body is not valid UTF-8). */
  _encoding?: 'base64';
  comment?: string;
}

export interface HarContent {
  /** Length of the (decoded) content in bytes; for a truncated body, every byte that passed through. */
  size: number;
  /** Bytes saved by the Content-Encoding, when the body was decoded for `text`. */
  compression?: number;
  mimeType: string;
  text?: string;
  encoding?: 'base64';
  comment?: string;
}

export interface HarRequest {
  method: string;
  url: string;
  httpVersion: string;
  cookies: HarNameValue[];
  headers: HarNameValue[];
  queryString: HarNameValue[];
  postData?: HarPostData;
  headersSize: -1;
  bodySize: number;
  comment?: string;
}

export interface HarResponse {
  status: number;
  statusText: string;
  httpVersion: string;
  cookies: HarNameValue[];
  headers: HarNameValue[];
  content: HarContent;
  redirectURL: string;
  headersSize: -1;
  bodySize: number;
  /** Why there is no response (status 0), as Chrome DevTools writes it. */
  _error?: string;
}

/** Phases QProxy does not see (it is not the browser) are -1, as the spec allows. */
export interface HarTimings {
  blocked: -1;
  dns: -1;
  connect: -1;
  send: number;
  wait: number;
  receive: number;
  ssl: -1;
}

export interface HarEntry {
  startedDateTime: string;
  time: number;
  request: HarRequest;
  response: HarResponse;
  cache: Record<string, never>;
  timings: HarTimings;
  serverIPAddress?: string;
  connection?: string;
  _qproxy: HarQProxyFields & { id: string; node_id: string };
  /** A WebSocket's messages, as Chrome DevTools writes them. */
  _webSocketMessages?: HarWebSocketMessage[];
}

export interface HarDocument {
  log: {
    version: '1.2';
    creator: { name: 'QProxy'; version: string };
    entries: HarEntry[];
    /** The API's cursor for the next page (`GET /api/records?format=har&cursor=…`), null on the last one. */
    _next?: string | null;
  };
}
