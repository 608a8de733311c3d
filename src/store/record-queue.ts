import type { FramedRecord } from './record-frames.js';

/**
 * FIFO of records waiting for the segment log and the writer, already framed (see
 * WritePipeline.offer), bounded by the caller in records and bytes. `push` is O(1); `take` removes
 * a batch from the front.
 */
export class RecordQueue {
  private records: FramedRecord[] = [];
  private sizes: number[] = [];
  private queuedBytes = 0;

  get length(): number {
    return this.records.length;
  }

  /** Sum of the byte charges of the queued records. */
  get bytes(): number {
    return this.queuedBytes;
  }

  push(record: FramedRecord, bytes: number): void {
    this.records.push(record);
    this.sizes.push(bytes);
    this.queuedBytes += bytes;
  }

  /** Removes up to `maxRecords` records from the front, stopping at `maxBytes` (but always at least one). */
  take(maxRecords: number, maxBytes: number): FramedRecord[] {
    let n = 0;
    let bytes = 0;
    while (n < this.records.length && n < maxRecords && (n === 0 || bytes + this.sizes[n]! <= maxBytes)) {
      bytes += this.sizes[n]!;
      n++;
    }
    this.sizes.splice(0, n);
    this.queuedBytes -= bytes;
    return this.records.splice(0, n);
  }

  /** Empties the queue and says how many records it held. */
  clear(): number {
    const n = this.records.length;
    this.records = [];
    this.sizes = [];
    this.queuedBytes = 0;
    return n;
  }
}
