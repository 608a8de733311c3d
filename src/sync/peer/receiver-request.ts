import { constants, type IncomingHttpHeaders, type ServerHttp2Stream } from 'node:http2';
import { QProxyError, errorMessage } from '../../core/errors.js';
import { identityAllowed } from './client-identity.js';
import type { BatchDecoder } from '../batch-decoder.js';
import { compressionOf, type Compression } from '../compression.js';
import { lagSeconds } from '../lag.js';
import type { SyncMetricsObserver, SyncRejectReason } from '../observer.js';
import { BATCH_CONTENT_TYPE, HEADER_BATCH_FORMAT, HEADER_NODE, HEADER_RAW_BYTES, HEADER_RECORDS, SYNC_PATH, type BatchAck } from './protocol.js';
import type { ReceiverWriter } from '../receiver-writer.js';
import { SyncError } from '../sync-error.js';
import type { SyncToken } from './token.js';
import { WIRE_FORMAT } from '../wire-format.js';

/** One connected peer, as the receiver knows it. */
export interface PeerConn {
  /** "ip:port" of the TCP connection. */
  address: string;
  /** The remote IP alone: what refusals of unauthenticated peers are logged by. */
  ip: string;
  /** Names of the client certificate (CN, DNS/URI SANs); empty without mutual TLS. */
  identity: string[];
  /** Sender's node_id, from its first request. */
  node: string | null;
  /** Passed the token and certificate checks once; the connection is then held like any peer's. */
  authenticated: boolean;
  /** The writer's epoch when the connection opened: its batches are refused once a batch has failed since. */
  epoch: number;
}

/** What the handler needs from the receiver. */
export interface RequestContext {
  token: SyncToken;
  allowedClients: readonly string[];
  maxBatchBytes: number;
  /** Decompresses, decodes and checks batch bodies off the main thread. */
  decoder: Pick<BatchDecoder, 'decode'>;
  writer: ReceiverWriter;
  observer: Pick<SyncMetricsObserver, 'batchStored' | 'batchRefused'> | undefined;
  closing(): boolean;
  /** The peer passed the access checks for the first time on this connection. */
  authenticated(peer: PeerConn): void;
  /** Told how every request ended, for status and once-per-change logging. */
  outcome(peer: PeerConn, result: { ok: true; stored: number; skipped: number } | { ok: false; refusal: Refusal }): void;
}

/** A refusal: HTTP status, ledger/metric reason, stable code, message for the sender's log. */
export class Refusal extends QProxyError {
  constructor(
    readonly status: number,
    readonly reason: SyncRejectReason,
    code: string,
    message: string,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(code, message);
  }
}

/** Refusals that say something about the batch's records, and so count in the per-node ledger. */
const LEDGER_REASONS: ReadonlySet<SyncRejectReason> = new Set(['malformed', 'too_large', 'format_version', 'unsupported_media']);

const NODE_HEADER = /^[\x21-\x7e]{1,128}$/;

function refusalOf(err: unknown): Refusal {
  if (err instanceof Refusal) return err;
  if (err instanceof SyncError) {
    switch (err.code) {
      case 'QP_ERR_SYNC_BATCH_TOO_LARGE':
        return new Refusal(413, 'too_large', err.code, err.message);
      case 'QP_ERR_SYNC_FORMAT_VERSION':
        return new Refusal(400, 'format_version', err.code, err.message);
      case 'QP_ERR_SYNC_BATCH_MALFORMED':
        return new Refusal(400, 'malformed', err.code, err.message);
      default:
        break;
    }
  }
  const code = err instanceof QProxyError ? err.code : 'QP_ERR_SYNC_STORE';
  return new Refusal(503, 'store_error', 'QP_ERR_SYNC_STORE', `the receiver could not store the batch (${code}: ${errorMessage(err)}); it will be accepted on retry once storage works`);
}

function reply(stream: ServerHttp2Stream, status: number, body?: object, headers: Readonly<Record<string, string>> = {}): void {
  if (stream.destroyed || stream.closed || stream.headersSent) return;
  if (body === undefined) return void stream.respond({ ':status': status, ...headers }, { endStream: true });
  stream.respond({ ':status': status, 'content-type': 'application/json', ...headers });
  stream.end(JSON.stringify(body));
}

/** Reads the request body, refusing (413) past `max` bytes without buffering the excess. */
function readBody(stream: ServerHttp2Stream, max: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let n = 0;
    const fail = (err: Error): void => {
      stream.removeListener('data', onData);
      reject(err);
    };
    const onData = (c: Buffer): void => {
      n += c.byteLength;
      if (n > max) fail(tooLargeWire(max));
      else parts.push(c);
    };
    stream.on('data', onData);
    stream.once('end', () => resolve(Buffer.concat(parts, n)));
    stream.once('aborted', () => fail(new SyncError('QP_ERR_SYNC_RESET', 'the sender aborted the batch mid-body')));
    stream.once('error', fail);
    // Settles nothing once 'end' has resolved; otherwise a stream closed without 'aborted' would hang the handler.
    stream.once('close', () => fail(new SyncError('QP_ERR_SYNC_RESET', 'the batch stream closed before its body ended')));
  });
}

/**
 * After a refusal the rest of the body is read and dropped, so the answer is not lost to a stream
 * reset; a peer that keeps sending past `max` more bytes gets the stream cancelled.
 */
function drain(stream: ServerHttp2Stream, max: number): void {
  let n = 0;
  stream.on('data', (c: Buffer) => {
    n += c.byteLength;
    // Deferred: closing a stream from inside its own data event re-enters nghttp2 (see connection.ts).
    if (n > max && !stream.closed) setImmediate(() => stream.close(constants.NGHTTP2_CANCEL));
  });
  stream.resume();
}

function tooLargeWire(max: number): Refusal {
  return new Refusal(
    413,
    'too_large',
    'QP_ERR_SYNC_BATCH_TOO_LARGE',
    `sync batch body is larger than sync.max_batch_bytes (${max} bytes); lower peer.batch_max_bytes on the Record node or raise sync.max_batch_bytes`,
  );
}

/** The sender's x-qproxy-raw-bytes, when it is a plain count: only a hint for sizing the output Buffer. */
function rawBytesHint(headers: IncomingHttpHeaders): number | undefined {
  const text = headers[HEADER_RAW_BYTES];
  return typeof text === 'string' && /^\d{1,12}$/.test(text) ? Number(text) : undefined;
}

function checkAccess(headers: IncomingHttpHeaders, peer: PeerConn, ctx: RequestContext): void {
  if (headers[':path'] !== SYNC_PATH) {
    throw new Refusal(404, 'not_found', 'QP_ERR_SYNC_NOT_FOUND', `no sync endpoint at ${String(headers[':path'])}; Record nodes POST to ${SYNC_PATH}`);
  }
  if (headers[':method'] !== 'POST' && headers[':method'] !== 'GET') {
    throw new Refusal(405, 'not_found', 'QP_ERR_SYNC_NOT_FOUND', `${SYNC_PATH} takes POST (and GET, to check access) only`, { allow: 'POST, GET' });
  }
  if (ctx.closing()) throw new Refusal(503, 'closing', 'QP_ERR_SYNC_CLOSING', 'the receiver is shutting down; retry shortly');
  const verdict = ctx.token.check(headers.authorization);
  if (verdict !== 'ok') {
    const why = verdict === 'missing' ? 'no bearer token was sent' : verdict === 'malformed' ? 'the Authorization header is not "Bearer <token>"' : 'the bearer token is wrong';
    throw new Refusal(401, 'unauthorized', 'QP_ERR_SYNC_UNAUTHORIZED', `${why}: set peer.token on the Record node to this node's sync.token`, {
      'www-authenticate': 'Bearer realm="qproxy-sync"',
    });
  }
  if (ctx.allowedClients.length > 0 && !identityAllowed(peer.identity, ctx.allowedClients)) {
    const names = peer.identity.length > 0 ? peer.identity.join(', ') : 'none (no client certificate)';
    throw new Refusal(403, 'forbidden', 'QP_ERR_SYNC_FORBIDDEN', `client certificate identity ${names} is not in sync.allowed_clients`);
  }
}

function checkMedia(headers: IncomingHttpHeaders, max: number): Compression {
  const type = String(headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== BATCH_CONTENT_TYPE) {
    throw new Refusal(415, 'unsupported_media', 'QP_ERR_SYNC_UNSUPPORTED_MEDIA', `content-type must be ${BATCH_CONTENT_TYPE}, got "${type}"`);
  }
  const how = compressionOf(headers['content-encoding']);
  if (!how) {
    throw new Refusal(415, 'unsupported_media', 'QP_ERR_SYNC_UNSUPPORTED_MEDIA', `content-encoding "${String(headers['content-encoding'])}" is not gzip, br or identity`);
  }
  const length = Number(headers['content-length'] ?? 0);
  if (length > max) throw tooLargeWire(max);
  return how;
}

/** Handles one POST of a batch, from access checks to the acknowledgement after commit. */
export async function handleBatchStream(stream: ServerHttp2Stream, headers: IncomingHttpHeaders, peer: PeerConn, ctx: RequestContext): Promise<void> {
  const nodeHeader = String(headers[HEADER_NODE] ?? '');
  const declared = Math.max(0, Math.min(Number.parseInt(String(headers[HEADER_RECORDS] ?? '0'), 10) || 0, 1_000_000));
  let wireBytes = 0;
  let authenticated = false;
  try {
    checkAccess(headers, peer, ctx);
    authenticated = true;
    if (NODE_HEADER.test(nodeHeader)) peer.node = nodeHeader;
    if (!peer.authenticated) {
      peer.authenticated = true;
      ctx.authenticated(peer);
    }
    // A sender's access check when its link comes up: a POST would pass the same checks.
    if (headers[':method'] === 'GET') return void reply(stream, 204, undefined, { [HEADER_BATCH_FORMAT]: String(WIRE_FORMAT) });
    const how = checkMedia(headers, ctx.maxBatchBytes);
    const body = await readBody(stream, ctx.maxBatchBytes);
    wireBytes = body.byteLength;
    const batch = await ctx.decoder.decode(body, how, ctx.maxBatchBytes, rawBytesHint(headers));
    const receivedAt = Date.now();
    const done = await ctx.writer.storeBatch(batch, peer.epoch);
    reply(stream, 200, { stored: done.stored, skipped: done.skipped } satisfies BatchAck);
    ctx.observer?.batchStored({
      stored: done.stored,
      skipped: done.skipped,
      rawBytes: batch.rawBytes,
      wireBytes,
      lagSeconds: lagSeconds(
        batch.entries.map((e) => ('received' in e ? e.received.head : e.record)),
        receivedAt,
      ),
    });
    ctx.outcome(peer, { ok: true, ...done });
  } catch (err) {
    const refusal = refusalOf(err);
    reply(stream, refusal.status, { error: refusal.message, code: refusal.code }, refusal.headers);
    drain(stream, ctx.maxBatchBytes);
    ctx.observer?.batchRefused(refusal.reason, declared, wireBytes);
    if (authenticated && LEDGER_REASONS.has(refusal.reason)) ctx.writer.noteRejected(peer.node ?? 'unknown', refusal.reason, declared);
    ctx.outcome(peer, { ok: false, refusal });
  }
}
