/**
 * @module The API's view of a WebSocket connection's messages (`websocket` in an upgrade's record):
 * each message with its payload in base64 and, for UTF-8 payloads, as text; paged like a protocol
 * session's conversation, since a long-lived connection can hold many thousands.
 */
import { isUtf8 } from 'node:buffer';
import type { HttpRecord, TcpDirection, WebSocketCapture, WsMessage, WsOpcode } from '../recording/model.js';
import { ApiError } from './api-errors.js';
import { badParam, integer } from './conversation-json.js';
import { completeUtf8Length } from './record-json.js';

export interface JsonWsMessage {
  /** 0-based position in the connection: the "message #n" of replay diffs. */
  n: number;
  dir: TcpDirection;
  /** Microseconds from the switch (the 101) to the message's last byte. */
  t_us: number;
  opcode: WsOpcode;
  encoding: 'base64';
  data: string;
  /** Payload bytes, including any beyond storage.max_body. */
  size: number;
  truncated: boolean;
  /** Text messages: the payload as text (a truncated one without a character cut at the limit). */
  text?: string;
  close_code?: number;
  close_reason?: string;
}

export interface JsonWebSocket {
  deflate: boolean;
  dropped: number;
  stopped: WebSocketCapture['stopped'];
  messages: JsonWsMessage[];
  /** Messages recorded for the connection. */
  messages_total: number;
  /** `offset` of the next page (GET /api/records/{id}/websocket), null on the last. */
  next: number | null;
}

export const DEFAULT_MESSAGES = 100;
export const MAX_MESSAGES = 1000;

function messageToJson(m: WsMessage, n: number): JsonWsMessage {
  const json: JsonWsMessage = {
    n,
    dir: m.dir,
    t_us: m.t_us,
    opcode: m.opcode,
    encoding: 'base64',
    data: m.data.toString('base64'),
    size: m.size,
    truncated: m.truncated,
  };
  const textBytes = m.truncated ? m.data.subarray(0, completeUtf8Length(m.data)) : m.data;
  if (m.opcode === 'text' && isUtf8(textBytes)) json.text = textBytes.toString('utf8');
  if (m.close_code !== undefined) json.close_code = m.close_code;
  if (m.close_reason !== undefined) json.close_reason = m.close_reason;
  return json;
}

/** Messages `offset` to `offset + limit` of a connection. */
export function websocketToJson(ws: WebSocketCapture, offset: number, limit: number): JsonWebSocket {
  const total = ws.messages.length;
  return {
    deflate: ws.deflate,
    dropped: ws.dropped,
    stopped: ws.stopped,
    messages: ws.messages.slice(offset, offset + limit).map((m, i) => messageToJson(m, offset + i)),
    messages_total: total,
    next: offset + limit < total ? offset + limit : null,
  };
}

/** `GET /api/records/{id}/websocket?offset=N&limit=M`. */
export function websocketPage(record: HttpRecord, query: URLSearchParams): JsonWebSocket {
  for (const key of query.keys()) if (key !== 'offset' && key !== 'limit') throw badParam(`unknown parameter "${key.slice(0, 32)}": expected offset and limit`);
  if (record.websocket === undefined) {
    throw new ApiError(409, 'QP_ERR_API_NOT_PROTOCOL', `record ${record.id} has no WebSocket messages (not an upgrade to WebSocket, or recorded with recording.websocket.frames false)`);
  }
  const offset = integer('offset', query.get('offset') ?? undefined, 0, 0, 1_000_000_000);
  const limit = integer('limit', query.get('limit') ?? undefined, DEFAULT_MESSAGES, 1, MAX_MESSAGES);
  return websocketToJson(record.websocket, offset, limit);
}
