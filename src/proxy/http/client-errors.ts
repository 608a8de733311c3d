import type { Duplex } from 'node:stream';
import { errorCode } from '../../core/errors.js';
import type { HttpProxyObserver, RejectReason } from './observer.js';
import { errorBody, rejection } from './failures.js';

/**
 * Answers for requests Node's parser refused (`clientError`) and for CONNECT, which a reverse
 * proxy does not serve. Node's own status mapping is kept (431 for an oversized head, 408 for a
 * head that came too slowly, 400 for everything else); every refusal is counted and the
 * connection closed, since after a framing error nothing else on it can be trusted.
 *
 * @module
 */

/** Codes meaning the client just went away: not a refusal, nothing to answer. */
const CLIENT_GONE: ReadonlySet<string> = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED']);

/** The `clientError` handler of the HTTP/1 server. */
export function onClientError(err: Error, socket: Duplex, observer: HttpProxyObserver): void {
  const code = errorCode(err);
  if (CLIENT_GONE.has(code) || socket.destroyed) {
    socket.destroy();
    return;
  }
  const inFlight = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } | null })._httpMessage;
  if (code === 'HPE_CLOSED_CONNECTION') {
    // Bytes after a message that closes the connection (Connection: close, HTTP/1.0): ignored, not
    // a refusal. The connection ends once the answer in flight is out — not cut short now.
    if (!inFlight) socket.destroy();
    return;
  }
  const reason = clientErrorReason(code);
  observer.rejected(reason);
  // Like Node: answer only when nothing of a response went out on this connection yet.
  if (socket.writable && inFlight?.headersSent !== true) socket.write(cannedResponse(reason));
  socket.destroy();
}

function clientErrorReason(code: string): RejectReason {
  switch (code) {
    case 'HPE_HEADER_OVERFLOW':
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return 'header_overflow';
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return 'request_timeout';
    default:
      return 'bad_request';
  }
}

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  431: 'Request Header Fields Too Large',
};

function cannedResponse(reason: RejectReason): string {
  const r = rejection(reason);
  return rawResponse(r.status, errorBody(r.error, r.code));
}

function rawResponse(status: number, body: string): string {
  return (
    `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? ''}\r\n` +
    `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`
  );
}

/** CONNECT (forward-proxy tunnelling) is out of scope: 405 and close. */
export function refuseConnect(socket: Duplex, observer: HttpProxyObserver): void {
  observer.rejected('bad_request');
  socket.on('error', () => socket.destroy());
  socket.end(rawResponse(405, errorBody('CONNECT is not supported by this reverse proxy', 'QP_ERR_BAD_REQUEST')));
}
