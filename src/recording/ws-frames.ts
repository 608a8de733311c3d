/**
 * Reads RFC 6455 frames from one direction of a relayed WebSocket connection. It is a side
 * observer: the bytes it is given are the relay's own Buffers and are never written to (masked
 * payloads are unmasked into copies), and a violation of the framing rules ends reading with a
 * reason instead of throwing.
 *
 * @module
 */

/** RFC 6455 §5.2 opcodes. */
export const Opcode = { continuation: 0, text: 1, binary: 2, close: 8, ping: 9, pong: 10 } as const;

/** A frame's head, as the reader hands it to its sink. */
export interface FrameHead {
  fin: boolean;
  /** RSV1: the permessage-deflate "compressed" bit on a message's first frame. */
  rsv1: boolean;
  opcode: number;
  /** Payload length (at most 2^53 − 1; longer frames are refused). */
  length: number;
}

/** Receives what the reader finds, in order: frame(), then payload() zero or more times, then end(). */
export interface FrameSink {
  /** A frame starts; a reason string refuses it (reading stops there). */
  frame(head: FrameHead): string | null;
  /**
   * Payload bytes. `data` is the relay's own Buffer (never to be changed): `reader.unmasked(data)`
   * gives an unmasked copy when the bytes are kept (`data` itself when the frame is not masked).
   */
  payload(data: Buffer): void;
  /** The frame's last payload byte was read; a reason string stops reading. */
  end(): string | null;
}

const MAX_HEAD_BYTES = 14;

export class FrameReader {
  private readonly head = Buffer.alloc(MAX_HEAD_BYTES);
  private headLen = 0;
  /** Bytes of payload left in the current frame; -1 while reading a head. */
  private left = -1;
  private masked = false;
  private readonly mask = Buffer.alloc(4);
  /** Payload bytes of the current frame already read (the mask key's phase). */
  private pos = 0;
  /** Why reading stopped; null while it goes on. */
  stopped: string | null = null;

  /** `expectMask`: client frames must be masked, server frames must not be (RFC 6455 §5.1). */
  constructor(
    private readonly sink: FrameSink,
    private readonly expectMask: boolean,
  ) {}

  /** `data` (the payload bytes just handed to the sink) unmasked: a copy, or `data` when the frame is not masked. */
  unmasked(data: Buffer): Buffer {
    return this.masked ? unmask(data, this.mask, this.pos) : data;
  }

  /** True between frames: the connection could end here without cutting a frame. */
  get atBoundary(): boolean {
    return this.left === -1 && this.headLen === 0;
  }

  push(chunk: Buffer): void {
    let off = 0;
    while (off < chunk.length && this.stopped === null) {
      if (this.left === -1) {
        off = this.readHead(chunk, off);
        continue;
      }
      const n = Math.min(this.left, chunk.length - off);
      if (n > 0) {
        this.sink.payload(chunk.subarray(off, off + n));
        this.pos += n;
        this.left -= n;
        off += n;
      }
      if (this.left === 0) this.endFrame();
    }
  }

  private readHead(chunk: Buffer, off: number): number {
    const h = this.head;
    // The usual case: the whole head is in this chunk, copied at once.
    if (this.headLen === 0 && chunk.length - off >= 2) {
      const b1 = chunk[off + 1]!;
      const len7 = b1 & 0x7f;
      const need = 2 + (len7 === 126 ? 2 : len7 === 127 ? 8 : 0) + ((b1 & 0x80) !== 0 ? 4 : 0);
      if (chunk.length - off >= need) {
        chunk.copy(h, 0, off, off + need);
        this.startFrame();
        return off + need;
      }
    }
    while (off < chunk.length) {
      h[this.headLen++] = chunk[off++]!;
      const need = this.headLen < 2 ? 2 : headBytes(h);
      if (this.headLen < need) continue;
      this.startFrame();
      return off;
    }
    return off;
  }

  private startFrame(): void {
    const h = this.head;
    const b0 = h[0]!;
    const b1 = h[1]!;
    const len7 = b1 & 0x7f;
    this.masked = (b1 & 0x80) !== 0;
    let length = len7;
    let at = 2;
    if (len7 === 126) {
      length = h.readUInt16BE(2);
      at = 4;
    } else if (len7 === 127) {
      const hi = h.readUInt32BE(2);
      if (hi > 0x1fffff) return this.stop('a frame longer than 2^53 - 1 bytes');
      length = hi * 2 ** 32 + h.readUInt32BE(6);
      at = 10;
    }
    if (this.masked) h.copy(this.mask, 0, at, at + 4);
    this.headLen = 0;
    if ((b0 & 0x30) !== 0) return this.stop('RSV2 or RSV3 is set (no extension that uses them was negotiated)');
    if (this.masked !== this.expectMask) {
      return this.stop(this.expectMask ? 'a client frame is not masked' : 'a server frame is masked');
    }
    const reason = this.sink.frame({ fin: (b0 & 0x80) !== 0, rsv1: (b0 & 0x40) !== 0, opcode: b0 & 0x0f, length });
    if (reason !== null) return this.stop(reason);
    this.left = length;
    this.pos = 0;
    if (length === 0) this.endFrame();
  }

  private endFrame(): void {
    this.left = -1;
    const reason = this.sink.end();
    if (reason !== null) this.stop(reason);
  }

  private stop(reason: string): void {
    this.stopped ??= reason;
  }
}

/** Bytes of a head whose first two bytes are known. */
function headBytes(h: Buffer): number {
  const len7 = h[1]! & 0x7f;
  return 2 + (len7 === 126 ? 2 : len7 === 127 ? 8 : 0) + ((h[1]! & 0x80) !== 0 ? 4 : 0);
}

/** An unmasked copy of `data`, whose first byte is payload byte `at` of its frame. */
function unmask(data: Buffer, mask: Buffer, at: number): Buffer {
  const out = Buffer.allocUnsafe(data.length);
  const m0 = mask[at & 3]!;
  const m1 = mask[(at + 1) & 3]!;
  const m2 = mask[(at + 2) & 3]!;
  const m3 = mask[(at + 3) & 3]!;
  const n = data.length;
  let i = 0;
  for (; i + 3 < n; i += 4) {
    out[i] = data[i]! ^ m0;
    out[i + 1] = data[i + 1]! ^ m1;
    out[i + 2] = data[i + 2]! ^ m2;
    out[i + 3] = data[i + 3]! ^ m3;
  }
  for (; i < n; i++) out[i] = data[i]! ^ mask[(at + i) & 3]!;
  return out;
}
