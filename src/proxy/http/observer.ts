/**
 * What the proxies report to the rest of QProxy (metrics implements it structurally). Calls are
 * synchronous and must be cheap: they run on the hot path, once per exchange.
 *
 * @module
 */

/** How a proxied exchange ended. */
export type ExchangeOutcome = 'ok' | 'downstream_error' | 'timeout' | 'client_abort';

/** One finished exchange (proxied request/response, or an upgraded tunnel when it closes). */
export interface ExchangeEvent {
  outcome: ExchangeOutcome;
  /** Status sent to the client; 499 when the client went away before a response started. */
  status: number;
  durationSec: number;
  /** Request body bytes received from the client (tunnel bytes client → downstream for upgrades). */
  bytesIn: number;
  /** Response body bytes sent to the client (tunnel bytes downstream → client for upgrades). */
  bytesOut: number;
}

/**
 * Reasons a request is refused before it is proxied. The set is closed so that a metric label built
 * from it stays low-cardinality.
 */
export type RejectReason =
  | 'bad_request'
  | 'header_overflow'
  | 'too_many_headers'
  | 'duplicate_host'
  | 'missing_host'
  | 'http10_transfer_encoding'
  | 'unsupported_version'
  | 'body_too_large'
  | 'expectation_failed'
  | 'request_timeout'
  | 'h2_malformed'
  | 'tls_handshake'
  | 'too_many_connections'
  | 'forward_denied'
  | 'proxy_auth_required';

/** Receives the HTTP proxy's events. */
export interface HttpProxyObserver {
  exchange(e: ExchangeEvent): void;
  /** A request (or connection) refused before proxying; see {@link RejectReason}. */
  rejected(reason: string): void;
  upgrade(event: 'open' | 'close' | 'error'): void;
  /**
   * A request (or upgrade handshake) is sent to another downstream endpoint because the one picked
   * first could not be connected to; once per extra attempt.
   */
  retry(): void;
  /** A recorded WebSocket connection ended: the messages read from its frames. */
  websocket?(e: WebSocketEvent): void;
}

/** What frame recording read from one WebSocket connection. */
export interface WebSocketEvent {
  /** Messages kept, client → downstream and back. */
  c2s: number;
  s2c: number;
  /** Messages over recording.websocket.max_bytes: counted, not kept. */
  dropped: number;
  /** Reading frames stopped at a fault (the relay went on). */
  stopped: boolean;
}
