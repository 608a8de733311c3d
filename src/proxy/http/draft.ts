import type { BodyCapture } from '../../recording/capture.js';
import { emptyBody } from '../../recording/capture.js';
import type { HeaderLine, HttpTimings, RecordError, WebSocketCapture } from '../../recording/model.js';
import type { HttpRecordDraft } from '../../recording/sink.js';
import type { ConnectionInfo } from './connection-info.js';

/**
 * Turns what an exchange gathered into the recorder's draft. Runs once per exchange, after the
 * client side is over, so none of this is on the streaming path.
 *
 * @module
 */

/** The downstream's answer as received. */
export interface DraftResponse {
  status: number;
  message: string;
  /** Flat raw list as received. */
  headers: readonly string[];
  body: BodyCapture | null;
  trailers: readonly string[];
}

/** Everything an exchange (or an upgrade) knows when it ends. */
export interface DraftInput {
  startedAt: number;
  durationMs: number;
  conn: ConnectionInfo;
  origin: string | null;
  method: string;
  url: string;
  httpVersion: string;
  requestHeaders: readonly string[];
  requestBody: BodyCapture | null;
  requestTrailers: readonly string[];
  response: DraftResponse | null;
  statusSent: number | null;
  timings: HttpTimings;
  error: RecordError | null;
  /** The messages of an upgraded WebSocket connection, when its frames were recorded. */
  websocket?: WebSocketCapture;
}

/** `[a, 1, b, 2]` → `[[a, 1], [b, 2]]`, order and case kept. */
export function headerLines(flat: readonly string[]): HeaderLine[] {
  const lines: HeaderLine[] = new Array<HeaderLine>(flat.length >> 1);
  for (let i = 0, j = 0; i + 1 < flat.length; i += 2, j++) lines[j] = [flat[i]!, flat[i + 1]!];
  return lines;
}

/** The recorder's draft for one finished exchange; bodies are joined here, once. */
export function buildHttpDraft(d: DraftInput): HttpRecordDraft {
  return {
    protocol: 'http',
    started_at: d.startedAt,
    duration_ms: d.durationMs,
    client: d.conn.client,
    tls: d.conn.tls,
    downstream: d.origin,
    request: {
      method: d.method,
      url: d.url,
      http_version: d.httpVersion,
      headers: headerLines(d.requestHeaders),
      body: d.requestBody === null ? emptyBody() : d.requestBody.result(),
      trailers: headerLines(d.requestTrailers),
    },
    response:
      d.response === null
        ? null
        : {
            status: d.response.status,
            status_message: d.response.message,
            // undici speaks HTTP/1.1 to every downstream.
            http_version: '1.1',
            headers: headerLines(d.response.headers),
            body: d.response.body === null ? emptyBody() : d.response.body.result(),
            trailers: headerLines(d.response.trailers),
          },
    status: d.statusSent,
    timings: d.timings,
    error: d.error,
    ...(d.websocket !== undefined && { websocket: d.websocket }),
  };
}
