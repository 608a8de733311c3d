import type { SenderStatus, SenderStatusCommon } from '../../core/documents.js';
import type { Compression } from '../compression.js';
import type { SendWindow } from './send-window.js';

/** What only the peer sender reports, beside the keys every sending link has. */
export interface PeerFigures {
  peer: string;
  tls: boolean;
  mutualTls: boolean;
  compression: Compression;
  window: SendWindow;
  /** Batches acknowledged since start. */
  batches: number;
  /** Since start. */
  sent: { records: number; rawBytes: number; wireBytes: number };
  /** Entries the peer refused for good, ever. */
  refused: number;
}

/** Builds the peer sender's status document from the common keys and its own. */
export function senderStatus(common: SenderStatusCommon, p: PeerFigures): SenderStatus {
  return {
    ...common,
    peer: p.peer,
    tls: p.tls,
    mutual_tls: p.mutualTls,
    compression: p.compression,
    in_flight: { batches: p.window.size, records: p.window.records },
    sent: { batches: p.batches, records: p.sent.records, raw_bytes: p.sent.rawBytes, wire_bytes: p.sent.wireBytes },
    ledger: { ...common.ledger, refused_by_peer: p.refused },
  };
}
