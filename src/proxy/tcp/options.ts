import type { Logger } from '../../core/log.js';
import type { Endpoint } from '../../discovery/index.js';
import type { TcpSessionRecorder } from '../../recording/tcp-recorder.js';
import type { TcpProxyObserver } from './observer.js';

/** PEM material for a TLS listener (contents, not paths). */
export interface TcpListenerTls {
  cert: string | Buffer;
  key: string | Buffer;
  /** When set, clients must present a certificate signed by this CA (mutual TLS). */
  ca?: string | Buffer;
  /** ALPN protocols offered to clients, in order of preference; none by default. */
  alpnProtocols?: string[];
}

/** TLS from QProxy to the downstream. */
export interface TcpDownstreamTls {
  /** CA to trust instead of the system roots. */
  ca?: string | Buffer;
  rejectUnauthorized: boolean;
  /** SNI and the name the certificate must carry; default the downstream's host name (none for an IP). */
  servername?: string;
}

/**
 * Where sessions go: pick an endpoint, hold it while in use, report connect outcomes. The
 * discovery component's `Discovery` implements it.
 */
export interface TcpDownstreams {
  /** An endpoint not in `exclude`, or null when none is left. */
  pick(exclude?: ReadonlySet<string>): Endpoint | null;
  /** Marks the endpoint in use; returns the function that releases it (idempotent). */
  acquire(ep: Endpoint): () => void;
  reportSuccess(ep: Endpoint): void;
  /** A connect-time failure (refused, timeout, TLS handshake). */
  reportFailure(ep: Endpoint): void;
}

/** Every timeout in milliseconds. */
export interface TcpTimeouts {
  /** One connection attempt to one downstream address, TLS handshake included. */
  connectMs: number;
  /** No byte in either direction for this long closes the session ("idle_timeout"). */
  idleMs: number;
  /** The client's TLS handshake on a TLS listener. */
  handshakeMs: number;
}

/** Everything the TCP proxy needs; the composition root builds it from the configuration. */
export interface TcpProxyOptions {
  host: string;
  /** 0 = ephemeral. */
  port: number;
  /** When set, the listener terminates TLS. */
  tls?: TcpListenerTls;
  /** When set, QProxy speaks TLS to the downstream. */
  downstreamTls?: TcpDownstreamTls;
  downstreams: TcpDownstreams;
  timeouts: TcpTimeouts;
  /** Concurrent client connections; beyond it new ones are closed on accept. 0 = no limit. */
  maxConnections: number;
  recorder: TcpSessionRecorder;
  observer: TcpProxyObserver;
  logger: Logger;
}
