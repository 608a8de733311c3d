import type { QRecord } from '../../recording/model.js';
import type { SenderStore } from '../store-port.js';
import type { TcpWatermarks } from '../tcp-watermarks.js';
import type { SyncEntry } from '../wire-format.js';
import { messageId } from './subjects.js';

/** One message to publish: a feed entry and the id JetStream de-duplicates it by. */
export interface OutMessage {
  seq: number;
  entry: SyncEntry;
  msgId: string;
  /** TCP: the session's chunk count once this message is acknowledged, and whether it closed. */
  tcp: { id: string; end: number; closed: boolean } | null;
}

/** Records read from the store at once. */
const PAGE = 256;

/**
 * Turns the store's feed into messages, one per record. An open TCP session goes out as the chunks
 * the stream does not hold yet (watermarks); a closed session always goes out whole, from chunk 0,
 * so that whichever consumer of a group receives it can store the complete session.
 */
export class FeedReader {
  private pos = 0;
  private page: Array<{ seq: number; record: QRecord; chunkBase?: number }> = [];

  constructor(
    private readonly store: Pick<SenderStore, 'readAfter'>,
    private readonly watermarks: TcpWatermarks,
  ) {}

  /** Reads after `cursor` again (after a failure everything unacknowledged is published again). */
  reset(cursor: number): void {
    this.pos = cursor;
    this.page = [];
  }

  /** The next message, or null when the feed has nothing more. */
  next(): OutMessage | null {
    if (this.page.length === 0) {
      // An open session is read from what the stream lacks on; a closed one whole (see above).
      this.page = this.store.readAfter(this.pos, PAGE, (id, open) => (open ? this.watermarks.get(id) : 0));
      if (this.page.length === 0) return null;
    }
    const { seq, record, chunkBase } = this.page.shift()!;
    this.pos = seq;
    return toMessage(seq, record, chunkBase ?? 0, this.watermarks);
  }
}

function toMessage(seq: number, record: QRecord, offset: number, watermarks: TcpWatermarks): OutMessage {
  if (record.protocol === 'http') return { seq, entry: { seq, record }, msgId: record.id, tcp: null };
  const end = offset + record.chunks.length;
  if (record.state === 'closed') return { seq, entry: { seq, record }, msgId: record.id, tcp: { id: record.id, end, closed: true } };
  const base = Math.max(offset, Math.min(watermarks.get(record.id), end));
  const part = base === 0 ? record : { ...record, chunks: record.chunks.slice(base - offset) };
  return {
    seq,
    entry: { seq, record: part, chunkBase: base },
    msgId: messageId(record.id, { base, end, bytes: record.bytes_in + record.bytes_out }),
    tcp: { id: record.id, end, closed: false },
  };
}
