import type { UpstreamLink } from '../core/documents.js';
import type { GateRefusal } from '../net/connection-gate.js';

export type { UpstreamLink };

/**
 * What the sync sender and receiver report to the rest of QProxy (metrics implements it
 * structurally). Calls are synchronous and cheap; an observer that throws is the observer's bug and
 * is caught by the caller.
 *
 * @module
 */

/** Why a send attempt failed or a batch was refused; a small closed set (metric label values). */
export type SyncFailureReason =
  /** TCP connect refused, DNS or network unreachable. */
  | 'connect'
  /** Connect or TLS handshake did not finish within peer.connect_timeout. */
  | 'connect_timeout'
  /** The peer's certificate is not trusted (unknown CA, self-signed, expired) or its name does not match. */
  | 'tls_untrusted'
  /** The peer refused our client certificate (mutual TLS) or TLS failed otherwise. */
  | 'tls'
  /** The peer did not answer an HTTP/2 PING within peer.ping_timeout: a dead or blackholed link. */
  | 'ping_timeout'
  /** A batch was not acknowledged within peer.ack_timeout. */
  | 'ack_timeout'
  /** The connection or stream broke (RST, GOAWAY, socket closed). */
  | 'reset'
  /** 401: the token is missing or wrong. */
  | 'unauthorized'
  /** 403: our client certificate's identity is not on the receiver's allow-list. */
  | 'forbidden'
  /** 400/413: the receiver refused the batch's content (malformed or too large). */
  | 'rejected'
  /** 404/405/415 or a newer format: the peer is not a compatible QProxy receiver. */
  | 'incompatible'
  /** 5xx or an unexpected answer: the receiver could not store the batch now. */
  | 'peer_error';

/** Why a receiver refused a batch; also metric label values. */
export type SyncRejectReason =
  | 'unauthorized'
  | 'forbidden'
  | 'malformed'
  | 'too_large'
  | 'unsupported_media'
  | 'format_version'
  | 'not_found'
  | 'store_error'
  | 'closing'
  /** TLS handshake failed (no or untrusted client certificate, wrong protocol). */
  | 'tls';

/** One acknowledged batch, as the sender saw it. */
export interface BatchAckedEvent {
  /** Entries in the batch (records, or segments of TCP sessions). */
  records: number;
  /** Bytes of the encoded batch before compression. */
  rawBytes: number;
  /** Bytes on the wire (compressed body). */
  wireBytes: number;
  /** From the first byte sent to the acknowledgement. */
  seconds: number;
  /** Acknowledgement time minus each record's started_at, in seconds. */
  lagSeconds: number[];
}

/** One batch a receiver stored. */
export interface BatchStoredEvent {
  stored: number;
  skipped: number;
  rawBytes: number;
  wireBytes: number;
  /** Receive time minus each record's started_at, in seconds. */
  lagSeconds: number[];
}

/** Figures a sender shows on every scrape (gauges). */
export interface SenderGauges {
  connected: boolean;
  cursor: number;
  pendingRecords: number;
  pendingBytes: number;
  /** Records purged by the size limit before they were sent (since the store was created). */
  purgedUnsent: number;
}

/** What the sync components report to metrics. */
export interface SyncMetricsObserver {
  /** Sender: a batch was acknowledged (stored) by the peer. */
  batchAcked(e: BatchAckedEvent): void;
  /** Sender: a send attempt failed; the batch will be sent again. */
  sendFailed(reason: SyncFailureReason): void;
  /** Sender: the peer refused these records for good; they were skipped. */
  recordsRefused(count: number): void;
  /** Receiver: a batch was stored. */
  batchStored(e: BatchStoredEvent): void;
  /** Receiver: a batch was refused; `records` is what the sender declared it held (0 if unknown). */
  batchRefused(reason: SyncRejectReason, records: number, wireBytes: number): void;
  /** Sender: source of the gauges, read on scrape. */
  setSenderGauges(fn: () => SenderGauges): void;
  /** Receiver: source of the connected-peers gauge, read on scrape. */
  setReceiverPeers(fn: () => number): void;
  /** Receiver: a connection was refused at accept, or closed for not passing the access checks in time. */
  connectionRefused(reason: GateRefusal): void;
  /** Receiver: connections open on the sync listener and how many have not passed the access checks yet, read on scrape. */
  setReceiverConnections(fn: () => { open: number; untrusted: number }): void;
  /** Receiver on NATS: the links of its stream to other zones (mirror, sources), read on scrape. */
  setUpstream(fn: () => readonly UpstreamLink[]): void;
}
