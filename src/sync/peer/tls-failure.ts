/**
 * What a failed TLS handshake on the sync listener says about its cause. OpenSSL's codes tell a
 * peer that hung up (a sender that does not trust this node's certificate does exactly that) from a
 * client that does not speak TLS, a missing or untrusted client certificate, or no common protocol;
 * each gets its own fix, and mutual TLS is only mentioned when sync.tls.ca is set.
 */
import { errorMessage } from '../../core/errors.js';

/** The cause, phrased for the log and `/api/status`; `error` when the configuration must change, `warn` when it may be a stray client. */
export interface TlsFailure {
  message: string;
  level: 'error' | 'warn';
}

const RESETS = new Set(['ECONNRESET', 'ECONNABORTED', 'EPIPE']);
const NOT_TLS = new Set(['ERR_SSL_WRONG_VERSION_NUMBER', 'ERR_SSL_PACKET_LENGTH_TOO_LONG', 'ERR_SSL_RECORD_LAYER_FAILURE']);
const NO_COMMON = new Set(['ERR_SSL_UNSUPPORTED_PROTOCOL', 'ERR_SSL_NO_SHARED_CIPHER', 'ERR_SSL_VERSION_TOO_LOW', 'ERR_SSL_NO_PROTOCOLS_AVAILABLE']);

/** Describes `err` from the listener's `tlsClientError`; `mutualTls`: the listener asks for client certificates. */
export function describeTlsFailure(err: Error, mutualTls: boolean): TlsFailure {
  const code = (err as { code?: unknown }).code;
  const text = typeof code === 'string' ? code : 'TLS';
  const said = `${text}: ${firstLine(errorMessage(err))}`;
  const untrustedClient = mutualTls ? ', or one whose client certificate is not signed by sync.tls.ca' : '';
  if (typeof code === 'string' && RESETS.has(code)) {
    return {
      level: 'warn',
      message: `the peer closed the connection during the TLS handshake (${said}): a Record node that does not trust this node's certificate does that (its peer.ca must hold the CA that signed sync.tls.tls_cert)${untrustedClient}; else a client that gave up`,
    };
  }
  if (code === 'ERR_SSL_HTTP_REQUEST') {
    return { level: 'warn', message: `a plain HTTP client on the TLS sync port (${said}): Record nodes need peer.tls: true to match sync.tls` };
  }
  if (typeof code === 'string' && NOT_TLS.has(code)) {
    return { level: 'warn', message: `a client that does not speak TLS (${said}), such as a Record node with peer.tls: false: set peer.tls: true to match sync.tls` };
  }
  if (code === 'ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE') {
    return { level: 'error', message: `the peer sent no client certificate, and sync.tls.ca asks for one (${said}): set peer.cert and peer.key on the Record node` };
  }
  if (code === 'ERR_SSL_CERTIFICATE_VERIFY_FAILED' || /certificate verify failed/i.test(errorMessage(err))) {
    return { level: 'error', message: `the peer's client certificate is not signed by sync.tls.ca (${said}): issue peer.cert from that CA, or add its CA to sync.tls.ca` };
  }
  if (typeof code === 'string' && /^ERR_SSL_(TLSV1|SSLV3)_ALERT_(UNKNOWN_CA|BAD_CERTIFICATE|CERTIFICATE_UNKNOWN|UNSUPPORTED_CERTIFICATE)$/.test(code)) {
    return {
      level: 'error',
      message: `the peer refused this node's certificate (${said}): on the Record node, peer.ca must hold the CA that signed sync.tls.tls_cert and peer.host must be a name the certificate covers`,
    };
  }
  if (typeof code === 'string' && NO_COMMON.has(code)) {
    return { level: 'error', message: `no TLS version or cipher in common with the peer (${said}): the sync listener takes TLS 1.2 and later` };
  }
  if (code === 'ERR_TLS_HANDSHAKE_TIMEOUT') {
    return { level: 'warn', message: `the peer did not finish the TLS handshake in time (${said})` };
  }
  return { level: 'error', message: `the TLS handshake with the peer failed (${said})` };
}

/** OpenSSL messages carry the source file and line after the first line; those help nobody here. */
function firstLine(message: string): string {
  const m = /:SSL routines:[^:]*:([^:]+):/.exec(message);
  return m ? m[1]! : message.split('\n')[0]!;
}
