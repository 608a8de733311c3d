import { readCursor, type CursorLayout, type CursorRecord, type DurableCursor } from '../link/durable-cursor.js';

/** Meta key of the sender's durable state. */
export const SENDER_META_KEY = 'sync.sender';

type Counter = 'sent_records' | 'sent_bytes' | 'refused_records';

/**
 * What survives a restart of the Record node: `cursor` (every feed entry up to it is acknowledged
 * by the peer, or refused by it for good), `sent_records` (entries acknowledged, ever), `sent_bytes`
 * (their raw, uncompressed bytes), `refused_records` (entries the peer refused for good and the
 * sender skipped, ever) and `peer`, the "host:port" these figures are about.
 */
export const SENDER_CURSOR: CursorLayout<Counter, 'peer'> = {
  key: SENDER_META_KEY,
  counters: ['sent_records', 'sent_bytes', 'refused_records'],
  target: 'peer',
  targetChanged: 'the sync peer changed; sending continues after the cursor reached with the previous peer (records before it are not sent to the new one)',
};

export type PersistedSender = CursorRecord<Counter, 'peer'>;
export type SenderCursor = DurableCursor<Counter, 'peer'>;

/** The durable cursor as stored, for the store's retention floor (records above it are not yet sent). */
export function readDurableCursor(getMeta: (key: string) => string | null): number {
  return readCursor(SENDER_CURSOR, getMeta);
}
