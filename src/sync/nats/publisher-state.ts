import { readCursor, type CursorLayout, type CursorRecord, type DurableCursor } from '../link/durable-cursor.js';

/**
 * Meta key of the NATS publisher's durable state. Distinct from the peer sender's `sync.sender`,
 * so switching a node between the two backends never makes one skip what the other sent.
 */
export const NATS_PUBLISHER_META_KEY = 'sync.nats.publisher';

type Counter = 'sent_records' | 'sent_bytes';

/**
 * What survives a restart of the Record node: `cursor` (every feed entry up to it was acknowledged
 * by the stream), `sent_records` (messages acknowledged, ever, duplicates the stream dropped
 * included), `sent_bytes` (their encoded bytes before compression) and the `stream` they are about.
 */
export const PUBLISHER_CURSOR: CursorLayout<Counter, 'stream'> = {
  key: NATS_PUBLISHER_META_KEY,
  counters: ['sent_records', 'sent_bytes'],
  target: 'stream',
  targetChanged: 'the NATS stream changed; publishing continues after the cursor reached with the previous one',
};

export type PersistedPublisher = CursorRecord<Counter, 'stream'>;
export type PublisherCursor = DurableCursor<Counter, 'stream'>;

/**
 * Cursor moves within this long are saved in one write: PubAcks move it once per record, and a
 * store write per PubAck cost the Record node more CPU than the rest of the acknowledgement handling.
 */
export const PERSIST_EVERY_MS = 50;

/** The durable NATS cursor as stored, for the store's retention floor. */
export function readNatsCursor(getMeta: (key: string) => string | null): number {
  return readCursor(PUBLISHER_CURSOR, getMeta);
}
