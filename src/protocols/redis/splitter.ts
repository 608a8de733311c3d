import type { TcpDirection } from '../../recording/model.js';
import { SplitterBase, type Frame } from '../splitter-base.js';
import type { WireMessage } from '../types.js';
import { MAX_LINE, RespError, commandName, respEnd } from './resp.js';

/** Commands that open a connection: replay sends zone B's own instead of the recorded ones. */
export const OPENING_COMMANDS: ReadonlySet<string> = new Set(['AUTH', 'HELLO']);

/**
 * Reads a Redis session: commands (RESP arrays of bulk strings, or inline lines) from the client,
 * RESP2/RESP3 values from the server. Every top-level value is an answer except RESP3 pushes. The
 * opening is the leading AUTH/HELLO commands and their replies.
 */
export class RedisSplitter extends SplitterBase {
  #openingCommands = 0;
  #openingReplies = 0;
  #clientOpened = false;

  get inHandshake(): boolean {
    return !this.#clientOpened || this.#openingReplies < this.#openingCommands;
  }

  protected frame(dir: TcpDirection, buf: Buffer): Frame {
    try {
      if (dir === 'c2s') return this.#command(buf);
      const end = respEnd(buf, 0, false);
      if (typeof end !== 'number') return end;
      const push = buf[0] === 0x3e;
      const handshake = !push && this.#openingReplies < this.#openingCommands;
      return { len: end, type: push ? 'push' : 'reply', handshake, end: !push };
    } catch (err) {
      if (err instanceof RespError) return { stop: 'broken', reason: `not RESP: ${err.message}` };
      throw err;
    }
  }

  protected override seen(m: WireMessage): void {
    if (m.dir === 's2c') {
      if (m.handshake) this.#openingReplies++;
    } else if (m.handshake) {
      this.#openingCommands++;
    } else {
      this.#clientOpened = true;
    }
  }

  #command(buf: Buffer): Frame {
    let len: number;
    if (buf[0] === 0x2a) {
      const end = respEnd(buf, 0, true);
      if (typeof end !== 'number') return end;
      len = end;
    } else {
      const eol = buf.indexOf(0x0a);
      if (eol < 0) {
        if (buf.length > MAX_LINE) return { stop: 'broken', reason: `an inline command longer than ${MAX_LINE} bytes` };
        return { need: buf.length + 1 };
      }
      len = eol + 1;
    }
    const opening = !this.#clientOpened && OPENING_COMMANDS.has(commandName(buf.subarray(0, len)));
    return { len, type: 'command', handshake: opening };
  }
}
