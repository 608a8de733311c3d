import type { CapturedBody } from './model.js';

/**
 * Keeps a bounded copy of a streamed body for the recorder without slowing the stream: chunks are
 * kept by reference (no copy) until `limit` bytes, the rest are only counted. `result()` joins them
 * once, when the exchange ends.
 */
export class BodyCapture {
  private readonly chunks: Buffer[] = [];
  private kept = 0;
  private seen = 0;

  constructor(private readonly limit: number) {}

  push(chunk: Buffer): void {
    this.seen += chunk.length;
    const room = this.limit - this.kept;
    if (room <= 0) return;
    const part = chunk.length <= room ? chunk : chunk.subarray(0, room);
    this.chunks.push(part);
    this.kept += part.length;
  }

  get size(): number {
    return this.seen;
  }

  result(): CapturedBody {
    const data = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.kept);
    return { data, size: this.seen, truncated: this.seen > this.kept };
  }
}

export function emptyBody(): CapturedBody {
  return { data: Buffer.alloc(0), size: 0, truncated: false };
}
