import type { TcpDirection, TcpRecord } from './model.js';
import { SlabPool, type Slab } from './slab-pool.js';

/**
 * How a recorded TCP chunk is laid out where it is stored (the store's `tcp-frames.ts` reads it):
 *
 * ```
 * chunk = flags:u8  t_us:u48 BE  len:u32 BE  data:len
 * flags: bit 0 direction (0 c2s, 1 s2c); bit 1 continuation (this frame extends the previous chunk)
 * ```
 */
export const CHUNK_HEADER_BYTES = 11;

const DIR_S2C = 1;
const CONTINUATION = 2;
/** 2^48 − 1 µs is about 8.9 years: longer offsets are clamped. */
const MAX_T_US = 2 ** 48 - 1;

/** Writes one chunk header into `out` at `at`. */
export function writeChunkHeader(out: Buffer, at: number, dir: TcpDirection, tUs: number, len: number, continuation = false): void {
  out[at] = (dir === 's2c' ? DIR_S2C : 0) | (continuation ? CONTINUATION : 0);
  out.writeUIntBE(Math.min(Math.max(0, Math.round(tUs)), MAX_T_US), at + 1, 6);
  out.writeUInt32BE(len, at + 7);
}

/** Size of the slabs recorded chunks are copied into. */
const SLAB_BYTES = 1024 * 1024;
/**
 * Chunks smaller than this are copied into the slab behind their header; larger ones are kept by
 * reference. Measured (docs/benchmarks.md, "TCP recording rate"): for reads of 1–16 KiB the copy
 * saves more in garbage collection and per-piece work than it costs; for 64 KiB reads it does not.
 */
export const COPY_MAX_CHUNK = 32 * 1024;
/** Slabs kept for reuse once every chunk in them was released; beyond this they are left to the GC. */
const FREE_SLABS_MAX = 16;
const pool = new SlabPool(SLAB_BYTES, FREE_SLABS_MAX);

/** How many slabs were allocated since the process started (the rest of the slabs used were reused). */
export function tcpSlabsAllocated(): number {
  return pool.allocated;
}

/** The chunks of one segment as they will be written: header and bytes of each, back to back. */
export interface FramedChunks {
  /** Contiguous runs of `chunk` layouts (consecutive chunks of a session share one run). */
  pieces: Buffer[];
  /** Their total length. */
  bytes: number;
}

interface Held extends FramedChunks {
  /** The slab of each region in `pieces` (one entry per chunk copied into a slab). */
  slabs: Slab[];
}

/** Segments offered to the store and not yet released, with their chunks already laid out. */
const held = new WeakMap<TcpRecord, Held>();

/**
 * Where one session's recorded chunks wait for the store, laid out as the store writes them. Each
 * chunk's 11-byte header goes into a shared slab, and a small chunk's bytes are copied right behind
 * it: consecutive small reads of a session then lie back to back and a segment of them is written
 * and checksummed as a few runs instead of two pieces per read, and the reads themselves die young
 * instead of living until the store has written them (a flush interval or more), which is what
 * made V8's GC threads busy. Large reads are referenced: copying 64 KiB costs more than it saves.
 * The slab is reused once the store hands the segment back ({@link releaseTcpChunks}).
 */
export class TcpChunkBuffer {
  #pieces: Buffer[] = [];
  #slabs: Slab[] = [];
  #bytes = 0;
  /** The run being extended: `#runBuf` from `#runStart` to `#runEnd`. */
  #runBuf: Buffer | null = null;
  #runStart = 0;
  #runEnd = 0;

  /**
   * Keeps one chunk: its header always goes into the slab; its bytes are copied behind it when the
   * chunk is smaller than {@link COPY_MAX_CHUNK}, else referenced. Returns the bytes as kept.
   */
  add(dir: TcpDirection, tUs: number, data: Buffer): Buffer {
    const copy = data.byteLength < COPY_MAX_CHUNK;
    const n = CHUNK_HEADER_BYTES + (copy ? data.byteLength : 0);
    const s = pool.slabFor(n);
    const { buf, at } = s;
    s.at += n;
    s.live++;
    this.#slabs.push(s);
    writeChunkHeader(buf, at, dir, tUs, data.byteLength);
    if (copy) buf.set(data, at + CHUNK_HEADER_BYTES);
    if (this.#runBuf !== buf || this.#runEnd !== at) {
      this.#closeRun();
      this.#runBuf = buf;
      this.#runStart = at;
    }
    this.#runEnd = at + n;
    this.#bytes += CHUNK_HEADER_BYTES + data.byteLength;
    if (copy) return buf.subarray(at + CHUNK_HEADER_BYTES, at + n);
    // A referenced chunk ends the run: the next header continues in the slab, after these bytes in the frame.
    this.#closeRun();
    this.#pieces.push(data);
    return data;
  }

  /** Gives the chunks added since the last call to `segment`, which is then offered to the store. */
  attach(segment: TcpRecord): void {
    this.#closeRun();
    if (this.#bytes === 0) return;
    held.set(segment, { pieces: this.#pieces, bytes: this.#bytes, slabs: this.#slabs });
    this.#pieces = [];
    this.#slabs = [];
    this.#bytes = 0;
  }

  #closeRun(): void {
    if (this.#runBuf === null) return;
    this.#pieces.push(this.#runBuf.subarray(this.#runStart, this.#runEnd));
    this.#runBuf = null;
  }
}

/**
 * The chunks of a segment laid out by a {@link TcpChunkBuffer}, when they still match its `chunks`
 * (same number of bytes); undefined for any other record, which is then framed chunk by chunk.
 */
export function framedTcpChunks(segment: TcpRecord): FramedChunks | undefined {
  const h = held.get(segment);
  if (h === undefined) return undefined;
  let bytes = 0;
  for (const c of segment.chunks) bytes += CHUNK_HEADER_BYTES + c.data.byteLength;
  return bytes === h.bytes ? h : undefined;
}

/**
 * Hands a segment's slab regions back for reuse. Only the segment's last holder calls it (the
 * store, once it has written or dropped the segment): its chunks' bytes must not be read afterwards.
 */
export function releaseTcpChunks(segment: TcpRecord): void {
  const h = held.get(segment);
  if (h === undefined) return;
  held.delete(segment);
  for (const s of h.slabs) pool.release(s);
}
