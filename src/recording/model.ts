/**
 * The recording model: what one recorded exchange looks like in memory, in the store, on the sync
 * wire and (with bodies base64-encoded) in the API. It imports nothing else from QProxy so that every
 * other component can depend on it.
 *
 * Field names are snake_case because they are the public JSON shape (SPEC §7).
 */

/** Bumped when a stored or synced record changes shape incompatibly. */
export const RECORD_FORMAT_VERSION = 1;

/** One header line as it was on the wire: name case and line order are kept. */
export type HeaderLine = [name: string, value: string];

/** A captured body. `data` holds at most `storage.max_body` bytes; `size` counts every byte seen. */
export interface CapturedBody {
  data: Buffer;
  /** Bytes that passed through, including those beyond the capture limit. */
  size: number;
  /** True when `data` holds fewer bytes than passed through. */
  truncated: boolean;
}

export interface Endpoint {
  address: string;
  port: number;
}

export interface TlsInfo {
  /** SNI server name the client asked for, if any. */
  sni: string | null;
  /** Negotiated ALPN protocol ("h2", "http/1.1"), if any. */
  alpn: string | null;
  /** TLS protocol version ("TLSv1.3"). */
  version: string | null;
}

/** Why an exchange did not complete normally. `code` is a stable QP_ERR_* or a Node/undici code. */
export interface RecordError {
  code: string;
  message: string;
}

export interface HttpRequestPart {
  method: string;
  /** Request target as received (origin-form, query included), after redaction of secret query values. */
  url: string;
  /** "1.0", "1.1" or "2.0". */
  http_version: string;
  /** Client's header block as received (after redaction), order and case kept. */
  headers: HeaderLine[];
  body: CapturedBody;
  trailers: HeaderLine[];
}

export interface HttpResponsePart {
  status: number;
  status_message: string;
  http_version: string;
  /** Downstream's header block as received (after redaction). */
  headers: HeaderLine[];
  body: CapturedBody;
  trailers: HeaderLine[];
}

/** Offsets in milliseconds (fractional, µs precision) from `started_at`. Null when the phase never happened. */
export interface HttpTimings {
  /** Last request body byte received from the client. */
  request_end: number | null;
  /** Response head received from the downstream. */
  response_start: number | null;
  /** Last response byte written to the client. */
  response_end: number | null;
}

export interface HttpRecord {
  v: typeof RECORD_FORMAT_VERSION;
  /** UUIDv7: time-ordered, unique across nodes. */
  id: string;
  protocol: 'http';
  node_id: string;
  /** Epoch milliseconds when the request head arrived. */
  started_at: number;
  duration_ms: number;
  client: Endpoint;
  /** TLS details when the listener terminated TLS. */
  tls: TlsInfo | null;
  /** Downstream origin the request was sent to ("http://10.0.0.5:8081"), null if none was tried. */
  downstream: string | null;
  request: HttpRequestPart;
  /** Null when no response head came back (connect failure, timeout before headers). */
  response: HttpResponsePart | null;
  /** Status QProxy sent to the client (differs from response.status on 502/504). */
  status: number | null;
  timings: HttpTimings;
  error: RecordError | null;
  /** Dotted paths of what was redacted, e.g. "request.headers.authorization", "request.query.token". */
  redacted: string[];
  /** The WebSocket messages of an upgraded exchange (status 101, `Upgrade: websocket`); absent otherwise. */
  websocket?: WebSocketCapture;
}

/** A WebSocket message kind (RFC 6455 §5.2 opcodes 1, 2, 8, 9, 10). */
export type WsOpcode = 'text' | 'binary' | 'close' | 'ping' | 'pong';

/** Every value of {@link WsOpcode}, for validation. */
export const WS_OPCODES: readonly WsOpcode[] = ['text', 'binary', 'close', 'ping', 'pong'];

/**
 * One WebSocket message: a data message reassembled from its fragments, or a control frame.
 * `data` is the payload unmasked (and inflated when permessage-deflate was negotiated), at most
 * `storage.max_body` bytes of it; `size` counts every payload byte.
 */
export interface WsMessage {
  /** c2s: client → downstream; s2c: downstream → client. */
  dir: TcpDirection;
  /** Microseconds from the switch (the 101 relayed to the client) to the message's last byte. */
  t_us: number;
  opcode: WsOpcode;
  data: Buffer;
  size: number;
  truncated: boolean;
  /** Close frames: the status code (RFC 6455 §7.4), absent when the frame carried none. */
  close_code?: number;
  /** Close frames: the reason text, absent when the frame carried none. */
  close_reason?: string;
}

/** The frames of one WebSocket connection, as the HTTP proxy observed them beside the relay. */
export interface WebSocketCapture {
  /** permessage-deflate was negotiated: payloads are recorded inflated. */
  deflate: boolean;
  messages: WsMessage[];
  /** Messages seen after `recording.websocket.max_bytes` was reached: counted, not kept. */
  dropped: number;
  /** Where reading frames stopped (bytes that are not WebSocket frames, a broken deflate stream); null when it never did. */
  stopped: { dir: TcpDirection; t_us: number; reason: string } | null;
}

/** c2s: client → downstream; s2c: downstream → client. */
export type TcpDirection = 'c2s' | 's2c';

/** One read from either socket, kept as it arrived. */
export interface TcpChunk {
  dir: TcpDirection;
  /** Offset from `started_at` in microseconds. */
  t_us: number;
  data: Buffer;
}

/**
 * The application protocol a TCP listener was told it carries (`tcp.protocol`). The bytes are
 * recorded as they are whatever it is; the protocol says how to read them as messages (API view,
 * replay, comparison). Records of a "raw" listener carry no `app_protocol`.
 */
export type AppProtocol = 'postgres' | 'redis' | 'mysql';

/** Every value of {@link AppProtocol}, for validation. */
export const APP_PROTOCOLS: readonly AppProtocol[] = ['postgres', 'redis', 'mysql'];

/** Every way a TCP session ends, for validation. */
export const TCP_CLOSE_REASONS = [
  'client_close',
  'server_close',
  'client_reset',
  'server_reset',
  'idle_timeout',
  'connect_failed',
  'connect_timeout',
  'tls_error',
  'error',
  'shutdown',
] as const;

/** How a TCP session ended. */
export type TcpCloseReason = (typeof TCP_CLOSE_REASONS)[number];

/**
 * One TCP connection. A long session is recorded in segments while it is open: every segment
 * carries the same `id`, the chunks since the previous segment and the current totals; the store
 * appends the chunks and updates the rest. `get` returns the whole session.
 */
export interface TcpRecord {
  v: typeof RECORD_FORMAT_VERSION;
  id: string;
  protocol: 'tcp';
  node_id: string;
  started_at: number;
  duration_ms: number;
  client: Endpoint;
  /** TLS details when the listener terminated TLS. */
  tls: TlsInfo | null;
  /** "host:port" of the downstream connected to, null if none could be reached. */
  downstream: string | null;
  /** Whether QProxy spoke TLS to the downstream. */
  downstream_tls: boolean;
  /** The listener's `tcp.protocol` when it is not "raw"; absent for raw sessions. */
  app_protocol?: AppProtocol;
  /** Bytes client → downstream, including any beyond the session cap. */
  bytes_in: number;
  /** Bytes downstream → client, including any beyond the session cap. */
  bytes_out: number;
  chunks: TcpChunk[];
  /** True once the per-session byte cap was reached: later bytes are counted, not kept. */
  truncated: boolean;
  state: 'open' | 'closed';
  close_reason: TcpCloseReason | null;
  error: RecordError | null;
  redacted: string[];
}

/** Every kind of record the store holds. */
export type QRecord = HttpRecord | TcpRecord;

/** The list view of a record: SPEC §7 fields, cheap to read without bodies. */
export interface RecordSummary {
  id: string;
  protocol: QRecord['protocol'];
  node_id: string;
  /** ISO 8601. */
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
  /** TCP only: "open" while the session is still being recorded. */
  state?: 'open' | 'closed';
}

/**
 * What an HTTP record's index row is made of: the record without its headers, bodies and
 * messages. A sync receiver that checked a record's document off its main thread hands the store
 * this with the document as it came, and never builds the record there.
 */
export interface HttpRecordHead {
  id: string;
  node_id: string;
  started_at: number;
  duration_ms: number;
  method: string;
  url: string;
  /** Status QProxy sent to the client (HttpRecord.status). */
  status: number | null;
  client: Endpoint;
  downstream: string | null;
  /** The record's error code, if any. */
  error: string | null;
  /** Request and response body sizes as captured (before truncation). */
  bytes_in: number;
  bytes_out: number;
  redacted: boolean;
  request_truncated: boolean;
  response_truncated: boolean;
}

/** The head of an HTTP record (see {@link HttpRecordHead}). */
export function httpRecordHead(r: HttpRecord): HttpRecordHead {
  return {
    id: r.id,
    node_id: r.node_id,
    started_at: r.started_at,
    duration_ms: r.duration_ms,
    method: r.request.method,
    url: r.request.url,
    status: r.status,
    client: r.client,
    downstream: r.downstream,
    error: r.error?.code ?? null,
    bytes_in: r.request.body.size,
    bytes_out: r.response?.body.size ?? 0,
    redacted: r.redacted.length > 0,
    request_truncated: r.request.body.truncated,
    response_truncated: r.response?.body.truncated ?? false,
  };
}
