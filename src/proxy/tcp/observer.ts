/**
 * What the TCP proxy reports to the rest of QProxy (metrics implements it structurally). Calls are
 * synchronous and cheap: `bytes` runs once per chunk relayed.
 *
 * @module
 */
import type { TcpCloseReason, TcpDirection } from '../../recording/model.js';

/** Why a client connection was refused before it became a session. */
export type TcpRejectReason = 'too_many_connections' | 'tls_handshake';

/** Receives the TCP proxy's events. */
export interface TcpProxyObserver {
  /**
   * `open` once per accepted connection (after the client's TLS handshake, if any); `close` exactly
   * once when that session ends, with how it ended and how long it lasted in seconds.
   */
  session(event: 'open' | 'close', reason?: TcpCloseReason, durationSec?: number): void;
  /** `n` bytes relayed in `direction` (c2s = received from the client, s2c = sent to it). */
  bytes(direction: TcpDirection, n: number): void;
  /** A connection refused before a session started. */
  rejected(reason: TcpRejectReason): void;
}
