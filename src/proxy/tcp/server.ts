import { createServer as createNetServer } from 'node:net';
import type { AddressInfo, Server as NetServer, Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import type { TLSSocket } from 'node:tls';
import { errorMessage } from '../../core/errors.js';
import { listen } from '../../core/listen.js';
import type { TlsInfo } from '../../recording/model.js';
import { RELAY_HIGH_WATER_MARK } from './dial.js';
import type { TcpProxyOptions } from './options.js';
import { TcpSession, type SessionHost } from './session.js';

/** Upper bound on waiting for destroyed sessions to record themselves after the drain deadline. */
const SETTLE_AFTER_DESTROY_MS = 1_000;

function peerKey(socket: Socket): string {
  return `${socket.remoteAddress ?? ''}|${socket.remotePort ?? 0}`;
}

function tlsInfoOf(socket: TLSSocket): TlsInfo {
  const sni = (socket as TLSSocket & { servername?: unknown }).servername;
  return {
    sni: typeof sni === 'string' && sni !== '' ? sni : null,
    alpn: typeof socket.alpnProtocol === 'string' ? socket.alpnProtocol : null,
    version: socket.getProtocol(),
  };
}

/**
 * The raw TCP proxy listener and its lifecycle: plain or TLS-terminating, every accepted
 * connection becoming a {@link TcpSession} to one of the downstreams.
 *
 * On a TLS listener the TCP socket under each TLS socket is kept too (matched by peer address at
 * 'connection'), so that a reset can be passed on as a TCP reset: Node can only reset a socket
 * that owns a TCP handle.
 *
 * @module
 */
export class TcpProxyServer implements SessionHost {
  readonly opts: TcpProxyOptions;
  readonly #listener: NetServer;
  readonly #sessions = new Set<TcpSession>();
  /** Every accepted TCP socket until it closes; on a TLS listener, by peer for the session to find. */
  readonly #raw = new Map<string, Socket>();
  #idleWaiters: Array<() => void> = [];
  #draining = false;
  #listenerClosed: Promise<void> | null = null;
  #closing: Promise<void> | null = null;

  constructor(opts: TcpProxyOptions) {
    this.opts = opts;
    this.#listener = opts.tls === undefined ? this.#createPlain() : this.#createTls();
    if (opts.maxConnections > 0) {
      this.#listener.maxConnections = opts.maxConnections;
      this.#listener.on('drop', () => opts.observer.rejected('too_many_connections'));
    }
  }

  /** Sessions not finished yet (connecting or relaying). */
  get inFlight(): number {
    return this.#sessions.size;
  }

  /** Binds the listener. @throws ListenError when the address cannot be bound. */
  async listen(): Promise<AddressInfo> {
    const { host, port, logger } = this.opts;
    const address = await listen(this.#listener, host, port, (err) => `TCP proxy cannot listen on ${host}:${port}: ${errorMessage(err)} — pick a free port or another address`);
    this.#listener.on('error', (err) => logger.error({ err: errorMessage(err) }, 'TCP proxy listener error'));
    return address;
  }

  /** Stops accepting connections; sessions in progress carry on. */
  beginDrain(): void {
    if (this.#draining) return;
    this.#draining = true;
    this.#listenerClosed = new Promise((resolve) => {
      if (!this.#listener.listening) resolve();
      else this.#listener.close(() => resolve());
    });
  }

  /**
   * Drain then close: waits up to `deadlineMs` for sessions to end on their own, then ends the
   * rest (close_reason "shutdown") and drops connections still in their TLS handshake. Idempotent.
   */
  close(deadlineMs: number): Promise<void> {
    this.#closing ??= this.#shutdown(deadlineMs);
    return this.#closing;
  }

  /** @internal SessionHost */
  sessionEnded(session: TcpSession): void {
    this.#sessions.delete(session);
    if (this.#sessions.size === 0) for (const wake of this.#idleWaiters.splice(0)) wake();
  }

  async #shutdown(deadlineMs: number): Promise<void> {
    this.beginDrain();
    await this.#idle(deadlineMs);
    const leftovers = this.#sessions.size;
    if (leftovers > 0) {
      this.opts.logger.warn({ leftovers, deadlineMs }, 'TCP proxy drain deadline passed; closing the sessions still open');
      for (const session of [...this.#sessions]) session.shutdown();
    }
    for (const socket of this.#raw.values()) socket.destroy();
    await this.#idle(SETTLE_AFTER_DESTROY_MS);
    await this.#listenerClosed;
  }

  /** Resolves when no session is left, or after `ms`, whichever comes first. */
  #idle(ms: number): Promise<void> {
    if (this.#sessions.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        this.#idleWaiters = this.#idleWaiters.filter((w) => w !== wake);
        resolve();
      }, ms);
      this.#idleWaiters.push(wake);
    });
  }

  #track(socket: Socket): void {
    const key = peerKey(socket);
    this.#raw.set(key, socket);
    socket.once('close', () => {
      if (this.#raw.get(key) === socket) this.#raw.delete(key);
    });
  }

  #accept(client: Socket, raw: Socket, tls: TlsInfo | null): void {
    const session = new TcpSession(this, client, raw, tls);
    this.#sessions.add(session);
    session.start();
  }

  #createPlain(): NetServer {
    const server = createNetServer({ allowHalfOpen: true, highWaterMark: RELAY_HIGH_WATER_MARK, noDelay: true });
    server.on('connection', (socket: Socket) => {
      this.#track(socket);
      this.#accept(socket, socket, null);
    });
    return server;
  }

  #createTls(): NetServer {
    const tls = this.opts.tls!;
    const server = createTlsServer({
      cert: tls.cert,
      key: tls.key,
      ...(tls.ca !== undefined ? { ca: tls.ca, requestCert: true, rejectUnauthorized: true } : {}),
      ...(tls.alpnProtocols !== undefined ? { ALPNProtocols: tls.alpnProtocols } : {}),
      handshakeTimeout: this.opts.timeouts.handshakeMs,
      allowHalfOpen: true,
      highWaterMark: RELAY_HIGH_WATER_MARK,
      noDelay: true,
    });
    server.on('connection', (socket: Socket) => {
      // Errors of the TCP socket surface on the TLS socket above it (tlsClientError during the
      // handshake, the session's 'error' after); this keeps one from going unhandled meanwhile.
      socket.on('error', () => undefined);
      this.#track(socket);
    });
    server.on('secureConnection', (socket: TLSSocket) => {
      const raw = this.#raw.get(peerKey(socket)) ?? socket;
      this.#accept(socket, raw, tlsInfoOf(socket));
    });
    server.on('tlsClientError', (err: Error, socket: TLSSocket) => {
      this.opts.observer.rejected('tls_handshake');
      this.opts.logger.debug({ err: errorMessage(err) }, 'TCP proxy: client TLS handshake failed');
      socket.destroy();
    });
    return server;
  }
}
