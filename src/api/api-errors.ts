import { ConfigError, QProxyError } from '../core/errors.js';

/** Codes the API answers with, besides those of the components behind it. */
export type ApiErrorCode =
  | 'QP_ERR_API_BAD_REQUEST'
  | 'QP_ERR_API_BAD_PARAM'
  | 'QP_ERR_API_UNAUTHORIZED'
  | 'QP_ERR_API_NOT_FOUND'
  | 'QP_ERR_API_RECORD_NOT_FOUND'
  | 'QP_ERR_API_REPLAY_NOT_FOUND'
  | 'QP_ERR_API_RESULT_NOT_FOUND'
  | 'QP_ERR_API_UNSUPPORTED_MEDIA_TYPE'
  | 'QP_ERR_API_METHOD_NOT_ALLOWED'
  | 'QP_ERR_API_BODY_NOT_ALLOWED'
  | 'QP_ERR_API_HOST_NOT_ALLOWED'
  | 'QP_ERR_API_HEADERS_TOO_LARGE'
  | 'QP_ERR_API_REQUEST_TIMEOUT'
  | 'QP_ERR_API_IMPORT_NOT_ALLOWED'
  | 'QP_ERR_API_CSRF'
  | 'QP_ERR_API_LOGIN_LIMIT'
  | 'QP_ERR_API_UI_NOT_BUILT'

  | 'QP_ERR_API_NOT_PROTOCOL';

/** An error the API answers with a given status (and extra headers such as Allow). */
export class ApiError extends QProxyError {
  constructor(
    readonly status: number,
    code: ApiErrorCode,
    message: string,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(code, message);
  }
}

/**
 * The API would listen on a non-loopback address without a token. A ConfigError (exit code 2):
 * the fix is in the configuration.
 */
export class UnsafeBindError extends ConfigError {
  override readonly code = 'QP_ERR_API_UNSAFE_BIND';
}

/** What the client gets for an error. */
export interface ErrorReply {
  status: number;
  headers: Readonly<Record<string, string>>;
  body: { error: string; code: string };
  /** True for failures of the server itself (5xx): the caller logs them with their stack. */
  internal: boolean;
}

/** Codes raised by components behind the API that are the client's fault. */
const CLIENT_ERROR_CODES: Readonly<Record<string, number>> = {
  QP_ERR_BAD_CURSOR: 400,
  QP_ERR_BAD_QUERY: 400,
  QP_ERR_CONFIG: 400,
  QP_ERR_HAR_INVALID: 400,
  QP_ERR_REPLAY_LIMIT: 429,
  QP_ERR_REPLAY_LIVE: 409,
  QP_ERR_REPLAY_CLOSED: 503,
};

/**
 * The one place where errors become API responses. Messages of QProxyErrors are written for
 * operators and go out as they are; anything else is a bug whose details stay in the log.
 */
export function errorReply(err: unknown): ErrorReply {
  if (err instanceof ApiError) {
    return { status: err.status, headers: err.headers, body: { error: err.message, code: err.code }, internal: false };
  }
  if (err instanceof QProxyError) {
    const clientStatus = CLIENT_ERROR_CODES[err.code];
    if (clientStatus !== undefined) {
      return { status: clientStatus, headers: {}, body: { error: err.message, code: err.code }, internal: false };
    }
    // A store that cannot be read is unavailable, not broken: retrying later may work. A damaged
    // record stays damaged, so it is a plain server error.
    const status = err.code !== 'QP_ERR_STORE_DAMAGED' && err.code.startsWith('QP_ERR_STORE_') ? 503 : 500;
    return { status, headers: {}, body: { error: err.message, code: err.code }, internal: true };
  }
  return {
    status: 500,
    headers: {},
    body: { error: 'internal error; see the QProxy log for details', code: 'QP_ERR_API_INTERNAL' },
    internal: true,
  };
}
