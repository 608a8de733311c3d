import { once } from 'node:events';
import {
  createSecureServer,
  createServer,
  type Http2SecureServer,
  type Http2Server,
  type IncomingHttpHeaders,
  type ServerHttp2Session,
  type ServerHttp2Stream,
} from 'node:http2';
import { Socket, isIPv6, type AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { ListenError, errorMessage } from '../errors.js';
import { certificateNames } from './client-identity.js';
import type { SyncMetricsObserver } from './observer.js';
import type { NodeLedger } from './receiver-ledger.js';
import { handleBatchStream, type PeerConn, type Refusal, type RequestContext } from './receiver-request.js';
import { ReceiverWriter } from './receiver-writer.js';
import type { ReceiverStore, SyncLogger } from './store-port.js';
import { describeTlsFailure } from './tls-failure.js';
import { SyncToken } from './token.js';

/** Streams one sender may have open at once; senders use a few (peer.streams). */
const MAX_CONCURRENT_STREAMS = 16;
/**
 * Flow-control windows: the HTTP/2 default of 64 KiB per connection would cap a cross-zone link at
 * 64 KiB per round trip (1.6 MB/s at 40 ms). These let several multi-MiB batches be in flight.
 */
const STREAM_WINDOW = 8 * 1024 * 1024;
const SESSION_WINDOW = 64 * 1024 * 1024;
/** A connection with no frame at all (senders PING every few seconds) for this long is closed. */
const IDLE_SESSION_MS = 5 * 60_000;
/** Peers remembered for status; unauthenticated ones are keyed by IP, so a scanner cannot grow it without bound. */
const MAX_PEERS = 1000;

export interface SyncReceiverOptions {
  host: string;
  port: number;
  /** Serve h2 over TLS; with `ca`, clients must present a certificate it signed (mutual TLS). Absent: h2c. */
  tls?: { cert: Buffer; key: Buffer; ca?: Buffer };
  /** Bearer token senders must present; absent or empty = none. */
  token?: string;
  /** Client certificate names (CN, DNS or URI SAN) allowed to push; empty = any certificate the CA signed. */
  allowedClients: readonly string[];
  /** Largest batch accepted, compressed and decompressed. */
  maxBatchBytes: number;
  store: ReceiverStore;
  observer?: SyncMetricsObserver;
  logger: SyncLogger;
}

interface PeerStatus {
  address: string;
  identity: string[];
  connected: boolean;
  batches: number;
  last_batch_at: string | null;
  last_error: { code: string; message: string; at: string } | null;
}

/** `/api/status` `sync` section of a Playback node. */
export interface ReceiverStatus {
  role: 'receiver';
  listening: string | null;
  tls: boolean;
  mutual_tls: boolean;
  token: boolean;
  connected_peers: number;
  last_success_at: string | null;
  last_error: { code: string; message: string; at: string } | null;
  peers: Record<string, PeerStatus>;
  /** Per origin node_id: received, stored, duplicates, rejected by reason (persisted). */
  ledger: Record<string, NodeLedger>;
}

/**
 * The Playback node's sync endpoint: an HTTP/2 server (TLS or h2c) that authenticates senders,
 * validates each batch completely, stores it in one transaction and acknowledges only then.
 */
export class SyncReceiver {
  private readonly server: Http2Server | Http2SecureServer;
  private readonly token: SyncToken;
  private readonly writer: ReceiverWriter;
  private readonly sessions = new Map<ServerHttp2Session, PeerConn>();
  private readonly peers = new Map<string, PeerStatus>();
  private readonly inFlight = new Set<Promise<void>>();
  private readonly lastRefusal = new Map<string, string>();
  private readonly addresses = new WeakMap<Socket, { address: string; ip: string }>();
  private address: AddressInfo | null = null;
  private closing: Promise<void> | null = null;
  private lastSuccessAt: string | null = null;
  private lastError: ReceiverStatus['last_error'] = null;

  constructor(private readonly opts: SyncReceiverOptions) {
    this.token = new SyncToken(opts.token);
    this.writer = new ReceiverWriter(opts.store, opts.logger);
    const settings = { maxConcurrentStreams: MAX_CONCURRENT_STREAMS, initialWindowSize: STREAM_WINDOW, maxHeaderListSize: 16 * 1024 };
    const common = { settings, maxSessionMemory: 128 };
    this.server = opts.tls
      ? createSecureServer({
          ...common,
          cert: opts.tls.cert,
          key: opts.tls.key,
          ...(opts.tls.ca && { ca: opts.tls.ca, requestCert: true, rejectUnauthorized: true }),
          minVersion: 'TLSv1.2',
          allowHTTP1: false,
        })
      : createServer(common);
    this.server.setTimeout(IDLE_SESSION_MS);
    this.server.on('session', (s: ServerHttp2Session) => this.onSession(s));
    this.server.on('stream', (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => this.onStream(stream, headers));
    // A handshake that fails by a reset leaves the TLS socket without an address: note it on connect.
    this.server.on('connection', (socket: Socket) => this.addresses.set(socket, endpoint(socket)));
    this.server.on('tlsClientError', (err: Error, socket: TLSSocket) => this.onTlsError(err, socket));
    this.server.on('sessionError', (err: Error) => opts.logger.warn({ err: errorMessage(err) }, 'sync peer connection error'));
    opts.observer?.setReceiverPeers(() => this.sessions.size);
  }

  /** Binds the listener; rejects with ListenError (port in use, address unavailable). */
  async listen(): Promise<AddressInfo> {
    const { host, port } = this.opts;
    try {
      this.server.listen(port, host);
      await once(this.server, 'listening');
    } catch (err) {
      throw new ListenError(`sync listener cannot bind ${host}:${port}: ${errorMessage(err)}; change sync.port or sync.host`, { cause: err });
    }
    this.address = this.server.address() as AddressInfo;
    this.opts.logger.info(
      { address: `${this.address.address}:${this.address.port}`, tls: Boolean(this.opts.tls), mutual_tls: Boolean(this.opts.tls?.ca), token: this.token.enabled },
      'sync receiver listening',
    );
    return this.address;
  }

  /**
   * Stops accepting, lets batches in progress finish and be acknowledged (GOAWAY, then wait up to
   * `deadlineMs`), then drops what is left; a dropped batch is simply sent again later.
   */
  close(deadlineMs: number): Promise<void> {
    this.closing ??= this.shutdown(deadlineMs);
    return this.closing;
  }

  status(): ReceiverStatus {
    const connected = new Set<string>();
    for (const p of this.sessions.values()) connected.add(p.node ?? p.ip);
    return {
      role: 'receiver',
      listening: this.address && `${this.address.address}:${this.address.port}`,
      tls: Boolean(this.opts.tls),
      mutual_tls: Boolean(this.opts.tls?.ca),
      token: this.token.enabled,
      connected_peers: this.sessions.size,
      last_success_at: this.lastSuccessAt,
      last_error: this.lastError,
      peers: Object.fromEntries([...this.peers].map(([k, v]) => [k, { ...v, connected: connected.has(k) }])),
      ledger: this.writer.ledgerSnapshot(),
    };
  }

  private onSession(session: ServerHttp2Session): void {
    const socket = session.socket as TLSSocket;
    const peer: PeerConn = {
      ...endpoint(socket),
      identity: typeof socket.getPeerCertificate === 'function' ? certificateNames(socket.getPeerCertificate()) : [],
      node: null,
    };
    this.sessions.set(session, peer);
    try {
      session.setLocalWindowSize(SESSION_WINDOW);
    } catch (err) {
      this.opts.logger.warn({ err: errorMessage(err) }, 'could not widen the HTTP/2 window of a sync connection; throughput over long links may suffer');
    }
    // Errors also end the session ('close'), which is all the receiver needs to know.
    session.on('error', () => {});
    session.once('close', () => this.sessions.delete(session));
  }

  private onStream(stream: ServerHttp2Stream, headers: IncomingHttpHeaders): void {
    stream.on('error', () => {});
    const peer = this.sessions.get(stream.session as ServerHttp2Session) ?? { address: '?', ip: '?', identity: [], node: null };
    const ctx: RequestContext = {
      token: this.token,
      allowedClients: this.opts.allowedClients,
      maxBatchBytes: this.opts.maxBatchBytes,
      writer: this.writer,
      observer: this.opts.observer,
      closing: () => this.closing !== null,
      outcome: (p, result) => {
        if (result.ok) this.onStored(p, result.probe);
        else this.onRefused(p, result.refusal);
      },
    };
    const task = handleBatchStream(stream, headers, peer, ctx).catch((err: unknown) => {
      this.opts.logger.error({ err: errorMessage(err) }, 'sync receiver failed to answer a batch');
    });
    this.inFlight.add(task);
    void task.finally(() => this.inFlight.delete(task));
  }

  private peerStatus(p: PeerConn): PeerStatus {
    const key = p.node ?? p.ip;
    let s = this.peers.get(key);
    if (!s) {
      s = { address: p.address, identity: p.identity, connected: true, batches: 0, last_batch_at: null, last_error: null };
      this.peers.set(key, s);
      if (this.peers.size > MAX_PEERS) this.peers.delete(this.peers.keys().next().value!);
    }
    s.address = p.address;
    s.identity = p.identity;
    return s;
  }

  /** A batch was stored, or (`probe`) a sender's empty batch showed that its credentials are accepted. */
  private onStored(p: PeerConn, probe: boolean): void {
    const s = this.peerStatus(p);
    if (!probe) {
      const at = new Date().toISOString();
      s.batches++;
      s.last_batch_at = at;
      this.lastSuccessAt = at;
    }
    const key = p.node ?? p.ip;
    if (this.lastRefusal.delete(key)) this.opts.logger.info({ peer: key, address: p.address }, 'sync batches from this peer are accepted again');
  }

  /** Logged once per peer and change of reason: a misconfigured sender retries for ever and must not flood the log. */
  private onRefused(p: PeerConn, r: Refusal): void {
    const at = new Date().toISOString();
    const error = { code: r.code, message: r.message, at };
    this.lastError = error;
    this.peerStatus(p).last_error = error;
    const key = p.node ?? p.ip;
    if (this.lastRefusal.get(key) === r.code) return;
    this.lastRefusal.set(key, r.code);
    if (this.lastRefusal.size > MAX_PEERS) this.lastRefusal.delete(this.lastRefusal.keys().next().value!);
    const level = r.status >= 500 ? 'warn' : 'error';
    this.opts.logger[level]({ peer: key, address: p.address, status: r.status, code: r.code }, `sync batch refused: ${r.message}`);
  }

  private onTlsError(err: Error, socket: TLSSocket): void {
    this.opts.observer?.batchRefused('tls', 0, 0);
    // The server's TLS socket wraps the TCP socket of 'connection' (Node keeps it as _parent).
    const raw = (socket as TLSSocket & { _parent?: unknown })._parent;
    const { address, ip } = (raw instanceof Socket ? this.addresses.get(raw) : undefined) ?? endpoint(socket);
    const code = (err as { code?: string }).code ?? 'TLS';
    const failure = describeTlsFailure(err, Boolean(this.opts.tls?.ca));
    this.lastError = { code: 'QP_ERR_SYNC_TLS', message: `TLS handshake with ${address} failed: ${failure.message}`, at: new Date().toISOString() };
    if (this.lastRefusal.get(ip) === code) return;
    this.lastRefusal.set(ip, code);
    if (this.lastRefusal.size > MAX_PEERS) this.lastRefusal.delete(this.lastRefusal.keys().next().value!);
    this.opts.logger[failure.level]({ address, code }, `sync peer failed the TLS handshake: ${failure.message}`);
  }

  private async shutdown(deadlineMs: number): Promise<void> {
    // Sessions are closed and destroyed from a fresh turn of the event loop, never from inside an
    // HTTP/2 callback's continuation (see peer-connection.ts on Node 20's nghttp2 re-entrancy).
    await new Promise((resolve) => setImmediate(resolve));
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const s of this.sessions.keys()) s.close();
    const deadline = new Promise<void>((resolve) => setTimeout(resolve, deadlineMs).unref());
    await Promise.race([Promise.allSettled([...this.inFlight]).then(() => this.writer.idle()), deadline]);
    await new Promise((resolve) => setImmediate(resolve));
    for (const s of this.sessions.keys()) s.destroy();
    await closed;
    await this.writer.idle();
  }
}

/** "ip:port" of a socket's peer (IPv6 in brackets) and the ip alone; "unknown" once the socket is gone. */
function endpoint(socket: Socket): { address: string; ip: string } {
  const ip = socket.remoteAddress;
  if (ip === undefined) return { address: 'unknown', ip: 'unknown' };
  return { address: `${isIPv6(ip) ? `[${ip}]` : ip}:${socket.remotePort ?? '?'}`, ip };
}
