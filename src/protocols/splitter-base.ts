import type { TcpDirection } from '../recording/model.js';
import { ByteQueue } from './byte-queue.js';
import type { FramingBreak, SessionSplitter, WireMessage } from './types.js';

/** What a protocol's reader says about the bytes at the head of one direction. */
export type Frame =
  /** A whole message of `len` bytes. */
  | { len: number; type: string; handshake?: boolean; end?: boolean }
  /** Not enough bytes: try again once there are `need` (0 or less: at the next read). */
  | { need: number }
  /** The bytes stop being messages here. */
  | { stop: FramingBreak['kind']; reason: string };

/**
 * The part every protocol reader shares: a byte queue per direction, messages cut off the front
 * as soon as they are whole, and a break that ends a direction (TLS ends both). A subclass says
 * how long the next message is (`frame`) and follows the conversation's state (`seen`).
 */
export abstract class SplitterBase implements SessionSplitter {
  readonly #queues: Record<TcpDirection, ByteQueue> = { c2s: new ByteQueue(), s2c: new ByteQueue() };
  readonly #breaks: Record<TcpDirection, FramingBreak | null> = { c2s: null, s2c: null };
  #tUs = 0;

  get breaks(): Readonly<Record<TcpDirection, FramingBreak | null>> {
    return this.#breaks;
  }

  abstract get inHandshake(): boolean;

  /** How long the message at the head of `buf` (the unread bytes of `dir`) is. */
  protected abstract frame(dir: TcpDirection, buf: Buffer): Frame;

  /** A message was cut off: follow the conversation (phase changes, pending commands). */
  protected seen(_message: WireMessage): void {}

  push(dir: TcpDirection, data: Buffer, tUs: number): WireMessage[] {
    this.#tUs = tUs;
    if (this.#breaks[dir] !== null) return [];
    const q = this.#queues[dir];
    q.push(data);
    const out: WireMessage[] = [];
    while (q.ready && this.#breaks[dir] === null) {
      const f = this.frame(dir, q.peek());
      if ('need' in f) {
        q.need = Math.max(f.need, q.size + 1);
        break;
      }
      if ('stop' in f) {
        this.stop(dir, f.stop, f.reason);
        break;
      }
      const offset = q.offset;
      const message: WireMessage = { dir, offset, data: q.take(f.len), t_us: tUs, type: f.type, handshake: f.handshake ?? false, end: f.end ?? false };
      out.push(message);
      this.seen(message);
    }
    return out;
  }

  finish(): void {
    for (const dir of ['c2s', 's2c'] as const) {
      if (this.#breaks[dir] === null && this.#queues[dir].size > 0) {
        this.stop(dir, 'incomplete', `the recording ends inside a message (${this.#queues[dir].size} bytes of it)`);
      }
    }
  }

  /** Ends a direction's messages at its current offset. */
  protected stop(dir: TcpDirection, kind: FramingBreak['kind'], reason: string): void {
    if (this.#breaks[dir] !== null) return;
    this.#breaks[dir] = { dir, offset: this.#queues[dir].offset, t_us: this.#tUs, kind, reason };
  }

  /** Ends both directions (the two sides switched to TLS, or to a mode that is not read). */
  protected stopBoth(kind: FramingBreak['kind'], reason: string): void {
    this.stop('c2s', kind, reason);
    this.stop('s2c', kind, reason);
  }
}

/** A byte as text for reasons: `0x47 'G'`. */
export function byteName(b: number): string {
  return b >= 0x20 && b < 0x7f ? `0x${b.toString(16).padStart(2, '0')} '${String.fromCharCode(b)}'` : `0x${b.toString(16).padStart(2, '0')}`;
}
