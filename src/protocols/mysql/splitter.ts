import type { TcpDirection } from '../../recording/model.js';
import { SplitterBase, byteName, type Frame } from '../splitter-base.js';
import type { WireMessage } from '../types.js';
import {
  CLIENT_COMPRESS,
  CLIENT_DEPRECATE_EOF,
  CLIENT_PROTOCOL_41,
  CLIENT_SSL,
  CLIENT_ZSTD_COMPRESSION,
  COMMANDS,
  MAX_PACKET_PAYLOAD,
  SERVER_MORE_RESULTS_EXISTS,
  SERVER_STATUS_CURSOR_EXISTS,
  UNANSWERED,
  UNREAD_COMMANDS,
  messageLength,
  payloadOf,
} from './packets.js';

type Phase = 'greeting' | 'response' | 'auth' | 'command' | 'closed';

/** Where the answer to one command is. */
interface Answer {
  command: string;
  step: 'first' | 'columns' | 'columnsEof' | 'rows' | 'params' | 'paramsEof' | 'prepColumns' | 'prepColumnsEof' | 'fieldList';
  left: number;
  /** COM_STMT_PREPARE: column definitions that follow the parameter definitions. */
  prepColumns: number;
}

type Kind = { type: string; end: boolean };

/**
 * Reads a MySQL/MariaDB session: the server's greeting, the client's handshake response and the
 * authentication exchange (the opening), then commands and their answers. Packets are joined
 * into logical messages; each server packet is named by where it falls in the answer to the
 * command it belongs to (OK, ERR, ColumnCount, ColumnDefinition, Row/BinaryRow, EOF, …), and the
 * packet that completes the answer is its end. SSL and compression end both directions.
 */
export class MysqlSplitter extends SplitterBase {
  #phase: Phase = 'greeting';
  #serverCaps = 0;
  #deprecateEof = false;
  #compress = false;
  readonly #pending: string[] = [];
  #answer: Answer | null = null;
  /** The client is sending a LOCAL INFILE's data (until an empty packet). */
  #infile = false;

  get inHandshake(): boolean {
    return this.#phase !== 'command';
  }

  protected frame(dir: TcpDirection, buf: Buffer): Frame {
    const len = messageLength(buf);
    if (typeof len !== 'number') {
      // A greeting or handshake response is small: a huge length here is another protocol.
      if (this.#phase !== 'command' && buf.length >= 4 && buf.readUIntLE(0, 3) > 64 * 1024) {
        return { stop: 'broken', reason: `not a MySQL ${dir === 'c2s' ? 'handshake response' : 'greeting'} (packet length ${buf.readUIntLE(0, 3)})` };
      }
      return len;
    }
    const payload = payloadOf(buf.subarray(0, len));
    try {
      const kind = dir === 'c2s' ? this.#client(payload) : this.#server(payload);
      if ('stop' in kind) return kind;
      return { len, type: kind.type, end: kind.end, handshake: this.#phase !== 'command' || kind.type === 'OK-handshake' };
    } catch (err) {
      if (err instanceof RangeError) return { stop: 'broken', reason: `malformed packet: ${err.message}` };
      throw err;
    }
  }

  protected override seen(m: WireMessage): void {
    if (m.type === 'OK-handshake') {
      m.type = 'OK';
      this.#phase = 'command';
      if (this.#compress) this.stopBoth('unsupported', 'the client and server switched to the compressed protocol: the rest is kept as bytes');
    }
  }

  #client(p: Buffer): Kind | { stop: 'broken' | 'unsupported' | 'tls'; reason: string } {
    switch (this.#phase) {
      case 'greeting':
        return { stop: 'broken', reason: 'the client spoke before the server greeting' };
      case 'response': {
        if (p.length < 32) return { stop: 'broken', reason: `not a MySQL handshake response (${p.length} bytes)` };
        const caps = p.readUInt32LE(0);
        if ((caps & CLIENT_PROTOCOL_41) === 0) return { stop: 'unsupported', reason: 'a pre-4.1 handshake response' };
        if ((caps & CLIENT_SSL) !== 0 && p.length === 32) {
          this.stopBoth('tls', 'the client asked for SSL: the rest of the session is encrypted');
          return { stop: 'tls', reason: 'SSLRequest' };
        }
        this.#phase = 'auth';
        this.#deprecateEof = (caps & this.#serverCaps & CLIENT_DEPRECATE_EOF) !== 0;
        this.#compress = (caps & this.#serverCaps & (CLIENT_COMPRESS | CLIENT_ZSTD_COMPRESSION)) !== 0;
        return { type: 'HandshakeResponse', end: false };
      }
      case 'auth':
        return { type: 'AuthData', end: false };
      case 'closed':
        return { stop: 'broken', reason: 'bytes after the server refused the connection' };
      case 'command':
        return this.#command(p);
    }
  }

  #command(p: Buffer): Kind | { stop: 'broken' | 'unsupported'; reason: string } {
    if (this.#infile) {
      if (p.length === 0) this.#infile = false;
      return { type: 'LocalInfileData', end: false };
    }
    if (p.length === 0) return { stop: 'broken', reason: 'an empty command packet' };
    const name = COMMANDS.get(p[0]!);
    if (name === undefined) return { stop: 'broken', reason: `not a MySQL command: ${byteName(p[0]!)}` };
    if (UNREAD_COMMANDS.has(name)) {
      this.stopBoth('unsupported', `${name} changes the protocol in ways not read here: the rest is kept as bytes`);
      return { stop: 'unsupported', reason: name };
    }
    if (!UNANSWERED.has(name)) this.#pending.push(name);
    return { type: name, end: false };
  }

  #server(p: Buffer): Kind | { stop: 'broken'; reason: string } {
    const head = p[0];
    switch (this.#phase) {
      case 'greeting':
        if (head === 10) {
          this.#serverCaps = greetingCaps(p);
          this.#phase = 'response';
          return { type: 'Greeting', end: false };
        }
        if (head === 0xff) {
          this.#phase = 'closed';
          return { type: 'ERR', end: true };
        }
        return { stop: 'broken', reason: `not a MySQL server greeting (first byte ${byteName(head ?? 0)})` };
      case 'response':
        return { stop: 'broken', reason: 'the server spoke before the client answered its greeting' };
      case 'auth':
        if (head === 0x00) return { type: 'OK-handshake', end: true };
        if (head === 0xff) {
          this.#phase = 'closed';
          return { type: 'ERR', end: true };
        }
        if (head === 0xfe) return { type: 'AuthSwitchRequest', end: false };
        if (head === 0x01) return { type: 'AuthMoreData', end: false };
        return { stop: 'broken', reason: `not an authentication packet (first byte ${byteName(head ?? 0)})` };
      case 'closed':
        return { stop: 'broken', reason: 'bytes after the server refused the connection' };
      case 'command':
        return this.#answerPacket(p);
    }
  }

  #answerPacket(p: Buffer): Kind | { stop: 'broken'; reason: string } {
    if (this.#answer === null) {
      const command = this.#pending.shift();
      if (command === undefined) {
        // The server may report an error on its own before closing (killed, shut down).
        if (p[0] === 0xff) return { type: 'ERR', end: false };
        return { stop: 'broken', reason: `a server packet no command asked for (first byte ${byteName(p[0] ?? 0)})` };
      }
      const step = command === 'COM_FIELD_LIST' ? 'fieldList' : command === 'COM_STMT_FETCH' ? 'rows' : 'first';
      this.#answer = { command, step, left: 0, prepColumns: 0 };
    }
    const k = this.#step(this.#answer, p);
    if (k.end) this.#answer = null;
    return k;
  }

  #step(a: Answer, p: Buffer): Kind {
    const head = p[0];
    const binary = a.command === 'COM_STMT_EXECUTE' || a.command === 'COM_STMT_FETCH' || a.command === 'COM_STMT_BULK_EXECUTE';
    if (head === 0xff) return { type: 'ERR', end: true };
    switch (a.step) {
      case 'first':
        return this.#first(a, p);
      case 'columns':
        if (--a.left === 0) a.step = this.#deprecateEof ? 'rows' : 'columnsEof';
        return { type: 'ColumnDefinition', end: false };
      case 'columnsEof':
        a.step = 'rows';
        return { type: 'EOF', end: (eofStatus(p) & SERVER_STATUS_CURSOR_EXISTS) !== 0 };
      case 'rows':
        if (head === 0xfe && (p.length < 9 || (this.#deprecateEof && p.length < MAX_PACKET_PAYLOAD))) {
          const more = ((this.#deprecateEof ? okStatus(p) : eofStatus(p)) & SERVER_MORE_RESULTS_EXISTS) !== 0;
          a.step = 'first';
          return { type: this.#deprecateEof ? 'OK' : 'EOF', end: !more };
        }
        return { type: binary ? 'BinaryRow' : 'Row', end: false };
      case 'params':
        if (--a.left > 0) return { type: 'ParamDefinition', end: false };
        if (!this.#deprecateEof) {
          a.step = 'paramsEof';
          return { type: 'ParamDefinition', end: false };
        }
        a.step = this.#afterParams(a);
        return { type: 'ParamDefinition', end: a.prepColumns === 0 };
      case 'paramsEof':
        a.step = this.#afterParams(a);
        return { type: 'EOF', end: a.prepColumns === 0 };
      case 'prepColumns':
        if (--a.left === 0) {
          if (this.#deprecateEof) return { type: 'ColumnDefinition', end: true };
          a.step = 'prepColumnsEof';
        }
        return { type: 'ColumnDefinition', end: false };
      case 'prepColumnsEof':
        return { type: 'EOF', end: true };
      case 'fieldList':
        return head === 0xfe && p.length < 9 ? { type: 'EOF', end: true } : { type: 'ColumnDefinition', end: false };
    }
  }

  #afterParams(a: Answer): Answer['step'] {
    a.left = a.prepColumns;
    return 'prepColumns';
  }

  #first(a: Answer, p: Buffer): Kind {
    const head = p[0];
    if (a.command === 'COM_STMT_PREPARE') {
      if (head !== 0x00 || p.length < 12) return { type: 'OK', end: true };
      const columns = p.readUInt16LE(5);
      const params = p.readUInt16LE(7);
      a.prepColumns = columns;
      if (params > 0) {
        a.step = 'params';
        a.left = params;
      } else if (columns > 0) {
        a.step = 'prepColumns';
        a.left = columns;
      }
      return { type: 'StmtPrepareOK', end: params === 0 && columns === 0 };
    }
    const resultSet = a.command === 'COM_QUERY' || a.command === 'COM_STMT_EXECUTE' || a.command === 'COM_STMT_BULK_EXECUTE';
    if (!resultSet) {
      if (a.command === 'COM_STATISTICS') return { type: 'Statistics', end: true };
      return { type: head === 0xfe ? 'EOF' : 'OK', end: true };
    }
    if (head === 0x00) return { type: 'OK', end: (okStatus(p) & SERVER_MORE_RESULTS_EXISTS) === 0 };
    if (head === 0xfb) {
      this.#infile = true;
      return { type: 'LocalInfileRequest', end: false };
    }
    a.step = 'columns';
    a.left = columnCount(p);
    // MariaDB's metadata cache (MARIADB_CLIENT_CACHE_METADATA) adds a "metadata follows" byte: 0 =
    // the column definitions are left out, the client has them from before.
    const follows = p.length > lenencSize(p[0]) ? p[lenencSize(p[0])] !== 0 : true;
    if (a.left === 0 || !follows) a.step = this.#deprecateEof ? 'rows' : 'columnsEof';
    return { type: 'ColumnCount', end: false };
  }
}

function greetingCaps(p: Buffer): number {
  const nul = p.indexOf(0, 1);
  // version\0, connection id (4), scramble part 1 (8), filler (1), caps low (2), charset (1), status (2), caps high (2)
  const at = nul + 1 + 4 + 8 + 1;
  if (p.length < at + 7) return p.length >= at + 2 ? p.readUInt16LE(at) : 0;
  return (p.readUInt16LE(at) | (p.readUInt16LE(at + 5) << 16)) >>> 0;
}

/** Status flags of an EOF packet (0xfe, warnings, status). */
function eofStatus(p: Buffer): number {
  return p.length >= 5 ? p.readUInt16LE(3) : 0;
}

/** Status flags of an OK packet: after the affected-rows and insert-id length-encoded integers. */
export function okStatus(p: Buffer): number {
  let at = 1;
  for (let i = 0; i < 2; i++) at += lenencSize(p[at]);
  return p.length >= at + 2 ? p.readUInt16LE(at) : 0;
}

function lenencSize(first: number | undefined): number {
  if (first === undefined || first < 0xfb) return 1;
  return first === 0xfc ? 3 : first === 0xfd ? 4 : first === 0xfe ? 9 : 1;
}

function columnCount(p: Buffer): number {
  const first = p[0]!;
  if (first < 0xfb) return first;
  if (first === 0xfc) return p.readUInt16LE(1);
  if (first === 0xfd) return p.readUIntLE(1, 3);
  return Number(p.readBigUInt64LE(1));
}
