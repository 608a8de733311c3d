import type { CapturedBody, QRecord } from './model.js';
import { SlabPool, type Slab } from './slab-pool.js';
import { releaseTcpChunks } from './tcp-capture.js';

/** Size of the slabs recorded bodies are copied into (see {@link BodyCapture.forRecording}). */
const SLAB_BYTES = 1024 * 1024;
/** A body larger than this gets an allocation of its own rather than a slab region. */
const SLAB_MAX_BODY = SLAB_BYTES / 4;
/**
 * A body of at most this many bytes never takes a slab region: it is the read itself when it came
 * in one, else a buffer of its own. The store copies it into its frame arena when the record is
 * offered (record-frames.ts), so it dies young and a slab region (with its owner entry, released a
 * flush interval later) would be waste.
 */
export const SMALL_BODY_BYTES = 8 * 1024;
/** Slabs kept for reuse once every body in them was released; beyond this they are left to the GC. */
const FREE_SLABS_MAX = 16;

const pool = new SlabPool(SLAB_BYTES, FREE_SLABS_MAX);
/** The slab of each region not yet released; a region released twice is released once. */
const owners = new WeakMap<Buffer, Slab>();

/**
 * `n` bytes for a recorded body. Why slabs: a recorded body lives until the store has written it (a
 * flush interval or more). Kept as the socket read it, it holds those reads' buffers that long, so
 * they outlive the young generation, and at 64 KiB per exchange the fresh external memory of every
 * read and join made V8 run a full mark-compact every few hundred exchanges. One copy into a slab
 * that the store hands back when it has written the body ({@link releaseRecordBodies}) lets the
 * reads die young and reuses the same memory.
 */
function slabRegion(n: number): Buffer {
  if (n > SLAB_MAX_BODY) return Buffer.allocUnsafeSlow(n);
  const s = pool.slabFor(n);
  const region = s.buf.subarray(s.at, s.at + n);
  // 8-byte aligned, like the pool of Buffer.allocUnsafe.
  s.at += (n + 7) & ~7;
  s.live++;
  owners.set(region, s);
  return region;
}

function releaseBody(data: Buffer): void {
  const s = owners.get(data);
  if (s === undefined) return;
  owners.delete(data);
  pool.release(s);
}

/**
 * Hands the slab regions of a record's bodies (a TCP segment's chunks) back for reuse. Only the
 * record's last holder calls it (the store, once the bodies are written): nothing may read them
 * afterwards. Bodies that are not slab regions are left alone, so any record may be passed.
 */
export function releaseRecordBodies(record: QRecord): void {
  if (record.protocol !== 'http') return releaseTcpChunks(record);
  releaseBody(record.request.body.data);
  if (record.response) releaseBody(record.response.body.data);
}

/** {@link releaseRecordBodies} for bodies already taken out of their record (the store keeps only them). */
export function releaseBodies(bodies: readonly Buffer[]): void {
  for (const b of bodies) releaseBody(b);
}

/**
 * Keeps a bounded copy of a streamed body without slowing the stream: chunks are kept by reference
 * until `limit` bytes, the rest are only counted. `result()` joins them, when the exchange ends.
 */
export class BodyCapture {
  private readonly chunks: Buffer[] = [];
  private kept = 0;
  private seen = 0;

  constructor(
    private readonly limit: number,
    private readonly slab = false,
  ) {}

  /**
   * A capture for a record the proxy hands to the store: `result()` copies the body into a slab
   * region, which the store releases once it has written it (see {@link slabRegion}). Only for
   * bodies whose one holder after the recorder is the store.
   */
  static forRecording(limit: number): BodyCapture {
    return new BodyCapture(limit, true);
  }

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
    return { data: this.join(), size: this.seen, truncated: this.seen > this.kept };
  }

  private join(): Buffer {
    if (this.kept === 0) return EMPTY;
    // Small and in one read: the read itself. The store copies a body this small next to its
    // document inside offer(), in the same tick as this call (record-frames.ts), so the record's
    // view never keeps the read's buffer alive; copying it here first would be a second copy.
    if (!this.slab || (this.chunks.length === 1 && this.kept <= SMALL_BODY_BYTES)) {
      return this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.kept);
    }
    // Small in several reads: one copy of its own (never views of the reads); larger: a slab region.
    const data = this.kept <= SMALL_BODY_BYTES ? Buffer.allocUnsafe(this.kept) : slabRegion(this.kept);
    let at = 0;
    for (const c of this.chunks) {
      data.set(c, at);
      at += c.byteLength;
    }
    return data;
  }
}

/** Shared by every empty body: a Buffer of no bytes cannot be written to. */
const EMPTY = Buffer.alloc(0);

export function emptyBody(): CapturedBody {
  return { data: EMPTY, size: 0, truncated: false };
}
