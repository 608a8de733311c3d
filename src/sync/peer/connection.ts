import { connect, constants, type ClientHttp2Session, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http2';
import { isIP } from 'node:net';
import { SyncFailure, classifyError } from './failure.js';
import { MAX_RESPONSE_BYTES } from './protocol.js';

/** Where the peer is and how to reach it. */
export interface PeerEndpoint {
  host: string;
  port: number;
  tls: boolean;
  /** CA bundle to trust instead of the system store. */
  ca?: Buffer;
  /** Client certificate and key for mutual TLS. */
  cert?: Buffer;
  key?: Buffer;
}

export interface PeerTimers {
  /** TCP connect plus TLS handshake. */
  connectTimeoutMs: number;
  /** How often an HTTP/2 PING checks the link (also while idle). */
  pingIntervalMs: number;
  /** A PING unanswered this long means the link is dead, even if TCP has not noticed. */
  pingTimeoutMs: number;
  /** A batch unacknowledged this long is given up (and sent again). */
  ackTimeoutMs: number;
}

/** An answer to a request. */
export interface PeerAnswer {
  status: number;
  body: Buffer;
  /** The response's headers (pseudo-headers included). */
  headers: IncomingHttpHeaders;
}

/**
 * The peer hung up before its HTTP/2 SETTINGS. Right after a TLS handshake that is how a receiver
 * refuses a client certificate it does not trust (the client sees no alert, just the close).
 */
function closedEarly(label: string, afterTls: boolean): SyncFailure {
  return afterTls
    ? new SyncFailure(
        'tls',
        'QP_ERR_SYNC_TLS',
        `the peer ${label} closed the connection right after the TLS handshake: it refused our client certificate (mutual TLS needs peer.cert/peer.key signed by the receiver's sync.tls.ca)`,
      )
    : new SyncFailure('reset', 'QP_ERR_SYNC_RESET', `the peer ${label} closed the connection before HTTP/2 was set up (is it a QProxy sync listener?)`);
}

/** "host:port", with brackets for IPv6. */
export function peerLabel(ep: Pick<PeerEndpoint, 'host' | 'port'>): string {
  return isIP(ep.host) === 6 ? `[${ep.host}]:${ep.port}` : `${ep.host}:${ep.port}`;
}

/**
 * One HTTP/2 connection to the Playback node. Liveness comes from PING, not TCP: a blackholed
 * link (packets dropped, no RST) would otherwise look alive until the kernel's retransmission
 * timeout, many minutes later. The first failure of any kind kills the connection and is
 * reported once through `dead`; the sender then reconnects with back-off.
 */
export class PeerConnection {
  /** Resolves with the failure that ended the connection (never rejects). */
  readonly dead: Promise<SyncFailure>;
  private markDead!: (f: SyncFailure) => void;
  private failure: SyncFailure | null = null;
  private pingTimer: NodeJS.Timeout | null = null;
  private pingOutstanding = false;

  private constructor(
    private readonly session: ClientHttp2Session,
    private readonly label: string,
    private readonly timers: PeerTimers,
  ) {
    this.dead = new Promise((resolve) => (this.markDead = resolve));
    session.on('error', (err) => this.kill(classifyError(err, label)));
    session.socket.on('error', (err) => this.kill(classifyError(err, label)));
    session.socket.once('close', () => this.kill(new SyncFailure('reset', 'QP_ERR_SYNC_RESET', `the connection to the peer ${label} closed; reconnecting`)));
    session.on('goaway', () => this.kill(new SyncFailure('reset', 'QP_ERR_SYNC_RESET', `the peer ${label} closed the connection (GOAWAY); reconnecting`)));
    session.once('close', () => this.kill(new SyncFailure('reset', 'QP_ERR_SYNC_RESET', `the connection to the peer ${label} closed; reconnecting`)));
    this.pingTimer = setInterval(() => this.ping(), timers.pingIntervalMs);
    this.pingTimer.unref();
  }

  /**
   * Connects (TCP, TLS, HTTP/2 preface). Rejects with a SyncFailure: refused, timed out, or a TLS
   * problem with a message that names the fix.
   */
  static open(ep: PeerEndpoint, timers: PeerTimers): Promise<PeerConnection> {
    const label = peerLabel(ep);
    const authority = `${ep.tls ? 'https' : 'http'}://${label}`;
    return new Promise((resolve, reject) => {
      const session = connect(authority, {
        ...(ep.ca && { ca: ep.ca }),
        ...(ep.cert && ep.key && { cert: ep.cert, key: ep.key }),
        // SNI cannot carry an IP address; certificate checks still verify it against IP SANs.
        ...(isIP(ep.host) === 0 && { servername: ep.host }),
        minVersion: 'TLSv1.2',
        settings: { enablePush: false },
        maxSessionMemory: 64,
      });
      const timer = setTimeout(() => {
        fail(new SyncFailure('connect_timeout', 'QP_ERR_SYNC_TIMEOUT', `no connection to the peer ${label} within ${timers.connectTimeoutMs} ms (unreachable, or a firewall drops packets)`));
      }, timers.connectTimeoutMs);
      let failed = false;
      const fail = (f: SyncFailure): void => {
        if (failed) return;
        failed = true;
        clearTimeout(timer);
        session.removeAllListeners('remoteSettings');
        session.on('error', () => {});
        setImmediate(() => session.destroy());
        reject(f);
      };
      session.once('error', (err) => fail(classifyError(err, label)));
      // TLS 1.3 sends the server's refusal of our client certificate after the handshake looked
      // done: the socket errors (ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED) but the session emits
      // neither 'error' nor 'close', so the socket is watched too.
      session.socket.once('error', (err) => fail(classifyError(err, label)));
      let handshakeDone = false;
      session.once('connect', () => (handshakeDone = true));
      // A socket error arriving in the same turn says more than the close: let it win.
      session.once('close', () => setImmediate(() => fail(closedEarly(label, ep.tls && handshakeDone))));
      // Up only once the peer's SETTINGS arrive: TCP (even TLS) alone may be a middlebox or a
      // listener that drops the connection right away.
      session.once('remoteSettings', () => {
        clearTimeout(timer);
        session.removeAllListeners('error');
        session.removeAllListeners('close');
        resolve(new PeerConnection(session, label, timers));
      });
    });
  }

  get alive(): boolean {
    return this.failure === null;
  }

  /**
   * POSTs one body (or sends the request `headers` name, without a body when `body` is null);
   * resolves with the answer, rejects with a SyncFailure (connection or stream failure, timeout).
   */
  request(headers: OutgoingHttpHeaders, body: Buffer | null): Promise<PeerAnswer> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      let settled = false;
      const done = (fn: () => void): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        fn();
      };
      let req;
      try {
        req = this.session.request({ ':method': 'POST', ...headers });
      } catch (err) {
        done(() => reject(classifyError(err, this.label)));
        return;
      }
      const timer = setTimeout(() => {
        done(() => reject(new SyncFailure('ack_timeout', 'QP_ERR_SYNC_TIMEOUT', `the peer ${this.label} did not acknowledge a batch within ${this.timers.ackTimeoutMs} ms`)));
        setImmediate(() => req.close(constants.NGHTTP2_CANCEL));
      }, this.timers.ackTimeoutMs);
      let status = 0;
      let answerHeaders: IncomingHttpHeaders = {};
      const parts: Buffer[] = [];
      let size = 0;
      req.on('response', (h) => {
        status = Number(h[':status']);
        answerHeaders = h;
      });
      req.on('data', (c: Buffer) => {
        size += c.byteLength;
        if (size <= MAX_RESPONSE_BYTES) parts.push(c);
      });
      req.on('end', () => done(() => resolve({ status, body: Buffer.concat(parts), headers: answerHeaders })));
      req.on('error', (err) => done(() => reject(this.failure ?? classifyError(err, this.label))));
      req.on('close', () =>
        done(() =>
          reject(this.failure ?? new SyncFailure('reset', 'QP_ERR_SYNC_RESET', `the peer ${this.label} reset the batch's stream (code ${req.rstCode ?? '?'})`)),
        ),
      );
      // Without a body (GET) Node ends the stream with the headers.
      if (body !== null) req.end(body);
    });
  }

  /** Graceful close: no new streams, those in flight may finish. */
  close(): void {
    this.stopPing();
    if (!this.session.closed && !this.session.destroyed) this.session.close();
  }

  /**
   * Ends the connection, reporting `f` as the reason. The session is destroyed on the next turn of
   * the event loop, never synchronously: this often runs in a continuation of a stream event, i.e.
   * while nghttp2 is still inside its receive loop, and destroying streams there makes Node 20's
   * nghttp2 binding read freed stream memory (found with valgrind: RstStream from JS during
   * nghttp2_session_mem_recv2, then a heap corruption abort). Upstream: nodejs/node#64113, fixed
   * by nodejs/node#64166 in later Node lines only.
   */
  kill(f: SyncFailure): void {
    if (this.failure) return;
    this.failure = f;
    this.stopPing();
    setImmediate(() => this.session.destroy());
    this.markDead(f);
  }

  private ping(): void {
    if (this.pingOutstanding || this.failure) return;
    this.pingOutstanding = true;
    const timeout = setTimeout(() => {
      this.kill(
        new SyncFailure(
          'ping_timeout',
          'QP_ERR_SYNC_TIMEOUT',
          `the peer ${this.label} did not answer an HTTP/2 PING within ${this.timers.pingTimeoutMs} ms: the link is down or blackholed; reconnecting`,
        ),
      );
    }, this.timers.pingTimeoutMs);
    try {
      const sent = this.session.ping((err) => {
        clearTimeout(timeout);
        this.pingOutstanding = false;
        if (err && !this.failure) this.kill(classifyError(err, this.label));
      });
      if (!sent) {
        clearTimeout(timeout);
        this.pingOutstanding = false;
      }
    } catch (err) {
      clearTimeout(timeout);
      this.pingOutstanding = false;
      this.kill(classifyError(err, this.label));
    }
  }

  private stopPing(): void {
    if (this.pingTimer) clearInterval(this.pingTimer);
    this.pingTimer = null;
  }
}
