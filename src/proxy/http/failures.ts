import { errorCode } from '../../core/errors.js';
import type { ExchangeOutcome, RejectReason } from './observer.js';

/**
 * The one place where failures become HTTP statuses, stable codes and JSON bodies.
 *
 * @module
 */

/** How one failure is answered and recorded. */
export interface FailureResponse {
  status: number;
  /** Stable QP_ERR_* code, sent in the JSON body and stored in record.error.code. */
  code: string;
  /** Short, safe to show to the client (no internal addresses). */
  error: string;
  outcome: ExchangeOutcome;
}

/** undici / Node error codes that mean "the downstream never answered in time". */
const TIMEOUT_CODES: ReadonlySet<string> = new Set([
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'ETIMEDOUT',
  'QP_ERR_DOWNSTREAM_TIMEOUT',
]);

/** Codes that mean "could not reach the downstream at all" (dial, DNS, TLS verification). */
const CONNECT_CODES: ReadonlySet<string> = new Set([
  'QP_ERR_DOWNSTREAM_CONNECT',
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EADDRNOTAVAIL',
  'EPROTO',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'ERR_SSL_WRONG_VERSION_NUMBER',
]);

/**
 * Codes that, reported before the request was handed to a connection, mean the connection never
 * came up (refused, unreachable, connect timeout, reset or failure during the TLS handshake).
 * Anything else before that point (bad arguments, a closed pool) is not the endpoint's fault.
 */
const DIAL_CODES: ReadonlySet<string> = new Set([
  ...CONNECT_CODES,
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTDOWN',
  'ENETDOWN',
  'UND_ERR_CONNECT_TIMEOUT',
  'QP_ERR_DOWNSTREAM_TIMEOUT',
]);

/**
 * Whether `err` is a connect-time failure of the endpoint. Only meaningful for an error that came
 * before the request reached a connection (undici: no `onConnect` yet; node:http: no `connect` /
 * `secureConnect` yet): then no request byte was written and another endpoint may be tried.
 */
export function isConnectFailure(err: unknown): boolean {
  const code = errorCode(err);
  return DIAL_CODES.has(code) || code.startsWith('ERR_TLS_') || code.startsWith('ERR_SSL_');
}

/** Codes for a connection that broke after it was established. */
const RESET_CODES: ReadonlySet<string> = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED', 'UND_ERR_DESTROYED']);

/** Maps any downstream failure (undici, node:http, TLS) to 502/504 with a stable code. */
export function downstreamFailure(err: unknown): FailureResponse {
  const code = errorCode(err);
  // The forward proxy's name resolution found the destination to be QProxy itself (a loop).
  if (code === 'QP_ERR_FORWARD_DENIED') {
    return { status: 403, code, error: 'the destination is this proxy itself', outcome: 'downstream_error' };
  }
  if (TIMEOUT_CODES.has(code)) {
    return { status: 504, code: 'QP_ERR_DOWNSTREAM_TIMEOUT', error: 'downstream did not answer in time', outcome: 'timeout' };
  }
  if (CONNECT_CODES.has(code) || code.startsWith('ERR_TLS_') || code.startsWith('ERR_SSL_')) {
    return { status: 502, code: 'QP_ERR_DOWNSTREAM_CONNECT', error: 'downstream unreachable', outcome: 'downstream_error' };
  }
  if (RESET_CODES.has(code)) {
    return { status: 502, code: 'QP_ERR_DOWNSTREAM_RESET', error: 'downstream connection broke', outcome: 'downstream_error' };
  }
  return { status: 502, code: 'QP_ERR_DOWNSTREAM_PROTOCOL', error: 'downstream answered with an invalid response', outcome: 'downstream_error' };
}

/** How a refused request is answered. `close` ends the connection after the answer. */
export interface Rejection {
  status: number;
  code: string;
  error: string;
  close: boolean;
}

const REJECTIONS: Record<RejectReason, Rejection> = {
  bad_request: { status: 400, code: 'QP_ERR_BAD_REQUEST', error: 'malformed request', close: true },
  header_overflow: { status: 431, code: 'QP_ERR_HEADERS_TOO_LARGE', error: 'request header block too large', close: true },
  too_many_headers: { status: 431, code: 'QP_ERR_HEADERS_TOO_LARGE', error: 'too many request header fields', close: true },
  duplicate_host: { status: 400, code: 'QP_ERR_BAD_REQUEST', error: 'more than one Host', close: true },
  missing_host: { status: 400, code: 'QP_ERR_BAD_REQUEST', error: 'no Host in an HTTP/1.1 request', close: true },
  http10_transfer_encoding: { status: 400, code: 'QP_ERR_BAD_REQUEST', error: 'Transfer-Encoding in an HTTP/1.0 request', close: true },
  unsupported_version: {
    status: 505,
    code: 'QP_ERR_HTTP_VERSION',
    error: 'HTTP version not supported: send HTTP/1.1 (or HTTP/1.0); HTTP/2 is spoken only over TLS, negotiated with ALPN',
    close: true,
  },
  body_too_large: { status: 413, code: 'QP_ERR_BODY_TOO_LARGE', error: 'request body too large', close: true },
  expectation_failed: { status: 417, code: 'QP_ERR_EXPECTATION_FAILED', error: 'unsupported Expect value', close: true },
  request_timeout: { status: 408, code: 'QP_ERR_REQUEST_TIMEOUT', error: 'request not received in time', close: true },
  h2_malformed: { status: 400, code: 'QP_ERR_BAD_REQUEST', error: 'connection-specific field in an HTTP/2 request', close: true },
  tls_handshake: { status: 400, code: 'QP_ERR_BAD_REQUEST', error: 'TLS handshake failed', close: true },
  too_many_connections: { status: 503, code: 'QP_ERR_TOO_MANY_CONNECTIONS', error: 'connection limit reached', close: true },
  forward_denied: { status: 403, code: 'QP_ERR_FORWARD_DENIED', error: 'the forward proxy does not allow this request', close: true },
  proxy_auth_required: { status: 407, code: 'QP_ERR_PROXY_AUTH', error: 'proxy authentication required', close: false },
};

/** How a refusal for `reason` is answered. */
export function rejection(reason: RejectReason): Rejection {
  return REJECTIONS[reason];
}

/** The JSON body of every error QProxy itself answers with. */
export function errorBody(error: string, code: string): string {
  return JSON.stringify({ error, code });
}
