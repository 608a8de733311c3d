import { connect as netConnect, isIP } from 'node:net';
import type { NetConnectOpts, Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { Endpoint } from '../../discovery/index.js';
import { errorMessage } from '../../core/errors.js';
import type { RecordError } from '../../recording/model.js';
import type { TcpDownstreamTls, TcpDownstreams } from './options.js';

/**
 * Write buffer of a relayed socket before its source is paused (Node's default is 16 KiB, less
 * than one 64 KiB socket read, so a relay would stop and restart reading on nearly every chunk;
 * issue 3's baseline saw a Node relay lose about half its throughput to that).
 */
export const RELAY_HIGH_WATER_MARK = 256 * 1024;

/** Attempts per session: a dead endpoint costs a client at most this many connect timeouts. */
export const MAX_CONNECT_ATTEMPTS = 3;

export type DialFailureReason = 'connect_failed' | 'connect_timeout' | 'tls_error';

/** A downstream connection ready to relay. */
export interface DialSuccess {
  ok: true;
  /** What to read and write: the TLS socket when downstream TLS is on, else `raw`. */
  socket: Socket;
  /** The TCP socket underneath, for resets. */
  raw: Socket;
  endpoint: Endpoint;
  /** Ends the endpoint's in-use mark (least-connections); call once the session is over. */
  release: () => void;
}

export interface DialFailure {
  ok: false;
  reason: DialFailureReason;
  error: RecordError;
}

export interface DialOptions {
  downstreams: TcpDownstreams;
  tls: TcpDownstreamTls | undefined;
  connectTimeoutMs: number;
  /** ALPN protocol the client negotiated, offered to a TLS downstream as is. */
  alpn: string | null;
}

interface Attempt {
  ok: boolean;
  reason: DialFailureReason;
  error: RecordError;
  socket: Socket;
  raw: Socket;
}

/**
 * Connects one session to a downstream: picks an endpoint, connects (and handshakes TLS) within
 * the connect timeout, and on a connect-time failure reports it and tries another endpoint that
 * was not tried yet, up to {@link MAX_CONNECT_ATTEMPTS}. No client byte has been sent at that
 * point, so a retry is always safe.
 */
export class Dial {
  readonly #opts: DialOptions;
  #cancelled = false;
  /** Ends the attempt in flight at once; null between attempts. */
  #abortAttempt: (() => void) | null = null;

  constructor(opts: DialOptions) {
    this.#opts = opts;
  }

  /** The client went away: the attempt in flight is destroyed and `run` resolves null. */
  cancel(): void {
    this.#cancelled = true;
    this.#abortAttempt?.();
  }

  /** Resolves with a connected socket, the last failure, or null when cancelled. Never rejects. */
  async run(): Promise<DialSuccess | DialFailure | null> {
    const { downstreams } = this.#opts;
    const tried = new Set<string>();
    const keys: string[] = [];
    let last: Attempt | null = null;
    for (let i = 0; i < MAX_CONNECT_ATTEMPTS && !this.#cancelled; i++) {
      const endpoint = downstreams.pick(tried);
      if (endpoint === null) break;
      tried.add(endpoint.key);
      keys.push(endpoint.key);
      const release = downstreams.acquire(endpoint);
      const attempt = await this.#attempt(endpoint);
      if (attempt.ok && !this.#cancelled) {
        downstreams.reportSuccess(endpoint);
        return { ok: true, socket: attempt.socket, raw: attempt.raw, endpoint, release };
      }
      release();
      attempt.socket.destroy();
      attempt.raw.destroy();
      if (this.#cancelled) return null;
      downstreams.reportFailure(endpoint);
      last = attempt;
    }
    if (this.#cancelled) return null;
    if (last === null) {
      return {
        ok: false,
        reason: 'connect_failed',
        error: { code: 'QP_ERR_DOWNSTREAM_CONNECT', message: 'no downstream endpoint is available (none resolved, or every one was tried); check tcp.downstream and DNS' },
      };
    }
    const tries = keys.length > 1 ? ` (tried ${keys.join(', ')})` : '';
    return { ok: false, reason: last.reason, error: { code: last.error.code, message: `${last.error.message}${tries}` } };
  }

  /** One endpoint: TCP connect, then the TLS handshake when configured, all within the connect timeout. */
  #attempt(ep: Endpoint): Promise<Attempt> {
    const { tls, connectTimeoutMs, alpn } = this.#opts;
    return new Promise((resolve) => {
      // Node passes highWaterMark on to the socket's streams; @types/node does not list it.
      const connectOpts: NetConnectOpts & { highWaterMark: number } = {
        host: ep.address,
        port: ep.port,
        allowHalfOpen: true,
        noDelay: true,
        highWaterMark: RELAY_HIGH_WATER_MARK,
      };
      const raw = netConnect(connectOpts);
      let tcpUp = false;
      let settled = false;
      const socket: Socket = tls
        ? tlsConnect({
            socket: raw,
            // SNI cannot carry an IP literal (RFC 6066 §3).
            servername: tls.servername ?? (isIP(ep.target.host) === 0 ? ep.target.host : undefined),
            ...(tls.ca !== undefined ? { ca: tls.ca } : {}),
            rejectUnauthorized: tls.rejectUnauthorized,
            ...(alpn !== null ? { ALPNProtocols: [alpn] } : {}),
            // allowHalfOpen comes from `raw`.
          })
        : raw;
      const settle = (ok: boolean, reason: DialFailureReason, error: RecordError): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.#abortAttempt = null;
        resolve({ ok, reason, error, socket, raw });
      };
      this.#abortAttempt = () => {
        socket.destroy();
        raw.destroy();
        settle(false, 'connect_failed', { code: 'QP_ERR_DOWNSTREAM_CONNECT', message: 'the client went away while connecting' });
      };
      const timer = setTimeout(() => {
        const phase = tls && tcpUp ? 'finish the TLS handshake' : 'accept the connection';
        settle(false, 'connect_timeout', { code: 'QP_ERR_DOWNSTREAM_TIMEOUT', message: `downstream ${ep.key} did not ${phase} within ${connectTimeoutMs} ms` });
      }, connectTimeoutMs);
      const onError = (err: Error): void => {
        const code = (err as NodeJS.ErrnoException).code;
        if (tls && tcpUp) {
          settle(false, 'tls_error', { code: 'QP_ERR_DOWNSTREAM_CONNECT', message: `TLS handshake with downstream ${ep.key} failed: ${errorMessage(err)}` });
        } else {
          settle(false, 'connect_failed', { code: 'QP_ERR_DOWNSTREAM_CONNECT', message: `cannot connect to downstream ${ep.key}: ${code ?? errorMessage(err)}` });
        }
      };
      // Both stay attached for the socket's life: errors after success are the session's to
      // handle (it adds its own listeners), and must never go unhandled meanwhile.
      raw.on('error', onError);
      if (socket !== raw) socket.on('error', onError);
      raw.once('connect', () => {
        tcpUp = true;
        if (!tls) settle(true, 'connect_failed', { code: '', message: '' });
      });
      if (tls) socket.once('secureConnect', () => settle(true, 'tls_error', { code: '', message: '' }));
    });
  }
}
