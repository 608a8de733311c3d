import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { errorMessage } from '../../core/errors.js';
import type { RecordError, TcpCloseReason, TlsInfo } from '../../recording/model.js';
import type { TcpSessionTap } from '../../recording/tcp-recorder.js';
import { Dial, RELAY_HIGH_WATER_MARK, type DialFailure, type DialSuccess } from './dial.js';
import type { TcpProxyOptions } from './options.js';

/** What a session needs from its server. */
export interface SessionHost {
  readonly opts: TcpProxyOptions;
  /** Called exactly once, after the session is recorded and counted. */
  sessionEnded(session: TcpSession): void;
  /**
   * The downstream is connected; called before the first byte is relayed, so the host can still
   * write to the client first (a forward proxy answers its CONNECT here; those bytes are not recorded).
   */
  connected?(client: Socket): void;
  /** No downstream could be connected; called before the client is closed (a forward proxy answers 502/504 here). */
  dialFailed?(client: Socket, failure: DialFailure): void;
}

type Side = 'client' | 'server';

const RESET_CODES = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED']);

/** How a socket error ends a session: a reset of that side, a TLS failure, or anything else. */
export function closeReasonOf(err: Error, side: Side): TcpCloseReason {
  const code = (err as NodeJS.ErrnoException).code ?? '';
  if (RESET_CODES.has(code)) return side === 'client' ? 'client_reset' : 'server_reset';
  if (code.startsWith('ERR_SSL') || code.startsWith('ERR_TLS') || code === 'EPROTO') return 'tls_error';
  return 'error';
}

function recordError(err: Error, side: Side): RecordError {
  const code = (err as NodeJS.ErrnoException).code;
  return { code: code ?? 'QP_ERR_TCP_SOCKET', message: `${side === 'client' ? 'client' : 'downstream'} socket: ${errorMessage(err)}` };
}

/** A reset where Node can send one (a TCP handle); anything else is just destroyed. */
function reset(raw: Socket | null, socket: Socket | null): void {
  try {
    if (raw !== null && !raw.destroyed) raw.resetAndDestroy();
  } catch {
    // Not a TCP handle (or already closing): a plain close is the best left.
  }
  raw?.destroy();
  socket?.destroy();
}

/**
 * One client connection: connect to a downstream, relay bytes both ways, end exactly once.
 *
 * ```
 * client ──data──▶ tap.chunk(c2s) ──write──▶ downstream     (client paused while downstream's buffer is full)
 * client ◀──write── tap.chunk(s2c) ◀──data── downstream     (downstream paused likewise)
 * FIN from one side ─▶ end() on the other; the other direction keeps flowing (allowHalfOpen)
 * reset on one side ─▶ reset of the other; idle timeout / shutdown ─▶ both destroyed
 * ```
 *
 * The session ends when both sockets have closed; its close reason is the first abnormal event
 * (reset, timeout, TLS or socket error, shutdown), else the side whose FIN came first.
 */
export class TcpSession {
  readonly #host: SessionHost;
  readonly #client: Socket;
  /** The client's TCP socket (under the TLS socket on a TLS listener), for resets. */
  readonly #clientRaw: Socket;
  readonly #tls: TlsInfo | null;
  readonly #t0 = performance.now();
  #tap: TcpSessionTap | null = null;
  #server: Socket | null = null;
  #serverRaw: Socket | null = null;
  #release: (() => void) | null = null;
  #dial: Dial | null = null;
  #reason: TcpCloseReason | null = null;
  #error: RecordError | null = null;
  #firstFin: Side | null = null;
  #clientClosed = false;
  #serverClosed = false;
  #done = false;
  /** Both sockets held by recording (`on_overload: "backpressure"`) until the store has room. */
  #heldForRecording = false;

  constructor(host: SessionHost, client: Socket, clientRaw: Socket, tls: TlsInfo | null) {
    this.#host = host;
    this.#client = client;
    this.#clientRaw = clientRaw;
    this.#tls = tls;
    client.on('error', (err) => this.#fail(closeReasonOf(err, 'client'), recordError(err, 'client'), 'client'));
    client.once('close', () => {
      this.#clientClosed = true;
      this.#maybeFinish();
    });
  }

  /** Counts and records the session and starts connecting to a downstream. */
  start(): void {
    const { observer, recorder } = this.#host.opts;
    observer.session('open');
    this.#tap = recorder.open({
      client: { address: this.#client.remoteAddress ?? '', port: this.#client.remotePort ?? 0 },
      tls: this.#tls,
      downstreamTls: this.#host.opts.downstreamTls !== undefined,
    });
    this.#client.setNoDelay(true);
    this.#connect().catch((err: unknown) => {
      // Nothing in #connect should throw; if something does, the session still ends, once.
      this.#fail('error', { code: 'QP_ERR_TCP_INTERNAL', message: errorMessage(err) }, null);
    });
  }

  /** Ends the session now (close_reason "shutdown"): both sockets are destroyed. */
  shutdown(): void {
    this.#fail('shutdown', null, null);
  }

  async #connect(): Promise<void> {
    const { opts } = this.#host;
    const dial = new Dial({
      downstreams: opts.downstreams,
      tls: opts.downstreamTls,
      connectTimeoutMs: opts.timeouts.connectMs,
      alpn: this.#tls?.alpn ?? null,
    });
    this.#dial = dial;
    let result: Awaited<ReturnType<Dial['run']>>;
    try {
      result = await dial.run();
    } finally {
      this.#dial = null;
    }
    if (result?.ok === true && this.#reason === null) {
      this.#relay(result);
      return;
    }
    if (result?.ok === true) {
      // The client went away as the connection came up.
      result.release();
      reset(result.raw, result.socket);
    } else if (result !== null) {
      this.#setReason(result.reason, result.error);
      opts.logger.debug({ reason: result.reason, err: result.error.message }, 'TCP session: no downstream connection');
      this.#host.dialFailed?.(this.#client, result);
      this.#client.destroySoon();
    }
    this.#maybeFinish();
  }

  /**
   * Recording is congested (`on_overload: "backpressure"`): both sockets stop reading until the
   * store has room again, then each resumes unless its peer's write buffer is still full.
   */
  #holdForRecording(client: Socket, server: Socket): void {
    if (this.#heldForRecording) return;
    this.#heldForRecording = true;
    client.pause();
    server.pause();
    this.#tap?.whenWritable(() => {
      this.#heldForRecording = false;
      if (server.writableLength < RELAY_HIGH_WATER_MARK) client.resume();
      if (client.writableLength < RELAY_HIGH_WATER_MARK) server.resume();
    });
  }

  #relay(d: DialSuccess): void {
    const { observer, timeouts } = this.#host.opts;
    const client = this.#client;
    const server = d.socket;
    const tap = this.#tap;
    this.#server = server;
    this.#serverRaw = d.raw;
    this.#release = d.release;
    tap?.connected(d.endpoint.key);
    this.#host.connected?.(client);
    server.on('error', (err) => this.#fail(closeReasonOf(err, 'server'), recordError(err, 'server'), 'server'));
    server.once('close', () => {
      this.#serverClosed = true;
      this.#maybeFinish();
    });
    // Pausing only once the buffer is past RELAY_HIGH_WATER_MARK lets a socket whose own bound is
    // Node's 16 KiB (TLS sockets) buffer a few reads ahead; write() returned false, so 'drain' comes.
    client.on('data', (chunk: Buffer) => {
      const more = tap?.chunk('c2s', chunk) ?? true;
      observer.bytes('c2s', chunk.length);
      if (!server.write(chunk) && server.writableLength >= RELAY_HIGH_WATER_MARK) client.pause();
      if (!more) this.#holdForRecording(client, server);
    });
    server.on('data', (chunk: Buffer) => {
      const more = tap?.chunk('s2c', chunk) ?? true;
      observer.bytes('s2c', chunk.length);
      if (!client.write(chunk) && client.writableLength >= RELAY_HIGH_WATER_MARK) server.pause();
      if (!more) this.#holdForRecording(client, server);
    });
    server.on('drain', () => {
      if (!this.#heldForRecording) client.resume();
    });
    client.on('drain', () => {
      if (!this.#heldForRecording) server.resume();
    });
    client.on('end', () => {
      this.#firstFin ??= 'client';
      server.end();
    });
    server.on('end', () => {
      this.#firstFin ??= 'server';
      client.end();
    });
    // Reads and writes both re-arm a socket's timer, so the client socket alone sees traffic in
    // either direction.
    client.setTimeout(timeouts.idleMs, () => {
      this.#fail('idle_timeout', { code: 'QP_ERR_TCP_IDLE_TIMEOUT', message: `no bytes in either direction for ${timeouts.idleMs} ms` }, null);
    });
  }

  #setReason(reason: TcpCloseReason, error: RecordError | null): void {
    if (this.#reason !== null) return;
    this.#reason = reason;
    this.#error = error;
  }

  /** An abnormal end: the first one decides the close reason; a reset is passed on as a reset. */
  #fail(reason: TcpCloseReason, error: RecordError | null, side: Side | null): void {
    if (this.#done) return;
    this.#setReason(reason, error);
    this.#dial?.cancel();
    if (reason === 'client_reset' && side === 'client') reset(this.#serverRaw, this.#server);
    else if (reason === 'server_reset' && side === 'server') reset(this.#clientRaw, this.#client);
    this.#client.destroy();
    this.#server?.destroy();
    this.#serverRaw?.destroy();
  }

  #maybeFinish(): void {
    if (this.#done || !this.#clientClosed || this.#dial !== null) return;
    if (this.#server !== null && !this.#serverClosed) return;
    this.#done = true;
    const reason = this.#reason ?? (this.#firstFin === 'server' ? 'server_close' : 'client_close');
    this.#release?.();
    this.#tap?.close(reason, this.#error);
    this.#host.opts.observer.session('close', reason, (performance.now() - this.#t0) / 1000);
    this.#host.sessionEnded(this);
  }
}
