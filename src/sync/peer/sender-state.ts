import { CursorWriter } from '../cursor-writer.js';
import type { SenderStore, SyncLogger } from '../store-port.js';

/** Meta key of the sender's durable state. */
export const SENDER_META_KEY = 'sync.sender';

/** What survives a restart of the Record node. */
export interface PersistedSender {
  /** Every feed entry up to this seq is acknowledged by the peer (or refused by it for good). */
  cursor: number;
  /** Entries acknowledged, ever. */
  sent_records: number;
  /** Raw (uncompressed) bytes of those batches. */
  sent_bytes: number;
  /** Entries the peer refused for good and the sender skipped, ever. */
  refused_records: number;
  /** The peer these figures are about ("host:port"). */
  peer: string;
}

function parse(text: string | null): PersistedSender | null {
  if (text === null) return null;
  try {
    const v = JSON.parse(text) as Partial<PersistedSender>;
    const num = (x: unknown): number => (typeof x === 'number' && Number.isSafeInteger(x) && x >= 0 ? x : 0);
    return {
      cursor: num(v.cursor),
      sent_records: num(v.sent_records),
      sent_bytes: num(v.sent_bytes),
      refused_records: num(v.refused_records),
      peer: typeof v.peer === 'string' ? v.peer : '',
    };
  } catch {
    return null;
  }
}

/**
 * The cursor (and the sender's ledger counters), persisted with setMeta after acknowledgements
 * (see CursorWriter). A crash before a write completes only means the last acknowledged batches are
 * sent again, which the receiver skips as duplicates.
 */
export class SenderState {
  readonly value: PersistedSender;
  private readonly writer: CursorWriter<PersistedSender>;

  constructor(store: Pick<SenderStore, 'getMeta' | 'setMeta'>, peer: string, logger: SyncLogger) {
    const kept = parse(store.getMeta(SENDER_META_KEY));
    if (kept && kept.peer && kept.peer !== peer) {
      logger.warn(
        { previous_peer: kept.peer, peer, cursor: kept.cursor },
        'the sync peer changed; sending continues after the cursor reached with the previous peer (records before it are not sent to the new one)',
      );
    }
    this.value = { ...(kept ?? { cursor: 0, sent_records: 0, sent_bytes: 0, refused_records: 0 }), peer };
    this.writer = new CursorWriter(store, SENDER_META_KEY, this.value, logger);
  }

  /** The cursor as last written to disk (what the retention floor may rely on). */
  get durableCursor(): number {
    return this.writer.durableCursor;
  }

  /** Schedules a write of the current value. */
  persist(): void {
    this.writer.persist();
  }

  /** Resolves when the latest value is on disk (or failed to get there). */
  flush(): Promise<void> {
    return this.writer.flush();
  }
}

/** The durable cursor as stored, for the store's retention floor (records above it are not yet sent). */
export function readDurableCursor(getMeta: (key: string) => string | null): number {
  return parse(getMeta(SENDER_META_KEY))?.cursor ?? 0;
}
