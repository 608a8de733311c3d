import type { HttpRecord, QRecord, TcpRecord } from '../../recording/model.js';
import type { SenderStore } from '../store-port.js';
import type { TcpWatermarks } from '../tcp-watermarks.js';
import type { OutgoingEntry, StoredEntry, SyncEntry } from '../wire-format.js';

/** An entry as the sender tracks it: a record, or an HTTP record as stored (batch format 2 sends it as it is). */
export type OutEntry = OutgoingEntry & {
  /**
   * False for all but the last part of a TCP session too large for one batch: the cursor may only
   * pass this seq once the last part is acknowledged.
   */
  complete: boolean;
  /** True for the second and later parts of a split session: they must reach the peer after the part before. */
  continuation: boolean;
};

/** What the sender logs and measures lag by, for either kind of entry (a stored one has no record). */
export function entryHead(e: OutgoingEntry): { id: string; protocol: 'http' | 'tcp'; started_at: number; duration_ms: number } {
  return 'stored' in e ? e.stored : e.record;
}

/** A batch to send: consecutive feed entries, within the record and byte budgets. */
export interface OutBatch {
  entries: OutEntry[];
  /** Estimated encoded bytes (before compression). */
  estBytes: number;
  /** True when the batch was closed by its budgets with more of the feed behind it: the sender has a backlog. */
  full?: boolean;
}

export interface BatchLimits {
  maxRecords: number;
  maxBytes: number;
}

/** A split session's part smaller than this would only add a round trip: the batch is closed instead. */
const MIN_PART_BYTES = 64 * 1024;
/** JSON, framing and header overhead of one entry beyond its headers and payload bytes. */
const ENTRY_OVERHEAD = 600;
const CHUNK_OVERHEAD = 48;
/** A stored entry's head JSON (seq and blob numbers) and blob lengths, beyond its extent's bytes. */
const STORED_OVERHEAD = 64;

function headerBytes(lines: ReadonlyArray<readonly [string, string]>): number {
  let n = 0;
  for (const [name, value] of lines) n += name.length + value.length + 8;
  return n;
}

function httpBytes(r: HttpRecord): number {
  let n = ENTRY_OVERHEAD + r.request.url.length + headerBytes(r.request.headers) + r.request.body.data.byteLength;
  if (r.response) n += headerBytes(r.response.headers) + r.response.body.data.byteLength;
  return n;
}

function chunkBytes(c: TcpRecord['chunks'][number]): number {
  return CHUNK_OVERHEAD + c.data.byteLength;
}

/** Estimated encoded size of an entry (exact size is known only after encoding; the budget is approximate). */
export function estimateBytes(r: QRecord): number {
  if (r.protocol === 'http') return httpBytes(r);
  let n = ENTRY_OVERHEAD;
  for (const c of r.chunks) n += chunkBytes(c);
  return n;
}

function entryBytes(e: SyncEntry | StoredEntry): number {
  return 'stored' in e ? STORED_OVERHEAD + e.stored.bytes : estimateBytes(e.record);
}

interface Carry {
  seq: number;
  record: TcpRecord;
  /** Session chunk number of `record.chunks[0]` (the store may not have read the chunks before it). */
  offset: number;
  /** Session chunk number of the first chunk not yet put in a batch. */
  next: number;
}

/**
 * Cuts the store's feed into batches. It reads pages sized by the average record seen so far, so
 * that a byte budget of a few MiB never reads hundreds of large records to use ten. A TCP session
 * goes out as the chunks the peer does not have yet (watermarks); one larger than a whole batch is
 * split into parts over several batches, the last part carrying its real state.
 */
export class BatchReader {
  private pos = 0;
  private carry: Carry | null = null;
  private avgBytes = 4096;

  constructor(
    private readonly store: Pick<SenderStore, 'readStoredAfter'>,
    private readonly watermarks: TcpWatermarks,
    private readonly limits: BatchLimits,
  ) {}

  /** Starts reading after `cursor` again (after a failure, everything unacknowledged is read again). */
  reset(cursor: number): void {
    this.pos = cursor;
    this.carry = null;
  }

  /** Feed position read up to. */
  get position(): number {
    return this.pos;
  }

  /** The next batch, or null when the feed has nothing after the read position. */
  next(): OutBatch | null {
    const batch: OutBatch = { entries: [], estBytes: 0, full: true };
    if (this.carry && !this.takeCarry(batch)) return batch;
    while (batch.entries.length < this.limits.maxRecords && batch.estBytes < this.limits.maxBytes) {
      const room = this.limits.maxRecords - batch.entries.length;
      const want = Math.max(1, Math.min(room, Math.ceil((this.limits.maxBytes - batch.estBytes) / this.avgBytes)));
      // Chunks the peer holds are not even read: a long session grows by one extent at a time.
      // HTTP records come as stored: format 2 sends them so, format 1 parses them when encoding.
      const page = this.store.readStoredAfter(this.pos, want, (id) => this.watermarks.get(id));
      for (const item of page) {
        if (!this.add(batch, item)) return batch;
      }
      if (page.length < want) {
        batch.full = false;
        break;
      }
    }
    return batch.entries.length > 0 ? batch : null;
  }

  /** Adds one feed record to the batch; false when the batch is full (the record was left for the next one, or split). */
  private add(batch: OutBatch, item: StoredEntry | (SyncEntry & { doc?: Buffer })): boolean {
    const seq = item.seq;
    const entry: OutEntry = 'stored' in item ? { seq, stored: item.stored, complete: true, continuation: false } : this.entryFor(item);
    const size = entryBytes(entry);
    this.avgBytes = Math.max(256, Math.round(this.avgBytes * 0.8 + size * 0.2));
    const left = this.limits.maxBytes - batch.estBytes;
    // A TCP session of several chunks that does not fit may be split (see takeCarry).
    const session = 'record' in item && item.record.protocol === 'tcp' && 'record' in entry && entry.record.protocol === 'tcp' && entry.record.chunks.length > 1 ? item.record : null;
    if (size <= left || batch.entries.length === 0) {
      if (size > left && session) {
        this.carry = { seq, record: session, offset: (item as SyncEntry).chunkBase ?? 0, next: (entry as SyncEntry).chunkBase ?? 0 };
        this.takeCarry(batch);
        return false;
      }
      batch.entries.push(entry);
      batch.estBytes += size;
      this.pos = seq;
      return batch.entries.length < this.limits.maxRecords;
    }
    if (session && left >= MIN_PART_BYTES) {
      this.carry = { seq, record: session, offset: (item as SyncEntry).chunkBase ?? 0, next: (entry as SyncEntry).chunkBase ?? 0 };
      this.takeCarry(batch);
    }
    return false;
  }

  /**
   * The entry for a feed record: HTTP as is, with its stored document (sent as it lies on disk);
   * TCP from the peer's watermark on (`offset`: chunk number of `record.chunks[0]`).
   */
  private entryFor({ seq, record, chunkBase, doc }: SyncEntry): OutEntry {
    if (record.protocol === 'http') return doc ? { seq, record, doc, complete: true, continuation: false } : { seq, record, complete: true, continuation: false };
    const offset = chunkBase ?? 0;
    const total = offset + record.chunks.length;
    const base = Math.max(offset, Math.min(this.watermarks.get(record.id), total));
    const r = base === 0 ? record : { ...record, chunks: record.chunks.slice(base - offset) };
    return { seq, record: r, chunkBase: base, complete: true, continuation: false };
  }

  /**
   * Puts as much of the carried session as fits in the batch (at least one chunk). Returns true when
   * the session is finished and the batch has room for more.
   */
  private takeCarry(batch: OutBatch): boolean {
    const c = this.carry!;
    const chunks = c.record.chunks;
    const off = c.offset;
    const total = off + chunks.length;
    const left = this.limits.maxBytes - batch.estBytes;
    let end = c.next;
    let size = ENTRY_OVERHEAD;
    while (end < total && (end === c.next || size + chunkBytes(chunks[end - off]!) <= left)) size += chunkBytes(chunks[end++ - off]!);
    const last = end === total;
    const part: TcpRecord = last
      ? { ...c.record, chunks: chunks.slice(c.next - off, end - off) }
      : { ...c.record, chunks: chunks.slice(c.next - off, end - off), state: 'open', close_reason: null };
    batch.entries.push({ seq: c.seq, record: part, chunkBase: c.next, complete: last, continuation: c.next > this.watermarks.get(c.record.id) && batch.entries.length === 0 });
    batch.estBytes += size;
    this.pos = c.seq;
    if (last) {
      this.carry = null;
      return batch.estBytes < this.limits.maxBytes && batch.entries.length < this.limits.maxRecords;
    }
    c.next = end;
    return false;
  }
}
