import type { PublisherStatus, SenderStatusCommon } from '../../core/documents.js';

/** What only the NATS publisher reports, beside the keys every sending link has. */
export interface PublisherFigures {
  servers: string;
  server: string | null;
  stream: string;
  prefix: string;
  inFlight: number;
  /** Since start. */
  sent: { records: number; rawBytes: number; wireBytes: number };
  counts: { messages: number; duplicates: number; split: number };
}

/** Builds the publisher's status document from the common keys and its own. */
export function publisherStatus(common: SenderStatusCommon, p: PublisherFigures): PublisherStatus {
  return {
    ...common,
    backend: 'nats',
    servers: p.servers,
    server: p.server,
    stream: p.stream,
    subject_prefix: p.prefix,
    in_flight: { messages: p.inFlight },
    sent: {
      messages: p.counts.messages,
      records: p.sent.records,
      raw_bytes: p.sent.rawBytes,
      wire_bytes: p.sent.wireBytes,
      duplicates: p.counts.duplicates,
      split: p.counts.split,
    },
  };
}
