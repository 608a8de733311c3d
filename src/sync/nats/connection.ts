/**
 * One NATS connection kept up for a publisher or a consumer. The client library reconnects by
 * itself after short outages (subscriptions and pull requests survive); this class adds what it
 * does not do: the first connect retried with back-off (a node starts even while NATS is down),
 * the backend's setup (stream, consumer) run on every new connection, and a full reconnect when
 * the connection closes for good or the user of the link asks for one.
 */
import { connect, credsAuthenticator, type ConnectionOptions, type NatsConnection } from '@nats-io/transport-node';
import { errorMessage } from '../../core/errors.js';
import { Backoff } from '../backoff.js';
import type { SyncLogger } from '../store-port.js';
import { NatsError, classifyNatsError } from './nats-error.js';

/** How to reach and authenticate to the servers (file contents already read). */
export interface NatsServerOptions {
  servers: readonly string[];
  token?: string;
  user?: string;
  password?: string;
  /** Contents of a .creds file. */
  creds?: Buffer;
  /** true: TLS with the system CAs; an object: PEM contents. */
  tls?: true | { ca?: string; cert?: string; key?: string };
  connectTimeoutMs: number;
}

export interface NatsLinkOptions {
  server: NatsServerOptions;
  /** Client name the server shows in its monitoring pages. */
  name: string;
  backoffInitialMs: number;
  backoffMaxMs: number;
  logger: SyncLogger;
  /** Runs on every new connection; throwing closes it and retries after a back-off. */
  setup(nc: NatsConnection): Promise<void>;
  /** The link failed (connect, setup, or the connection closed); `f` is what status shows. */
  failed(f: NatsError): void;
  /** The connection is up again after the client reconnected by itself. */
  resumed?(): void;
}

/** The client library's options for `o`. */
export function connectionOptions(o: NatsServerOptions, name: string): ConnectionOptions {
  const tlsUrl = o.servers.some((s) => s.startsWith('tls://'));
  const tls = o.tls === true || (tlsUrl && o.tls === undefined) ? {} : o.tls;
  return {
    servers: [...o.servers],
    name,
    timeout: o.connectTimeoutMs,
    // Reconnects after a short outage keep pull requests and acknowledgements flowing; the jitter
    // spreads many nodes reconnecting to a restarted server.
    reconnect: true,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    reconnectJitter: 250,
    reconnectJitterTLS: 500,
    pingInterval: 10_000,
    maxPingOut: 3,
    // Async stack traces cost an Error (a stack capture) per request; the backend's requests are
    // API calls whose failures are classified by message, so the traces would never be read.
    noAsyncTraces: true,
    ...(o.token !== undefined && { token: o.token }),
    ...(o.user !== undefined && { user: o.user, pass: o.password ?? '' }),
    ...(o.creds !== undefined && { authenticator: credsAuthenticator(new Uint8Array(o.creds)) }),
    ...(tls !== undefined && { tls }),
  };
}

export class NatsLink {
  private readonly backoff: Backoff;
  private readonly options: ConnectionOptions;
  private current: NatsConnection | null = null;
  private up = false;
  /** Between the client's 'disconnect' and 'reconnect' events. */
  private disconnected = false;
  private stopping = false;
  private running: Promise<void> | null = null;
  private wake: (() => void) | null = null;
  private timer: NodeJS.Timeout | null = null;
  private serverName: string | null = null;
  /** When the current back-off wait ends (status). */
  nextRetryAt: string | null = null;

  constructor(private readonly opts: NatsLinkOptions) {
    this.backoff = new Backoff(opts.backoffInitialMs, opts.backoffMaxMs);
    this.options = connectionOptions(opts.server, opts.name);
  }

  /** The servers as configured, for logs and status. */
  get label(): string {
    return this.opts.server.servers.join(',');
  }

  /** The connection once set up (null while connecting, in back-off, or after close). */
  get nc(): NatsConnection | null {
    return this.up ? this.current : null;
  }

  /** True while set up and not disconnected. */
  get connected(): boolean {
    return this.up && !this.disconnected && this.current !== null && !this.current.isClosed();
  }

  /** "host:port" of the server connected to, or the last one. */
  get server(): string | null {
    return this.serverName;
  }

  start(): void {
    this.running ??= this.loop();
  }

  /** Drops the connection and connects again after a back-off (the setup runs again). */
  restart(f: NatsError): void {
    if (this.stopping) return;
    const nc = this.current;
    this.up = false;
    this.opts.failed(f);
    if (nc && !nc.isClosed()) void nc.close().catch(() => undefined);
  }

  /** Closes the connection after `beforeClose` (drain work) ran; no timers stay behind. */
  async close(beforeClose?: () => Promise<void>): Promise<void> {
    this.stopping = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.wake?.();
    if (beforeClose) await beforeClose().catch((err: unknown) => this.opts.logger.warn({ err: errorMessage(err) }, 'NATS sync: shutdown step failed'));
    const nc = this.current;
    this.up = false;
    if (nc && !nc.isClosed()) {
      try {
        await nc.drain();
      } catch {
        await nc.close().catch(() => undefined);
      }
    }
    await this.running;
  }

  private async loop(): Promise<void> {
    while (!this.stopping) {
      let nc: NatsConnection | null = null;
      try {
        nc = await connect(this.options);
        this.current = nc;
        this.disconnected = false;
        this.serverName = nc.getServer();
        this.watch(nc);
        if (this.stopping) break;
        await this.opts.setup(nc);
        if (this.stopping) break;
        this.up = true;
        this.backoff.reset();
        await nc.closed();
        this.up = false;
        if (this.stopping) break;
        this.opts.failed(new NatsError('QP_ERR_NATS_CONNECT', `the NATS connection to ${this.label} closed; connecting again`));
      } catch (err) {
        this.up = false;
        if (this.stopping) break;
        const f = classifyNatsError(err, this.label);
        this.opts.failed(f);
        if (nc && !nc.isClosed()) await nc.close().catch(() => undefined);
        await this.pause(this.backoff.after(f));
        continue;
      }
      await this.pause(this.backoff.next());
    }
    const nc = this.current;
    if (nc && !nc.isClosed()) await nc.close().catch(() => undefined);
  }

  private pause(ms: number): Promise<void> {
    if (this.stopping) return Promise.resolve();
    this.nextRetryAt = new Date(Date.now() + ms).toISOString();
    return new Promise<void>((resolve) => {
      this.wake = () => {
        if (this.timer) clearTimeout(this.timer);
        this.timer = null;
        this.wake = null;
        this.nextRetryAt = null;
        resolve();
      };
      this.timer = setTimeout(this.wake, ms);
    });
  }

  /** Follows the client's own reconnects: status shows them, the user of the link resumes work. */
  private watch(nc: NatsConnection): void {
    void (async () => {
      for await (const s of nc.status()) {
        if (nc !== this.current) return;
        if (s.type === 'disconnect') {
          this.disconnected = true;
          this.opts.failed(new NatsError('QP_ERR_NATS_CONNECT', `lost the connection to the NATS server ${s.server}; the client reconnects by itself`));
        } else if (s.type === 'reconnect') {
          this.disconnected = false;
          this.serverName = s.server;
          this.opts.logger.info({ server: s.server }, 'NATS sync: reconnected');
          if (this.up) this.opts.resumed?.();
        }
      }
    })().catch(() => undefined);
  }
}
