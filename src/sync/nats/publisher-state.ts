import { CursorWriter } from '../cursor-writer.js';
import type { SenderStore, SyncLogger } from '../store-port.js';

/**
 * Meta key of the NATS publisher's durable state. Distinct from the peer sender's `sync.sender`,
 * so switching a node between the two backends never makes one skip what the other sent.
 */
export const NATS_PUBLISHER_META_KEY = 'sync.nats.publisher';

/** What survives a restart of the Record node. */
export interface PersistedPublisher {
  /** Every feed entry up to this seq was acknowledged by the stream. */
  cursor: number;
  /** Messages acknowledged, ever (duplicates the stream dropped included). */
  sent_records: number;
  /** Encoded bytes (before compression) of those messages. */
  sent_bytes: number;
  /** The stream these figures are about. */
  stream: string;
}

function parse(text: string | null): PersistedPublisher | null {
  if (text === null) return null;
  try {
    const v = JSON.parse(text) as Partial<PersistedPublisher>;
    const num = (x: unknown): number => (typeof x === 'number' && Number.isSafeInteger(x) && x >= 0 ? x : 0);
    return { cursor: num(v.cursor), sent_records: num(v.sent_records), sent_bytes: num(v.sent_bytes), stream: typeof v.stream === 'string' ? v.stream : '' };
  } catch {
    return null;
  }
}

/** Cursor moves within this long are saved in one write. */
const PERSIST_EVERY_MS = 50;

/**
 * The publisher's cursor, persisted with setMeta after acknowledgements (see CursorWriter). A crash
 * before a write lands only means the last records are published again, and the stream's duplicate
 * window drops them.
 */
export class PublisherState {
  readonly value: PersistedPublisher;
  private readonly writer: CursorWriter<PersistedPublisher>;

  constructor(store: Pick<SenderStore, 'getMeta' | 'setMeta'>, stream: string, logger: SyncLogger) {
    const kept = parse(store.getMeta(NATS_PUBLISHER_META_KEY));
    if (kept?.stream && kept.stream !== stream) {
      logger.warn({ previous_stream: kept.stream, stream, cursor: kept.cursor }, 'the NATS stream changed; publishing continues after the cursor reached with the previous one');
    }
    this.value = { ...(kept ?? { cursor: 0, sent_records: 0, sent_bytes: 0 }), stream };
    this.writer = new CursorWriter(store, NATS_PUBLISHER_META_KEY, this.value, logger);
  }

  /** The cursor as last written to disk (the store's retention floor). */
  get durableCursor(): number {
    return this.writer.durableCursor;
  }

  /**
   * Saves the cursor within PERSIST_EVERY_MS: PubAcks move it once per record, and a store write
   * per PubAck cost the Record node more CPU than the rest of the acknowledgement handling.
   */
  persistSoon(): void {
    this.writer.persistSoon(PERSIST_EVERY_MS);
  }

  /** Saves the cursor now (or right after the write in flight). */
  persist(): void {
    this.writer.persist();
  }

  flush(): Promise<void> {
    return this.writer.flush();
  }
}

/** The durable NATS cursor as stored, for the store's retention floor. */
export function readNatsCursor(getMeta: (key: string) => string | null): number {
  return parse(getMeta(NATS_PUBLISHER_META_KEY))?.cursor ?? 0;
}
