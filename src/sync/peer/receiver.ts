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
import type { PeerStatus, ReceiverStatus } from '../../core/documents.js';
import { ListenError, errorMessage } from '../../core/errors.js';
import { ConnectionGate, GATE_REFUSALS, type GateRefusal } from '../../net/connection-gate.js';
import { FdGuard, type FdReading } from '../../net/fd-guard.js';
import { RefusalLog } from '../../net/refusal-log.js';
import { certificateNames } from './client-identity.js';
import type { SyncMetricsObserver } from '../observer.js';
import { handleBatchStream, type PeerConn, type Refusal, type RequestContext } from './receiver-request.js';
import { BatchDecoder } from '../batch-decoder.js';
import { ReceiverWriter } from '../receiver-writer.js';
import type { ReceiverStore, SyncLogger } from '../store-port.js';
import { settleWithin } from '../link/deadline.js';
import { LinkLifecycle } from '../link/sync-link.js';
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
/** New sync connections are refused once the process holds this share of its file-handle limit. */
const FD_REFUSE_AT = 0.8;
/** How stale a count of open file handles may be when a connection arrives. */
const FD_RECOUNT_MS = 1_000;
/** At most one log line about refused connections per this long. */
const REFUSAL_LOG_WINDOW_MS = 10_000;

/** Bounds on what an unauthenticated client can make the receiver hold. */
export interface ReceiverLimits {
  /** Most connections open at once; 0 = no limit. */
  maxConnections: number;
  /** Most connections open at once from one client IP; 0 = no limit. */
  maxConnectionsPerAddress: number;
  /** Time a connection gets to finish TLS and pass the access checks (token, certificate) once. */
  authTimeoutMs: number;
}

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
  limits: ReceiverLimits;
  /**
   * Refuses new connections while the process is short of file handles. Default: one that reads
   * this process's limit; null turns the check off.
   */
  fds?: FdGuard | null;
  store: ReceiverStore;
  observer?: SyncMetricsObserver;
  logger: SyncLogger;
  /** The batch decoder thread's entry (tests); default: decode-worker beside batch-decoder. */
  decoderEntry?: URL;
}

/**
 * The Playback node's sync endpoint: an HTTP/2 server (TLS or h2c) that authenticates senders,
 * validates each batch completely, stores it in one transaction and acknowledges only then.
 */
export class SyncReceiver extends LinkLifecycle<AddressInfo, ReceiverStatus> {
  /** The HTTP/2 (or h2c) server; it never listens itself, the gate hands it the sockets it admits. */
  private readonly server: Http2Server | Http2SecureServer;
  private readonly gate: ConnectionGate;
  private readonly fds: FdGuard | null;
  private readonly refusalLog: RefusalLog;
  private readonly refused = Object.fromEntries(GATE_REFUSALS.map((r) => [r, 0])) as Record<GateRefusal, number>;
  private readonly token: SyncToken;
  private readonly writer: ReceiverWriter;
  private readonly decoder: BatchDecoder;
  private readonly sessions = new Map<ServerHttp2Session, PeerConn>();
  private readonly peers = new Map<string, PeerStatus>();
  private readonly inFlight = new Set<Promise<void>>();
  private readonly lastRefusal = new Map<string, string>();
  private readonly addresses = new WeakMap<Socket, { address: string; ip: string }>();
  private address: AddressInfo | null = null;
  private lastSuccessAt: string | null = null;
  private lastError: ReceiverStatus['last_error'] = null;

  constructor(private readonly opts: SyncReceiverOptions) {
    super();
    this.token = new SyncToken(opts.token);
    this.writer = new ReceiverWriter(opts.store, opts.logger);
    this.decoder = new BatchDecoder(opts.decoderEntry);
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
    this.fds = opts.fds === undefined ? new FdGuard({ refuseAt: FD_REFUSE_AT, recountMs: FD_RECOUNT_MS, onPressure: (p, r) => this.onFdPressure(p, r) }) : opts.fds;
    this.refusalLog = new RefusalLog({ logger: opts.logger, windowMs: REFUSAL_LOG_WINDOW_MS, what: 'sync connection', explain: (r) => this.explainRefusal(r) });
    this.gate = new ConnectionGate({
      maxConnections: opts.limits.maxConnections,
      maxPerAddress: opts.limits.maxConnectionsPerAddress,
      trustWithinMs: opts.limits.authTimeoutMs,
      fds: this.fds,
      onRefused: (reason, address) => this.onConnectionRefused(reason, address),
      deliver: (socket: Socket) => this.server.emit('connection', socket),
    });
    opts.observer?.setReceiverPeers(() => this.authenticatedSessions());
    opts.observer?.setReceiverConnections(() => this.gate.counts);
  }

  /** The link's start: binds the listener (see {@link listen}). */
  start(): Promise<AddressInfo> {
    return this.listen();
  }

  /** Binds the listener; rejects with ListenError (port in use, address unavailable). */
  async listen(): Promise<AddressInfo> {
    const { host, port } = this.opts;
    try {
      this.gate.server.listen(port, host);
      await once(this.gate.server, 'listening');
    } catch (err) {
      throw new ListenError(`sync listener cannot bind ${host}:${port}: ${errorMessage(err)}; change sync.port or sync.host`, { cause: err });
    }
    this.address = this.gate.server.address() as AddressInfo;
    const { limits } = this.opts;
    this.opts.logger.info(
      {
        address: `${this.address.address}:${this.address.port}`,
        tls: Boolean(this.opts.tls),
        mutual_tls: Boolean(this.opts.tls?.ca),
        token: this.token.enabled,
        max_connections: limits.maxConnections,
        max_connections_per_address: limits.maxConnectionsPerAddress,
        auth_timeout_ms: limits.authTimeoutMs,
        file_handle_limit: this.fds?.reading()?.limit ?? null,
      },
      'sync receiver listening',
    );
    return this.address;
  }

  status(): ReceiverStatus {
    const connected = new Set<string>();
    for (const p of this.sessions.values()) connected.add(p.node ?? p.ip);
    const { open, untrusted, accepted } = this.gate.counts;
    return {
      role: 'receiver',
      listening: this.address && `${this.address.address}:${this.address.port}`,
      tls: Boolean(this.opts.tls),
      mutual_tls: Boolean(this.opts.tls?.ca),
      token: this.token.enabled,
      connected_peers: this.authenticatedSessions(),
      connections: { open, unauthenticated: untrusted, accepted, refused: { ...this.refused } },
      file_handles: this.fds?.reading() ?? null,
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
      authenticated: false,
      epoch: this.writer.epoch,
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
    const session = stream.session as ServerHttp2Session;
    const peer = this.sessions.get(session) ?? { address: '?', ip: '?', identity: [], node: null, authenticated: false, epoch: this.writer.epoch };
    const ctx: RequestContext = {
      token: this.token,
      allowedClients: this.opts.allowedClients,
      maxBatchBytes: this.opts.maxBatchBytes,
      decoder: this.decoder,
      writer: this.writer,
      observer: this.opts.observer,
      closing: () => this.stopping,
      // From now on the connection is held like any peer's: its remote address and port are those of the socket the gate admitted.
      authenticated: () => this.gate.trust(session.socket.remoteAddress, session.socket.remotePort),
      outcome: (p, result) => {
        if (result.ok) this.onStored(p);
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

  private onStored(p: PeerConn): void {
    const at = new Date().toISOString();
    const s = this.peerStatus(p);
    s.batches++;
    s.last_batch_at = at;
    this.lastSuccessAt = at;
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

  private authenticatedSessions(): number {
    let n = 0;
    for (const p of this.sessions.values()) if (p.authenticated) n++;
    return n;
  }

  private onConnectionRefused(reason: GateRefusal, address: string): void {
    this.refused[reason]++;
    this.opts.observer?.connectionRefused(reason);
    this.refusalLog.refused(reason, address);
  }

  private explainRefusal(reason: string): string {
    const { limits } = this.opts;
    switch (reason) {
      case 'max_connections':
        return `sync.max_connections (${limits.maxConnections}) connections are open`;
      case 'per_address':
        return `this address has sync.max_connections_per_address (${limits.maxConnectionsPerAddress}) connections open; raise it when several Record nodes share one address (NAT)`;
      case 'fd_limit':
        return 'the process is short of file handles (see the warning before); the API and the other listeners keep the rest';
      default:
        return `no TLS handshake and accepted token within sync.auth_timeout (${limits.authTimeoutMs} ms); the connection was closed`;
    }
  }

  private onFdPressure(pressed: boolean, r: FdReading): void {
    const figures = { open_file_handles: r.open, file_handle_limit: r.limit };
    if (pressed) {
      this.opts.logger.warn(
        figures,
        `the process holds ${Math.round((100 * r.open) / r.limit)} % of its file handles: new sync connections are refused until it drops; raise the limit (systemd LimitNOFILE=, ulimit -n) or look for a connection flood`,
      );
    } else {
      this.opts.logger.info(figures, 'file handles back below the limit: sync connections are accepted again');
    }
  }

  /**
   * Stops accepting, lets batches in progress finish and be acknowledged (GOAWAY, then wait up to
   * `deadlineMs`), then drops what is left; a dropped batch is simply sent again later.
   */
  protected async shutdown(deadlineMs: number): Promise<void> {
    // Sessions are closed and destroyed from a fresh turn of the event loop, never from inside an
    // HTTP/2 callback's continuation (see connection.ts on Node 20's nghttp2 re-entrancy).
    await new Promise((resolve) => setImmediate(resolve));
    this.refusalLog.flush();
    const closed = new Promise<void>((resolve) => this.gate.server.close(() => resolve()));
    for (const s of this.sessions.keys()) s.close();
    await settleWithin(deadlineMs, [Promise.allSettled([...this.inFlight]).then(() => this.writer.idle())]);
    await new Promise((resolve) => setImmediate(resolve));
    for (const s of this.sessions.keys()) s.destroy();
    // Connections that never became sessions (mid-handshake, silent) end too, or close() would wait for them.
    this.gate.destroyAll();
    await closed;
    await this.writer.idle();
    await this.decoder.close();
  }
}

/** "ip:port" of a socket's peer (IPv6 in brackets) and the ip alone; "unknown" once the socket is gone. */
function endpoint(socket: Socket): { address: string; ip: string } {
  const ip = socket.remoteAddress;
  if (ip === undefined) return { address: 'unknown', ip: 'unknown' };
  return { address: `${isIPv6(ip) ? `[${ip}]` : ip}:${socket.remotePort ?? '?'}`, ip };
}
