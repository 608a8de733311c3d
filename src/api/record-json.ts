/**
 * @module The API's JSON shape of a whole record (SPEC §7): the record model as it is, with every
 * body and every TCP chunk turned into base64 plus, when the bytes are UTF-8, the text itself so
 * people can read JSON, form bodies and text protocols (Redis, SMTP, …) without decoding.
 */
import { isUtf8 } from 'node:buffer';
import { completeUtf8Length } from '../core/json-pieces.js';
import type {
  CapturedBody,
  HttpRecord,
  HttpRequestPart,
  HttpResponsePart,
  QRecord,
  TcpChunk,
  TcpDirection,
  TcpRecord,
} from '../recording/model.js';
import { DEFAULT_MESSAGES, websocketToJson, type JsonWebSocket } from './websocket-json.js';

/** A body as the API shows it. */
export interface JsonBody {
  encoding: 'base64';
  /** The captured bytes (at most storage.max_body of them), base64. */
  data: string;
  /** Bytes that passed through, including those beyond the capture limit. */
  size: number;
  truncated: boolean;
  /**
   * The captured bytes as text, present only when they are valid UTF-8. For a truncated body an
   * incomplete character cut at the capture limit is left out of the text (it stays in `data`).
   */
  text?: string;
}

export type JsonHttpRecord = Omit<HttpRecord, 'request' | 'response' | 'websocket'> & {
  request: Omit<HttpRequestPart, 'body'> & { body: JsonBody };
  response: (Omit<HttpResponsePart, 'body'> & { body: JsonBody }) | null;
  /** The first page of an upgraded WebSocket's messages (the rest: GET /api/records/{id}/websocket). */
  websocket?: JsonWebSocket;
};

/** One TCP chunk as the API shows it. */
export interface JsonTcpChunk {
  dir: TcpDirection;
  /** Microseconds from the session's `started_at`. */
  t_us: number;
  encoding: 'base64';
  data: string;
  /** Bytes in this chunk. */
  size: number;
  /** The bytes as text, present only when the chunk is valid UTF-8 on its own. */
  text?: string;
}

export type JsonTcpRecord = Omit<TcpRecord, 'chunks'> & { chunks: JsonTcpChunk[] };

/** Every record kind as the API shows it. */
export type JsonRecord = JsonHttpRecord | JsonTcpRecord;

/** The API shape of a record: bodies and chunks in base64 (plus text when UTF-8), the rest as is. */
export function recordToJson(record: HttpRecord): JsonHttpRecord;
export function recordToJson(record: TcpRecord): JsonTcpRecord;
export function recordToJson(record: QRecord): JsonRecord;
export function recordToJson(record: QRecord): JsonRecord {
  if (record.protocol === 'tcp') return { ...record, chunks: record.chunks.map(chunkToJson) };
  const { websocket, ...rest } = record;
  return {
    ...rest,
    request: { ...record.request, body: bodyToJson(record.request.body) },
    response: record.response === null ? null : { ...record.response, body: bodyToJson(record.response.body) },
    ...(websocket !== undefined && { websocket: websocketToJson(websocket, 0, DEFAULT_MESSAGES) }),
  };
}

export function bodyToJson(body: CapturedBody): JsonBody {
  const json: JsonBody = {
    encoding: 'base64',
    data: body.data.toString('base64'),
    size: body.size,
    truncated: body.truncated,
  };
  const textBytes = body.truncated ? body.data.subarray(0, completeUtf8Length(body.data)) : body.data;
  if (isUtf8(textBytes)) json.text = textBytes.toString('utf8');
  return json;
}

/**
 * A chunk's bytes in base64, and as text when they are UTF-8. A character split across two reads
 * makes both chunks non-text; `data` always has every byte.
 */
export function chunkToJson(chunk: TcpChunk): JsonTcpChunk {
  const json: JsonTcpChunk = {
    dir: chunk.dir,
    t_us: chunk.t_us,
    encoding: 'base64',
    data: chunk.data.toString('base64'),
    size: chunk.data.length,
  };
  if (isUtf8(chunk.data)) json.text = chunk.data.toString('utf8');
  return json;
}

export { completeUtf8Length } from '../core/json-pieces.js';
