/**
 * @module A session read as a conversation: the opening (start-up, authentication), then
 * exchanges — the client's messages and the server's messages that followed them — in the order
 * the proxy saw them, and where either direction stopped being readable.
 */
import type { AppProtocol, TcpChunk, TcpDirection } from '../recording/model.js';
import { protocolModule } from './registry.js';
import type { FramingBreak, SessionSplitter, WireMessage } from './types.js';

/** One turn: what the client sent, then what the server sent before the client spoke again. */
export interface Exchange {
  /** 1-based position in the session ("#42"). */
  n: number;
  request: WireMessage[];
  answer: WireMessage[];
}

export interface Conversation {
  protocol: AppProtocol;
  opening: { client: WireMessage[]; server: WireMessage[] };
  exchanges: Exchange[];
  breaks: Record<TcpDirection, FramingBreak | null>;
  /** The opening finished (the server accepted the session and the client got past it). */
  opened: boolean;
  /** Bytes of each direction that were not read as messages (from its break on). */
  rawBytes: Record<TcpDirection, number>;
}

/** Builds a conversation message by message, as chunks arrive (replay feeds it live). */
export class ConversationBuilder {
  readonly splitter: SessionSplitter;
  readonly conversation: Conversation;
  readonly #bytes: Record<TcpDirection, number> = { c2s: 0, s2c: 0 };
  #current: Exchange | null = null;

  constructor(readonly protocol: AppProtocol) {
    this.splitter = protocolModule(protocol).splitter();
    this.conversation = { protocol, opening: { client: [], server: [] }, exchanges: [], breaks: { c2s: null, s2c: null }, opened: false, rawBytes: { c2s: 0, s2c: 0 } };
  }

  /** Feeds one read; returns the messages it completed. */
  push(dir: TcpDirection, data: Buffer, tUs: number): WireMessage[] {
    this.#bytes[dir] += data.length;
    const messages = this.splitter.push(dir, data, tUs);
    for (const m of messages) this.#place(m);
    this.#syncBreaks();
    return messages;
  }

  /** The session is over: an unfinished message becomes an `incomplete` break. */
  finish(): Conversation {
    this.splitter.finish();
    this.#syncBreaks();
    return this.conversation;
  }

  #place(m: WireMessage): void {
    const c = this.conversation;
    if (m.handshake) {
      (m.dir === 'c2s' ? c.opening.client : c.opening.server).push(m);
      return;
    }
    if (m.dir === 'c2s') {
      if (this.#current === null || this.#current.answer.length > 0) {
        this.#current = { n: c.exchanges.length + 1, request: [], answer: [] };
        c.exchanges.push(this.#current);
      }
      this.#current.request.push(m);
      return;
    }
    if (this.#current === null) {
      this.#current = { n: c.exchanges.length + 1, request: [], answer: [] };
      c.exchanges.push(this.#current);
    }
    this.#current.answer.push(m);
  }

  #syncBreaks(): void {
    const c = this.conversation;
    c.opened = !this.splitter.inHandshake;
    for (const dir of ['c2s', 's2c'] as const) {
      const b = this.splitter.breaks[dir];
      c.breaks[dir] = b;
      c.rawBytes[dir] = b === null ? 0 : this.#bytes[dir] - b.offset;
    }
  }
}

/** Reads a recorded session's chunks as a conversation. */
export function readConversation(protocol: AppProtocol, chunks: readonly TcpChunk[]): Conversation {
  const b = new ConversationBuilder(protocol);
  for (const c of chunks) b.push(c.dir, c.data, c.t_us);
  return b.finish();
}

/** The bytes of one direction from `offset` on (the raw rest after a break). */
export function bytesFrom(chunks: readonly TcpChunk[], dir: TcpDirection, offset: number): Buffer {
  const parts: Buffer[] = [];
  let at = 0;
  for (const c of chunks) {
    if (c.dir !== dir) continue;
    const end = at + c.data.length;
    if (end > offset) parts.push(at >= offset ? c.data : c.data.subarray(offset - at));
    at = end;
  }
  return Buffer.concat(parts);
}
