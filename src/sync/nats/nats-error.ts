import { QProxyError, errorMessage } from '../../core/errors.js';
import type { SyncFailureReason } from '../observer.js';

/** Stable codes of the NATS JetStream sync backend (docs/errors.md, "NATS JetStream sync"). */
export type NatsErrorCode =
  /** No NATS server could be reached (refused, DNS, timeout); retried with back-off. */
  | 'QP_ERR_NATS_CONNECT'
  /** The server refused the credentials (token, user/password, creds file). */
  | 'QP_ERR_NATS_AUTH'
  /** The server refused a subject or API call for this user (permissions). */
  | 'QP_ERR_NATS_PERMISSION'
  /** TLS with the server failed or its certificate is not trusted. */
  | 'QP_ERR_NATS_TLS'
  /** The server runs without JetStream. */
  | 'QP_ERR_NATS_NO_JETSTREAM'
  /** The stream is missing and nats.create_stream is false. */
  | 'QP_ERR_NATS_STREAM_MISSING'
  /** The stream exists with settings QProxy cannot work with (subjects, duplicate window, mirror, sources). */
  | 'QP_ERR_NATS_STREAM_CONFLICT'
  /** The durable consumer exists with settings QProxy cannot work with (filter, ack policy). */
  | 'QP_ERR_NATS_CONSUMER_CONFLICT'
  /** A publish was not acknowledged in time, or the connection dropped; retried from the cursor. */
  | 'QP_ERR_NATS_PUBLISH'
  /** A message from the stream is not a QProxy record message; it is logged, counted and terminated. */
  | 'QP_ERR_NATS_MESSAGE_MALFORMED'
  /** The parts of a large record are no longer in the stream (retention removed them). */
  | 'QP_ERR_NATS_PARTS_MISSING';

/** Errors an operator must fix: retrying faster cannot help, so they are retried at the back-off ceiling. */
const OPERATOR_FIX: ReadonlySet<NatsErrorCode> = new Set([
  'QP_ERR_NATS_AUTH',
  'QP_ERR_NATS_PERMISSION',
  'QP_ERR_NATS_TLS',
  'QP_ERR_NATS_NO_JETSTREAM',
  'QP_ERR_NATS_STREAM_MISSING',
  'QP_ERR_NATS_STREAM_CONFLICT',
  'QP_ERR_NATS_CONSUMER_CONFLICT',
]);

const REASON: Record<NatsErrorCode, SyncFailureReason> = {
  QP_ERR_NATS_CONNECT: 'connect',
  QP_ERR_NATS_AUTH: 'unauthorized',
  QP_ERR_NATS_PERMISSION: 'forbidden',
  QP_ERR_NATS_TLS: 'tls',
  QP_ERR_NATS_NO_JETSTREAM: 'incompatible',
  QP_ERR_NATS_STREAM_MISSING: 'incompatible',
  QP_ERR_NATS_STREAM_CONFLICT: 'incompatible',
  QP_ERR_NATS_CONSUMER_CONFLICT: 'incompatible',
  QP_ERR_NATS_PUBLISH: 'ack_timeout',
  QP_ERR_NATS_MESSAGE_MALFORMED: 'rejected',
  QP_ERR_NATS_PARTS_MISSING: 'rejected',
};

/** An error of the NATS backend, with the metric reason it counts under. */
export class NatsError extends QProxyError {
  declare readonly code: NatsErrorCode;
  constructor(code: NatsErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }

  /** Label value of `qproxy_sync_failures_total`. */
  get reason(): SyncFailureReason {
    return REASON[this.code];
  }

  /** True for misconfigurations: retried at the back-off ceiling and logged as errors. */
  get operatorFix(): boolean {
    return OPERATOR_FIX.has(this.code);
  }
}

function codeOf(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' || typeof code === 'number' ? String(code) : '';
}

/** Turns whatever a connect, JetStream API call or publish failed with into a NatsError. */
export function classifyNatsError(err: unknown, servers: string): NatsError {
  if (err instanceof NatsError) return err;
  const msg = errorMessage(err);
  const name = err instanceof Error ? err.constructor.name : '';
  const code = codeOf(err);
  const cause = (err as { cause?: unknown } | null)?.cause;
  const inner = cause instanceof Error ? `${cause.message} ${codeOf(cause)}` : '';
  const text = `${msg} ${inner}`;
  if (name === 'JetStreamNotEnabled' || /jetstream (is )?not enabled/i.test(text)) {
    return new NatsError(
      'QP_ERR_NATS_NO_JETSTREAM',
      `the NATS server ${servers} runs without JetStream; start nats-server with -js, or add "jetstream {}" (with a store_dir) to its config`,
      { cause: err },
    );
  }
  if (/authorization violation|authentication|auth(entication)? (expired|revoked)|user authentication/i.test(text) || name === 'AuthorizationError') {
    return new NatsError('QP_ERR_NATS_AUTH', `the NATS server ${servers} refused our credentials (${msg}); check nats.token, nats.user/password or nats.creds`, { cause: err });
  }
  if (/permissions? violation/i.test(text) || name === 'PermissionViolationError') {
    return new NatsError('QP_ERR_NATS_PERMISSION', `the NATS user lacks a permission (${msg}); allow it publish/subscribe on the stream's subjects and $JS.API.>`, { cause: err });
  }
  if (/certificate|self[- ]signed|ssl|tls/i.test(text)) {
    return new NatsError('QP_ERR_NATS_TLS', `TLS with the NATS server ${servers} failed (${msg}); check nats.tls (ca, cert, key) against the server's tls block`, { cause: err });
  }
  if (/ECONNREFUSED|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ENETUNREACH|CONNECTION_REFUSED|timeout|timed out/i.test(text) || name === 'ConnectionError' || code === 'ECONNREFUSED') {
    return new NatsError('QP_ERR_NATS_CONNECT', `cannot reach the NATS server ${servers} (${msg}); retrying with back-off`, { cause: err });
  }
  return new NatsError('QP_ERR_NATS_CONNECT', `the NATS connection to ${servers} failed (${name || code || 'error'}: ${msg}); retrying with back-off`, { cause: err });
}
