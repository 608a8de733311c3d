/**
 * The narrow views of the store that sync needs (src/store's Store implements both), so sender
 * and receiver can be tested and reasoned about without the rest of the store.
 *
 * @module
 */
import type { QRecord } from '../recording/model.js';
import type { ReceivedHttp, StoredEntry } from './wire-format.js';

/** Per origin node: entries that changed the store, and entries already there. */
export interface IngestOutcome {
  stored: number;
  skipped: number;
  bytes: number;
  byNode: Record<string, { stored: number; skipped: number }>;
}

/** What the sender reads and persists. */
export interface SenderStore {
  /**
   * Up to `limit` records with a feed position above `seq`, ascending. `tcpFrom`: per TCP session
   * (id, still open), the first chunk needed; the store may leave earlier chunks unread, and then
   * says in `chunkBase` which session chunk `record.chunks[0]` is.
   */
  readAfter(
    seq: number,
    limit: number,
    tcpFrom?: (id: string, open: boolean) => number,
  ): Array<{ seq: number; record: QRecord; chunkBase?: number; doc?: Buffer }>;
  /**
   * {@link readAfter}, but an HTTP record the store keeps as one extent comes as stored (document
   * and body bytes, checked, not parsed: what batch format 2 sends); the others as records.
   */
  readStoredAfter(
    seq: number,
    limit: number,
    tcpFrom?: (id: string, open: boolean) => number,
  ): Array<{ seq: number; record: QRecord; chunkBase?: number; doc?: Buffer } | StoredEntry>;
  /** Records and bytes with a feed position above `seq` (and at most `upTo`); linear in the rows counted. */
  countAfter(seq: number, upTo?: number): { count: number; bytes: number };
  stats(): { lastSeq: number };
  /** Records (and bytes) the store purged or lost before sync sent them, since it was created. */
  purgedUnsent(): { records: number; bytes: number };
  getMeta(key: string): string | null;
  setMeta(key: string, value: string): Promise<void>;
}

/** What the receiver writes and reads. */
export interface ReceiverStore {
  /**
   * Stores a batch in one transaction with `meta`; per origin node_id, the stored and skipped
   * counts are added to the meta keys `tally` names (`{node}` stands for the node_id). `docs[i]`:
   * HTTP record i's document as the sender's store wrote it (validated), stored verbatim; a
   * {@link ReceivedHttp} is stored the same way, from its head, document and body bytes.
   * `chain`: ingests linked through it commit in call order, each only if the one before it
   * (`last`, 0: none) committed; the store sets `last` to each new ingest's id.
   */
  ingest(
    records: ReadonlyArray<QRecord | ReceivedHttp>,
    opts: {
      tally?: { stored: string; skipped: string };
      meta?: Record<string, string | null>;
      docs?: ReadonlyArray<Buffer | undefined>;
      chain?: { last: number };
    },
  ): Promise<IngestOutcome>;
  get(id: string): QRecord | null;
  getMeta(key: string): string | null;
  setMeta(key: string, value: string): Promise<void>;
}

/** The logger sync writes through; pino fits. */
export interface SyncLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}
