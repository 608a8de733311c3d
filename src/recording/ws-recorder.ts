import { performance } from 'node:perf_hooks';
import { constants as zlibConstants, createInflateRaw, type InflateRaw } from 'node:zlib';
import type { TcpDirection, WebSocketCapture, WsMessage, WsOpcode } from './model.js';
import { FrameReader, Opcode, type FrameHead, type FrameSink } from './ws-frames.js';

/**
 * Turns the two byte streams of a relayed WebSocket connection into messages for its record:
 * fragments reassembled, control frames kept with their close code and reason, payloads cut at
 * the body cap, and — when permessage-deflate was negotiated — inflated per RFC 7692 with one
 * inflater per direction that keeps its window from message to message unless the handshake
 * said `*_no_context_takeover`. Reading stops with a mark at the first framing fault; the relay
 * never depends on any of it.
 *
 * @module
 */

export interface WebSocketRecorderOptions {
  /** Payload bytes kept per message (storage.max_body). */
  maxMessage: number;
  /** Payload bytes kept per connection (recording.websocket.max_bytes); 0 = no limit. */
  maxBytes: number;
  /** The `Sec-WebSocket-Extensions` the server answered with, if any. */
  extensions: string | undefined;
}

/** permessage-deflate parameters that matter to a reader (RFC 7692 §7.1). */
interface Deflate {
  /** The server resets its compressor per message: the s2c inflater must too. */
  resetS2c: boolean;
  resetC2s: boolean;
}

/** The negotiated permessage-deflate, or null when the server did not accept it. */
export function negotiatedDeflate(extensions: string | undefined): Deflate | null {
  if (extensions === undefined) return null;
  for (const ext of extensions.split(',')) {
    const [name, ...params] = ext.split(';').map((p) => p.trim().toLowerCase());
    if (name !== 'permessage-deflate') continue;
    const keys = new Set(params.map((p) => p.split('=')[0]!.trim()));
    return { resetS2c: keys.has('server_no_context_takeover'), resetC2s: keys.has('client_no_context_takeover') };
  }
  return null;
}

const OPCODES: Partial<Record<number, WsOpcode>> = { 1: 'text', 2: 'binary', 8: 'close', 9: 'ping', 10: 'pong' };
const DEFLATE_TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);
const EMPTY = Buffer.alloc(0);

/** A message being read: its kept bytes, and the compressed ones waiting for the inflater. */
interface Pending {
  msg: WsMessage;
  kept: Buffer[];
  keptBytes: number;
  /** Compressed payload (unmasked), inflated once the message is complete. */
  compressed: Buffer[] | null;
  /** Not kept (over the connection's byte budget): only counted. */
  dropped: boolean;
}

export class WebSocketRecorder {
  private readonly t0 = performance.now();
  private readonly messages: WsMessage[] = [];
  private readonly deflate: Deflate | null;
  private readonly c2s: Direction;
  private readonly s2c: Direction;
  private stopped: WebSocketCapture['stopped'] = null;
  private dropped = 0;
  /** Payload bytes kept so far, against maxBytes. */
  bytes = 0;

  constructor(readonly o: WebSocketRecorderOptions) {
    this.deflate = negotiatedDeflate(o.extensions);
    this.c2s = new Direction(this, 'c2s', this.deflate !== null, this.deflate?.resetC2s ?? false);
    this.s2c = new Direction(this, 's2c', this.deflate !== null, this.deflate?.resetS2c ?? false);
  }

  /** Bytes the client sent after the handshake. */
  client(chunk: Buffer): void {
    if (this.stopped === null) this.c2s.push(chunk);
  }

  /** Bytes the downstream sent after the handshake. */
  server(chunk: Buffer): void {
    if (this.stopped === null) this.s2c.push(chunk);
  }

  /** Microseconds since the switch. */
  now(): number {
    return Math.round((performance.now() - this.t0) * 1000);
  }

  /** Records where reading stopped (the first fault only) and stops both directions. */
  stop(dir: TcpDirection, reason: string): void {
    this.stopped ??= { dir, t_us: this.now(), reason };
  }

  /** Whether a message starting now is kept: not once the connection's budget is spent (close frames always are). */
  admit(opcode: WsOpcode): boolean {
    if (opcode === 'close' || this.o.maxBytes === 0 || this.bytes < this.o.maxBytes) return true;
    this.dropped++;
    return false;
  }

  /** A complete message, in the order messages complete; its data may still be filled in by the inflater. */
  push(msg: WsMessage): void {
    this.messages.push(msg);
  }

  /** Resolves once every complete message is inflated. */
  async settled(): Promise<void> {
    await Promise.all([this.c2s.idle(), this.s2c.idle()]);
  }

  /** What was read, once the connection is over (call after `settled()`). */
  result(): WebSocketCapture {
    for (const d of [this.c2s, this.s2c]) {
      const cut = d.cutShort();
      if (cut !== null) this.stop(d.dir, cut);
    }
    return { deflate: this.deflate !== null, messages: this.messages, dropped: this.dropped, stopped: this.stopped };
  }
}

/** One direction: its frame reader, the message it is assembling and its inflater. */
class Direction implements FrameSink {
  private readonly reader: FrameReader;
  /** The data message being assembled from fragments. */
  private message: Pending | null = null;
  /** The frame being read: the data message's, or a control frame's own. */
  private frameTarget: Pending | null = null;
  private closed = false;
  /** The frame being read is its data message's last. */
  private finOnEnd = false;
  private inflater: InflateRaw | null = null;
  /** Compressed messages waiting for the inflater, oldest first. */
  private readonly queue: Pending[] = [];
  private inflating = false;
  private waiters: Array<() => void> = [];

  constructor(
    private readonly rec: WebSocketRecorder,
    readonly dir: TcpDirection,
    private readonly deflate: boolean,
    private readonly reset: boolean,
  ) {
    this.reader = new FrameReader(this, dir === 'c2s');
  }

  push(chunk: Buffer): void {
    this.reader.push(chunk);
    if (this.reader.stopped !== null) this.rec.stop(this.dir, this.reader.stopped);
  }

  /** Why this direction ended inside a frame or a fragmented message, or null. */
  cutShort(): string | null {
    if (this.reader.stopped !== null) return null;
    if (!this.reader.atBoundary) return 'the connection ended inside a frame';
    if (this.message !== null) return 'the connection ended inside a fragmented message';
    return null;
  }

  frame(h: FrameHead): string | null {
    if (this.closed) return 'a frame after the close frame';
    const control = h.opcode >= 8;
    const name = OPCODES[h.opcode];
    if (h.opcode !== Opcode.continuation && name === undefined) return `reserved opcode ${h.opcode}`;
    if (control) {
      if (!h.fin || h.length > 125) return `a ${name} frame that is fragmented or longer than 125 bytes`;
      if (h.rsv1) return `RSV1 set on a ${name} frame`;
      this.frameTarget = this.start(name!, false);
      return null;
    }
    if (h.opcode === Opcode.continuation) {
      if (this.message === null) return 'a continuation frame with no message to continue';
      if (h.rsv1) return 'RSV1 set on a continuation frame';
    } else {
      if (this.message !== null) return `a new ${name} message inside a fragmented one`;
      if (h.rsv1 && !this.deflate) return 'RSV1 set but permessage-deflate was not negotiated';
      this.message = this.start(name!, h.rsv1);
    }
    this.frameTarget = this.message;
    this.finOnEnd = h.fin;
    return null;
  }

  private start(opcode: WsOpcode, compressed: boolean): Pending {
    const msg: WsMessage = { dir: this.dir, t_us: 0, opcode, data: EMPTY, size: 0, truncated: false };
    return { msg, kept: [], keptBytes: 0, compressed: compressed ? [] : null, dropped: !this.rec.admit(opcode) };
  }

  payload(data: Buffer): void {
    const p = this.frameTarget!;
    if (p.compressed !== null) {
      // Every compressed byte goes to the inflater, kept or not: its window depends on them.
      p.compressed.push(this.reader.unmasked(data));
      return;
    }
    p.msg.size += data.length;
    if (p.dropped) return;
    // A close frame (at most 125 bytes) is kept whole whatever the caps: its code says how the connection ended.
    const room = p.msg.opcode === 'close' ? Infinity : Math.min(this.rec.o.maxMessage - p.keptBytes, this.budget());
    if (room <= 0) return;
    const part = this.reader.unmasked(data.length <= room ? data : data.subarray(0, room));
    p.kept.push(part);
    p.keptBytes += part.length;
    this.rec.bytes += part.length;
  }

  /** Bytes the connection may still keep. */
  private budget(): number {
    return this.rec.o.maxBytes > 0 ? Math.max(0, this.rec.o.maxBytes - this.rec.bytes) : Infinity;
  }

  end(): string | null {
    const p = this.frameTarget!;
    this.frameTarget = null;
    const isData = p === this.message;
    if (isData && !this.finOnEnd) return null;
    this.finOnEnd = false;
    if (isData) this.message = null;
    p.msg.t_us = this.rec.now();
    if (!p.dropped) this.rec.push(p.msg);
    if (p.compressed !== null) {
      this.queue.push(p);
      this.pump();
      return null;
    }
    this.finish(p);
    if (p.msg.opcode === 'close') {
      this.closed = true;
      return closeFields(p.msg);
    }
    return null;
  }

  private finish(p: Pending): void {
    const m = p.msg;
    m.data = p.kept.length === 1 ? p.kept[0]! : p.kept.length === 0 ? EMPTY : Buffer.concat(p.kept, p.keptBytes);
    m.truncated = m.size > m.data.length;
  }

  /** Inflates queued messages one at a time: the inflater's output belongs to the oldest. */
  private pump(): void {
    if (this.inflating || this.queue.length === 0) return this.wake();
    const p = this.queue[0]!;
    this.inflating = true;
    if (this.reset || this.inflater === null) {
      this.inflater?.close();
      this.inflater = createInflateRaw({ windowBits: 15 });
      this.inflater.on('error', (err: Error) => this.inflateFailed(err));
    }
    const inflater = this.inflater;
    const onData = (chunk: Buffer): void => this.take(p, chunk);
    inflater.on('data', onData);
    for (const piece of p.compressed!) inflater.write(piece);
    inflater.write(DEFLATE_TAIL);
    inflater.flush(zlibConstants.Z_SYNC_FLUSH, () => {
      inflater.off('data', onData);
      if (this.inflater !== inflater) return; // failed meanwhile
      this.queue.shift();
      p.compressed = null;
      this.finish(p);
      this.inflating = false;
      this.pump();
    });
  }

  private take(p: Pending, chunk: Buffer): void {
    p.msg.size += chunk.length;
    if (p.dropped) return;
    const room = Math.min(this.rec.o.maxMessage - p.keptBytes, this.budget());
    if (room <= 0) return;
    const part = chunk.length <= room ? chunk : chunk.subarray(0, room);
    p.kept.push(part);
    p.keptBytes += part.length;
    this.rec.bytes += part.length;
  }

  private inflateFailed(err: Error): void {
    this.rec.stop(this.dir, `permessage-deflate data does not inflate (${err.message})`);
    this.inflater = null;
    // The messages that cannot be inflated keep what they have: nothing, marked truncated.
    for (const p of this.queue) {
      p.compressed = null;
      this.finish(p);
    }
    this.queue.length = 0;
    this.inflating = false;
    this.wake();
  }

  idle(): Promise<void> {
    if (!this.inflating && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  private wake(): void {
    if (this.inflating || this.queue.length > 0) return;
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }
}

/** Reads a close frame's code and reason; a reason string when the payload is not a valid one. */
function closeFields(m: WsMessage): string | null {
  if (m.data.length === 0) return null;
  if (m.data.length === 1) return 'a close frame with a 1-byte payload';
  m.close_code = m.data.readUInt16BE(0);
  if (m.data.length > 2) m.close_reason = m.data.toString('utf8', 2);
  return null;
}
