import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from '../../core/log.js';
import type { Endpoint } from '../../discovery/index.js';
import type { HttpExchangeRecorder } from '../../recording/sink.js';
import type { HttpProxyObserver } from './observer.js';
import type { HttpRouter } from './route.js';

/** PEM material for the TLS listener (contents, not paths). */
export interface ListenerTlsOptions {
  cert: string | Buffer;
  key: string | Buffer;
  /** Extra CA certificates to present in the chain. */
  ca?: string | Buffer;
}

/** How QProxy verifies https downstreams. */
export interface DownstreamTlsOptions {
  /** CA to trust instead of the system roots (an internal CA). */
  ca?: string | Buffer;
  rejectUnauthorized: boolean;
  /** SNI name and the name the certificate must carry; defaults to the downstream's host. */
  servername?: string;
}

/** Size and count limits; all enforced before a byte is forwarded. */
export interface HttpLimits {
  /** Bytes of the request head (Node's `maxHeaderSize`); above it → 431. */
  maxHeaderSize: number;
  /** Header lines per request; above it → 431 (counted by QProxy, Node only truncates). 0 = no limit. */
  maxHeadersCount: number;
  /** Request body bytes; above it → 413. 0 switches the check off. */
  maxBodySize: number;
  /** Concurrent client connections per listener; beyond it new ones are dropped. 0 = no limit. */
  maxConnections: number;
}

/** Every timeout in milliseconds. */
export interface HttpTimeouts {
  /** Whole request head must arrive within this (slowloris defence); also bounds the TLS handshake. */
  headerReadMs: number;
  /** Whole request (head and body) must arrive within this; 0 = off (long uploads). */
  requestMs: number;
  /** Idle keep-alive connection (HTTP/1.1) or session (HTTP/2) is closed after this. */
  idleMs: number;
  /** Dialling a downstream (TCP + TLS). */
  downstreamConnectMs: number;
  /** Waiting for the downstream's response head once the request was sent. */
  downstreamResponseMs: number;
  /** Silence on a downstream response body or an upgraded tunnel. */
  downstreamIdleMs: number;
}

/** One row of {@link HttpDownstreams.snapshot}: enough to tell which endpoints are still in use. */
export interface DownstreamRow {
  /** Endpoint key, `"10.0.0.5:8081"`. */
  endpoint: string;
  /** Label of the configured target it came from. */
  target: string;
  /** Gone from DNS: no new requests go there. */
  retiring: boolean;
}

/**
 * Where requests go: pick an endpoint, hold it while the exchange runs, report connect outcomes.
 * The discovery component's `Discovery` implements it (targets parsed with `parseHttpTarget`).
 */
export interface HttpDownstreams {
  /** An endpoint not in `exclude` (keys already tried for this request), or null when none is left. */
  pick(exclude?: ReadonlySet<string>): Endpoint | null;
  /** Marks the endpoint in use; returns the function that releases it (idempotent). */
  acquire(ep: Endpoint): () => void;
  /** The endpoint answered. */
  reportSuccess(ep: Endpoint): void;
  /** A connect-time failure (refused, timeout, TLS handshake) before any request byte was sent. */
  reportFailure(ep: Endpoint): void;
  /** Every endpoint known; read now and then to close the pools of endpoints that left. */
  snapshot(): readonly DownstreamRow[];
}

/** Everything the HTTP proxy needs; the composition root builds it from the configuration. */
export interface HttpProxyOptions<D extends HttpDownstreams = HttpDownstreams> {
  host: string;
  /** 0 = ephemeral. */
  port: number;
  /** When set, the listener speaks TLS with ALPN h2 and http/1.1. */
  tls?: ListenerTlsOptions;
  /**
   * The balanced downstream endpoints (a started `Discovery`). The proxy does not own them: the
   * caller closes a Discovery after the proxy's `close()`. Leave out when `router` is given.
   */
  downstreams?: D;
  /** Routes each request instead of `downstreams` (the forward proxy: one route per origin). The server closes it. */
  router?: HttpRouter;
  /** Takes CONNECT requests (the forward proxy); without it they get 405. */
  onConnect?: (req: IncomingMessage, socket: Duplex, head: Buffer) => void;
  /** How often pools of endpoints that left the downstream set are looked for and closed; default 5000. */
  poolSweepMs?: number;
  downstreamTls: DownstreamTlsOptions;
  /** IPs and CIDRs (v4 or v6) whose X-Forwarded-For is appended to instead of replaced. */
  trustedProxies: string[];
  limits: HttpLimits;
  timeouts: HttpTimeouts;
  recorder: HttpExchangeRecorder;
  observer: HttpProxyObserver;
  logger: Logger;
}
