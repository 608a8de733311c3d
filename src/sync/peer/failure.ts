import { errorMessage } from '../../core/errors.js';
import type { SyncFailureReason } from '../observer.js';
import { SyncError, type SyncErrorCode } from '../sync-error.js';

/**
 * A failed send attempt: its reason (metric label, status), a stable code and a message that says
 * what to do. `operatorFix` failures (credentials, certificates, versions) are retried at the
 * back-off ceiling: retrying faster cannot help, but the other side may be fixed without a restart.
 */
export class SyncFailure extends SyncError {
  constructor(
    readonly reason: SyncFailureReason,
    code: SyncErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
  }

  get operatorFix(): boolean {
    return OPERATOR_FIX.has(this.reason);
  }
}

const OPERATOR_FIX: ReadonlySet<SyncFailureReason> = new Set(['tls_untrusted', 'tls', 'unauthorized', 'forbidden', 'incompatible']);

const UNTRUSTED = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_UNTRUSTED',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_REVOKED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

const CONNECT = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'EADDRNOTAVAIL']);

/** Turns whatever a connect, TLS handshake or stream failed with into a SyncFailure. */
export function classifyError(err: unknown, peer: string): SyncFailure {
  if (err instanceof SyncFailure) return err;
  const raw = (err as { code?: unknown } | null)?.code;
  const code = typeof raw === 'string' ? raw : '';
  const msg = errorMessage(err);
  if (CONNECT.has(code)) {
    return new SyncFailure('connect', 'QP_ERR_SYNC_CONNECT', `cannot connect to the peer ${peer} (${code}: ${msg}); check peer.host/peer.port and that the Playback node is up`, { cause: err });
  }
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    return new SyncFailure('tls_untrusted', 'QP_ERR_SYNC_TLS', `the peer's certificate does not name ${peer} (${msg}); use a host name the certificate covers in peer.host`, { cause: err });
  }
  if (UNTRUSTED.has(code)) {
    return new SyncFailure(
      'tls_untrusted',
      'QP_ERR_SYNC_TLS',
      `the peer's TLS certificate is not trusted (${code}: ${msg}); set peer.ca to the CA bundle that signed the Playback node's sync certificate`,
      { cause: err },
    );
  }
  if (code.startsWith('ERR_SSL') || code === 'ERR_TLS_HANDSHAKE_TIMEOUT' || /alert|handshake|wrong version/i.test(msg)) {
    return new SyncFailure(
      'tls',
      'QP_ERR_SYNC_TLS',
      `TLS with the peer ${peer} failed (${code || 'TLS'}: ${msg}); peer.tls must match the receiver's sync.tls, and with mutual TLS peer.cert/peer.key must be signed by the receiver's sync.tls.ca`,
      { cause: err },
    );
  }
  if (code === 'ETIMEDOUT') {
    return new SyncFailure('connect_timeout', 'QP_ERR_SYNC_TIMEOUT', `connecting to the peer ${peer} timed out (${msg})`, { cause: err });
  }
  return new SyncFailure('reset', 'QP_ERR_SYNC_RESET', `the connection to the peer ${peer} broke (${code || 'error'}: ${msg}); the batches in flight are sent again`, { cause: err });
}

/** Turns a non-200 answer into a SyncFailure; `body` is the receiver's JSON error, when it sent one. */
export function classifyStatus(status: number, body: Buffer, peer: string): SyncFailure {
  let detail = '';
  let code = '';
  try {
    const parsed = JSON.parse(body.toString('utf8')) as { error?: unknown; code?: unknown };
    detail = typeof parsed.error === 'string' ? parsed.error : '';
    code = typeof parsed.code === 'string' ? parsed.code : '';
  } catch {
    detail = body.toString('utf8', 0, Math.min(body.byteLength, 200));
  }
  const said = detail ? `: ${detail}` : '';
  if (status === 401) return new SyncFailure('unauthorized', 'QP_ERR_SYNC_UNAUTHORIZED', `the peer ${peer} refused our token (401${said})`);
  if (status === 403) return new SyncFailure('forbidden', 'QP_ERR_SYNC_FORBIDDEN', `the peer ${peer} refused our client certificate (403${said})`);
  if (status === 400 && code === 'QP_ERR_SYNC_FORMAT_VERSION') {
    return new SyncFailure('incompatible', 'QP_ERR_SYNC_PEER_ERROR', `the peer ${peer} runs an older QProxy (400${said})`);
  }
  if (status === 400 || status === 413) return new SyncFailure('rejected', 'QP_ERR_SYNC_PEER_ERROR', `the peer ${peer} refused the batch (${status}${said})`);
  if (status === 404 || status === 405 || status === 415) {
    return new SyncFailure('incompatible', 'QP_ERR_SYNC_PEER_ERROR', `${peer} is not a compatible QProxy sync receiver (${status}${said}); check peer.port`);
  }
  return new SyncFailure('peer_error', 'QP_ERR_SYNC_PEER_ERROR', `the peer ${peer} could not take the batch (${status}${said}); it is sent again later`);
}
