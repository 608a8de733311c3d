/**
 * The JSON shapes of the API calls the page makes (README "HTTP API"); only the fields it reads.
 * The status and replay documents come from core/documents.ts, as the API serves them; shapes built
 * on Node's Buffer (records, bodies) are written out here as the JSON the browser receives.
 */
export type HeaderLine = [name: string, value: string];

export interface JsonBody {
  encoding: 'base64';
  data: string;
  size: number;
  truncated: boolean;
  text?: string;
}

export interface RecordSummary {
  id: string;
  protocol: 'http' | 'tcp';
  node_id: string;
  started_at: string;
  duration_ms: number;
  size_bytes: number;
  method?: string;
  url?: string;
  status?: number | null;
  client?: string;
  downstream?: string | null;
  bytes_in?: number;
  bytes_out?: number;
  error?: string | null;
  state?: 'open' | 'closed';
}

export interface RecordPage {
  records: RecordSummary[];
  next: string | null;
}

export interface Endpoint {
  address: string;
  port: number;
}

export interface TlsInfo {
  sni: string | null;
  alpn: string | null;
  version: string | null;
}

export interface HttpPart {
  headers: HeaderLine[];
  body: JsonBody;
  trailers: HeaderLine[];
  http_version: string;
}

export interface HttpRecord {
  id: string;
  protocol: 'http';
  node_id: string;
  started_at: number;
  duration_ms: number;
  client: Endpoint;
  tls: TlsInfo | null;
  downstream: string | null;
  request: HttpPart & { method: string; url: string };
  response: (HttpPart & { status: number; status_message: string }) | null;
  status: number | null;
  timings: { request_end: number | null; response_start: number | null; response_end: number | null };
  error: { code: string; message: string } | null;
  redacted: string[];
  /** An upgraded WebSocket's first page of messages. */
  websocket?: WebSocketView;
}

export interface WsMessage {
  n: number;
  dir: 'c2s' | 's2c';
  t_us: number;
  opcode: 'text' | 'binary' | 'close' | 'ping' | 'pong';
  data: string;
  size: number;
  truncated: boolean;
  text?: string;
  close_code?: number;
  close_reason?: string;
}

export interface WebSocketView {
  deflate: boolean;
  dropped: number;
  stopped: { dir: 'c2s' | 's2c'; t_us: number; reason: string } | null;
  messages: WsMessage[];
  messages_total: number;
  next: number | null;
}

export interface TcpChunk {
  dir: 'c2s' | 's2c';
  t_us: number;
  data: string;
  size: number;
  text?: string;
}

export interface TcpRecord {
  id: string;
  protocol: 'tcp';
  node_id: string;
  started_at: number;
  duration_ms: number;
  client: Endpoint;
  tls: TlsInfo | null;
  downstream: string | null;
  downstream_tls: boolean;
  bytes_in: number;
  bytes_out: number;
  chunks: TcpChunk[];
  truncated: boolean;
  state: 'open' | 'closed';
  close_reason: string | null;
  error: { code: string; message: string } | null;
  redacted: string[];
}

export type FullRecord = HttpRecord | TcpRecord;

import type { CompareOptions, ReplayResult, SideBySide } from '../../core/documents.js';

export type { CompareOptions, FieldRow, FieldState, ReplayDoc, ReplayResult, ResultStatus, StatusDoc as NodeStatus, SyncStatus } from '../../core/documents.js';

export interface AnswerSide {
  status: number;
  headers: HeaderLine[];
  body: JsonBody;
}

export interface ResultDetail {
  result: ReplayResult;
  recorded: AnswerSide | null;
  replayed: AnswerSide | null;
  comparison: SideBySide | null;
  compare: CompareOptions;
}

export interface SessionDoc {
  authenticated: boolean;
  login_required: boolean;
  csrf_token: string | null;
  expires_at: string | null;
}
