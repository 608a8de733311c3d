import { QProxyError } from '../core/errors.js';

/**
 * Stable codes of the sync link. The receiver puts them in its JSON error bodies, so a sender (and
 * an operator reading its status) sees the same code the receiver logged.
 */
export type SyncErrorCode =
  /** The batch body is not a well-formed batch (bad framing, JSON, or a record that fails validation). */
  | 'QP_ERR_SYNC_BATCH_MALFORMED'
  /** The batch (compressed or decompressed) is larger than the receiver accepts. */
  | 'QP_ERR_SYNC_BATCH_TOO_LARGE'
  /** The batch uses a format version this receiver does not read. */
  | 'QP_ERR_SYNC_FORMAT_VERSION'
  /** Content-Encoding or Content-Type the receiver does not handle. */
  | 'QP_ERR_SYNC_UNSUPPORTED_MEDIA'
  /** Missing or wrong bearer token. */
  | 'QP_ERR_SYNC_UNAUTHORIZED'
  /** Client certificate identity not in sync.allowed_clients. */
  | 'QP_ERR_SYNC_FORBIDDEN'
  /** Wrong path or method: whatever answers is not a QProxy sync receiver. */
  | 'QP_ERR_SYNC_NOT_FOUND'
  /** The receiver could not store the batch (its store failed or is closing); retry later. */
  | 'QP_ERR_SYNC_STORE'
  /** The receiver is shutting down; retry later. */
  | 'QP_ERR_SYNC_CLOSING'
  /** The peer could not be reached (refused, DNS, network). */
  | 'QP_ERR_SYNC_CONNECT'
  /** The peer's TLS certificate is not trusted, or TLS failed. */
  | 'QP_ERR_SYNC_TLS'
  /** No answer in time: connect, HTTP/2 PING or batch acknowledgement. */
  | 'QP_ERR_SYNC_TIMEOUT'
  /** The connection or stream broke mid-batch. */
  | 'QP_ERR_SYNC_RESET'
  /** The peer answered with a status this sender does not expect. */
  | 'QP_ERR_SYNC_PEER_ERROR';

/** An error of the sync link (sender or receiver side). */
export class SyncError extends QProxyError {
  declare readonly code: SyncErrorCode;
  constructor(code: SyncErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}
