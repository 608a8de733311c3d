import type { Socket } from 'node:net';
import type { Logger } from '../../core/log.js';
import type { LeafContexts } from '../../tls/index.js';
import type { ConnectionInfo } from '../http/index.js';
import type { ForwardAccess } from './access.js';

/** Why the forward proxy refused a request or CONNECT (a metric label). */
export type ForwardDenyReason = 'client' | 'auth' | 'port' | 'loop' | 'target';

/** What the forward proxy reports (metrics implements it structurally). */
export interface ForwardObserver {
  connect(mode: 'intercept' | 'tunnel'): void;
  denied(reason: ForwardDenyReason): void;
  handshake(ok: boolean): void;
}

/**
 * Where intercepted connections go: TLS sockets once their handshake is done, plain sockets whose
 * first bytes are an HTTP/1.x request (`info.proto` tells which) — to the HTTP engine behind the
 * forward listener (the recording proxy in Record mode, the stub server in Playback mode).
 */
export interface InterceptSink {
  accept(socket: Socket, info: ConnectionInfo): void;
}

/** CONNECT handling: who may, which hosts are tunnelled, how interception and tunnels are done. */
export interface ConnectOptions {
  access: ForwardAccess;
  /** Leaf certificates from QProxy's CA; null = no CA, every CONNECT is tunnelled. */
  certificates: LeafContexts | null;
  /** Host patterns that are always tunnelled (compiled tunnel_hosts). */
  tunnelHosts: (host: string) => boolean;
  sink: InterceptSink;
  /** A client's TLS handshake on an intercepted CONNECT must finish within this. */
  handshakeMs: number;
  /** How long an intercepted CONNECT's client may send nothing before it is tunnelled; default FIRST_BYTES_WAIT_MS. */
  firstBytesMs?: number;
  observer: ForwardObserver;
  /** Name resolution that refuses QProxy's own listeners (see self-guard.ts). */
  resolve: (host: string) => Promise<string[]>;
  logger: Logger;
}
