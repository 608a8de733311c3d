/**
 * @module The API's view of a protocol session (a TCP record with `app_protocol`): the opening,
 * then exchanges — the client's request and the server's answer — each message with a readable
 * summary, long runs of one message type folded, and where the bytes stopped being messages.
 * The chunks (`chunks` in the record) remain the truth; this is read from them on each call.
 */
import { readConversation, type Conversation } from '../protocols/conversation.js';
import { protocolModule } from '../protocols/registry.js';
import type { FramingBreak, ProtocolModule, WireMessage } from '../protocols/types.js';
import type { AppProtocol, TcpDirection, TcpRecord } from '../recording/model.js';
import { ApiError } from './api-errors.js';

/** One message as shown. */
export interface JsonMessage {
  dir: TcpDirection;
  /** Microseconds from the session's start, of the read that completed the message. */
  t_us: number;
  type: string;
  summary: string;
  /** Bytes of the message, header included. */
  size: number;
}

/** A run of same-type messages left out after the first few: "… 995 more DataRow". */
export interface JsonFolded {
  type: string;
  folded: number;
  size: number;
}

export interface JsonExchange {
  /** 1-based: the "#42" of replay diffs. */
  n: number;
  request: Array<JsonMessage | JsonFolded>;
  answer: Array<JsonMessage | JsonFolded>;
}

export interface JsonConversation {
  protocol: AppProtocol;
  opening: Array<JsonMessage | JsonFolded>;
  exchanges: JsonExchange[];
  /** Exchanges in the whole session. */
  exchanges_total: number;
  /** `offset` of the next page (GET /api/records/{id}/conversation), null on the last. */
  next: number | null;
  /** Where each direction stopped being read as messages (the bytes from there are raw). */
  breaks: FramingBreak[];
  /** Bytes of each direction after its break, kept as raw chunks. */
  raw_bytes: Record<TcpDirection, number>;
}

/** Messages of one type shown in a row before the rest of the run is folded. */
const SHOWN_IN_RUN = 3;
export const DEFAULT_EXCHANGES = 100;
export const MAX_EXCHANGES = 1000;

function list(messages: readonly WireMessage[], mod: ProtocolModule): Array<JsonMessage | JsonFolded> {
  const out: Array<JsonMessage | JsonFolded> = [];
  let run = 0;
  let folded: JsonFolded | null = null;
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i]!;
    run = i > 0 && messages[i - 1]!.type === m.type ? run + 1 : 0;
    if (run < SHOWN_IN_RUN) {
      folded = null;
      out.push({ dir: m.dir, t_us: m.t_us, type: m.type, summary: mod.describe(m), size: m.data.length });
    } else if (folded !== null && folded.type === m.type) {
      folded.folded++;
      folded.size += m.data.length;
    } else {
      folded = { type: m.type, folded: 1, size: m.data.length };
      out.push(folded);
    }
  }
  return out;
}

/** A page of a session's conversation: exchanges `offset` to `offset + limit`. */
export function conversationToJson(protocol: AppProtocol, conv: Conversation, offset: number, limit: number): JsonConversation {
  const mod = protocolModule(protocol);
  const page = conv.exchanges.slice(offset, offset + limit);
  const opening = [...conv.opening.client, ...conv.opening.server].sort((a, b) => a.t_us - b.t_us);
  return {
    protocol,
    opening: list(opening, mod),
    exchanges: page.map((e) => ({ n: e.n, request: list(e.request, mod), answer: list(e.answer, mod) })),
    exchanges_total: conv.exchanges.length,
    next: offset + limit < conv.exchanges.length ? offset + limit : null,
    breaks: [conv.breaks.c2s, conv.breaks.s2c].filter((b): b is FramingBreak => b !== null),
    raw_bytes: conv.rawBytes,
  };
}

/** The first page, as it goes into `GET /api/records/{id}`; null for raw sessions. */
export function recordConversation(record: TcpRecord): JsonConversation | null {
  if (record.app_protocol === undefined) return null;
  return conversationToJson(record.app_protocol, readConversation(record.app_protocol, record.chunks), 0, DEFAULT_EXCHANGES);
}

export function badParam(message: string): ApiError {
  return new ApiError(400, 'QP_ERR_API_BAD_PARAM', message);
}

/** A query parameter as an integer in [min, max], `def` when absent; ApiError 400 otherwise. */
export function integer(name: string, value: string | undefined, def: number, min: number, max: number): number {
  if (value === undefined) return def;
  const n = /^\d{1,9}$/.test(value) ? Number(value) : NaN;
  if (!(n >= min && n <= max)) throw badParam(`${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(value.slice(0, 32))}`);
  return n;
}

/** `GET /api/records/{id}/conversation?offset=N&limit=M`. */
export function conversationPage(record: TcpRecord, query: URLSearchParams): JsonConversation {
  for (const key of query.keys()) if (key !== 'offset' && key !== 'limit') throw badParam(`unknown parameter "${key.slice(0, 32)}": expected offset and limit`);
  if (record.app_protocol === undefined) {
    throw new ApiError(409, 'QP_ERR_API_NOT_PROTOCOL', `record ${record.id} is a raw TCP session (its listener had tcp.protocol "raw"): read its chunks instead`);
  }
  const offset = integer('offset', query.get('offset') ?? undefined, 0, 0, 1_000_000_000);
  const limit = integer('limit', query.get('limit') ?? undefined, DEFAULT_EXCHANGES, 1, MAX_EXCHANGES);
  return conversationToJson(record.app_protocol, readConversation(record.app_protocol, record.chunks), offset, limit);
}
