import type { TcpDirection } from '../../recording/model.js';
import { SplitterBase, byteName, type Frame } from '../splitter-base.js';
import type { WireMessage } from '../types.js';
import { ANSWER_ENDS, BACKEND, CANCEL_REQUEST, FRONTEND, GSSENC_REQUEST, MAX_MESSAGE_LENGTH, MAX_STARTUP_LENGTH, PROTOCOL_3, SSL_REQUEST } from './messages.js';

/**
 * Reads a PostgreSQL session (protocol 3.0): the client's untyped start-up packets (SSLRequest,
 * GSSENCRequest, CancelRequest, StartupMessage), the server's one-byte answer to an SSL or GSS
 * request, then typed messages both ways. The opening lasts until the server's first
 * ReadyForQuery. An accepted SSL/GSS request ends both directions: what follows is encrypted.
 */
export class PostgresSplitter extends SplitterBase {
  /** The client has not sent its StartupMessage yet. */
  #startup = true;
  /** The server's next byte answers an SSLRequest or GSSENCRequest. */
  #awaiting: 'SSL' | 'GSSENC' | null = null;
  #opened = false;
  #cancel = false;

  get inHandshake(): boolean {
    return !this.#opened;
  }

  protected frame(dir: TcpDirection, buf: Buffer): Frame {
    if (dir === 'c2s') return this.#startup ? this.#startupPacket(buf) : this.#typed(buf, FRONTEND, 'client');
    if (this.#awaiting !== null) return this.#encryptionAnswer(buf);
    return this.#typed(buf, BACKEND, 'server');
  }

  protected override seen(m: WireMessage): void {
    if (m.dir === 'c2s') {
      if (m.type === 'SSLRequest' || m.type === 'GSSENCRequest') this.#awaiting = m.type === 'SSLRequest' ? 'SSL' : 'GSSENC';
      else if (m.type === 'StartupMessage') this.#startup = false;
      else if (m.type === 'CancelRequest') this.#cancel = true;
      return;
    }
    if (m.type === 'SSLResponse' || m.type === 'GSSENCResponse') {
      const answer = String.fromCharCode(m.data[0]!);
      this.#awaiting = null;
      if (answer !== 'N') this.stopBoth('tls', `the server accepted the client's ${m.type === 'SSLResponse' ? 'SSLRequest' : 'GSSENCRequest'} ('${answer}'): the rest of the session is encrypted`);
    } else if (m.type === 'ReadyForQuery') {
      this.#opened = true;
    }
  }

  #startupPacket(buf: Buffer): Frame {
    if (this.#cancel) return { stop: 'broken', reason: 'bytes after a CancelRequest' };
    if (this.#awaiting !== null) return { stop: 'broken', reason: 'the client went on before the server answered its encryption request' };
    if (buf.length < 8) return { need: 8 };
    const len = buf.readInt32BE(0);
    if (len < 8 || len > MAX_STARTUP_LENGTH) return { stop: 'broken', reason: `not a PostgreSQL start-up packet (length ${len})` };
    if (buf.length < len) return { need: len };
    const code = buf.readInt32BE(4);
    if (code === SSL_REQUEST && len === 8) return { len, type: 'SSLRequest', handshake: true };
    if (code === GSSENC_REQUEST && len === 8) return { len, type: 'GSSENCRequest', handshake: true };
    if (code === CANCEL_REQUEST && len === 16) return { len, type: 'CancelRequest', handshake: true };
    if (code >>> 16 === 3) return { len, type: 'StartupMessage', handshake: true };
    if (code === PROTOCOL_3 - 65536) return { stop: 'unsupported', reason: 'protocol 2.0 start-up (only 3.x is read)' };
    return { stop: 'broken', reason: `not a PostgreSQL start-up packet (request code ${code})` };
  }

  #encryptionAnswer(buf: Buffer): Frame {
    const b = buf[0]!;
    const type = this.#awaiting === 'SSL' ? 'SSLResponse' : 'GSSENCResponse';
    if (b === 0x4e || b === 0x53 || (b === 0x47 && this.#awaiting === 'GSSENC')) return { len: 1, type, handshake: true };
    // A server that does not know the request answers with an ErrorResponse and closes.
    if (b === 0x45) {
      this.#awaiting = null;
      return this.#typed(buf, BACKEND, 'server');
    }
    return { stop: 'broken', reason: `not an answer to an encryption request: ${byteName(b)}` };
  }

  #typed(buf: Buffer, names: ReadonlyMap<number, string>, side: 'client' | 'server'): Frame {
    if (buf.length < 5) return { need: 5 };
    const code = buf[0]!;
    const type = names.get(code);
    if (type === undefined) return { stop: 'broken', reason: `not a PostgreSQL ${side} message: type ${byteName(code)}` };
    const len = buf.readUInt32BE(1);
    if (len < 4 || len > MAX_MESSAGE_LENGTH) return { stop: 'broken', reason: `${type} with an impossible length (${len})` };
    if (buf.length < len + 1) return { need: len + 1 };
    const handshake = !this.#opened;
    if (side === 'client') return { len: len + 1, type, handshake };
    return { len: len + 1, type, handshake, end: ANSWER_ENDS.has(type) };
  }
}
