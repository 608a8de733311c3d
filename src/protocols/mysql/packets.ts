/**
 * MySQL / MariaDB client/server protocol basics: packets (3-byte length, 1-byte sequence id;
 * payloads of 2^24-1 bytes continue in the next packet), capability flags, command bytes and
 * length-encoded integers and strings.
 */
import { FieldReader } from '../text.js';

export const MAX_PACKET_PAYLOAD = 0xffffff;

export const CLIENT_LONG_PASSWORD = 0x1;
export const CLIENT_CONNECT_WITH_DB = 0x8;
export const CLIENT_COMPRESS = 0x20;
export const CLIENT_PROTOCOL_41 = 0x200;
export const CLIENT_SSL = 0x800;
export const CLIENT_SECURE_CONNECTION = 0x8000;
export const CLIENT_PLUGIN_AUTH = 0x80000;
export const CLIENT_CONNECT_ATTRS = 0x100000;
export const CLIENT_PLUGIN_AUTH_LENENC_DATA = 0x200000;
export const CLIENT_SESSION_TRACK = 0x800000;
export const CLIENT_DEPRECATE_EOF = 0x1000000;
export const CLIENT_ZSTD_COMPRESSION = 0x4000000;
/** Set by MySQL clients; MariaDB clients leave it clear and put extended capabilities in the filler. */
export const CLIENT_MYSQL = 0x1;

export const SERVER_STATUS_CURSOR_EXISTS = 0x40;
export const SERVER_MORE_RESULTS_EXISTS = 0x8;
/** Index-usage hints in status flags: they follow the planner, not the data. */
export const SERVER_QUERY_NO_GOOD_INDEX_USED = 0x10;
export const SERVER_QUERY_NO_INDEX_USED = 0x20;

export const COMMANDS: ReadonlyMap<number, string> = new Map([
  [0x00, 'COM_SLEEP'],
  [0x01, 'COM_QUIT'],
  [0x02, 'COM_INIT_DB'],
  [0x03, 'COM_QUERY'],
  [0x04, 'COM_FIELD_LIST'],
  [0x05, 'COM_CREATE_DB'],
  [0x06, 'COM_DROP_DB'],
  [0x07, 'COM_REFRESH'],
  [0x08, 'COM_SHUTDOWN'],
  [0x09, 'COM_STATISTICS'],
  [0x0a, 'COM_PROCESS_INFO'],
  [0x0b, 'COM_CONNECT'],
  [0x0c, 'COM_PROCESS_KILL'],
  [0x0d, 'COM_DEBUG'],
  [0x0e, 'COM_PING'],
  [0x0f, 'COM_TIME'],
  [0x10, 'COM_DELAYED_INSERT'],
  [0x11, 'COM_CHANGE_USER'],
  [0x12, 'COM_BINLOG_DUMP'],
  [0x13, 'COM_TABLE_DUMP'],
  [0x14, 'COM_CONNECT_OUT'],
  [0x15, 'COM_REGISTER_SLAVE'],
  [0x16, 'COM_STMT_PREPARE'],
  [0x17, 'COM_STMT_EXECUTE'],
  [0x18, 'COM_STMT_SEND_LONG_DATA'],
  [0x19, 'COM_STMT_CLOSE'],
  [0x1a, 'COM_STMT_RESET'],
  [0x1b, 'COM_SET_OPTION'],
  [0x1c, 'COM_STMT_FETCH'],
  [0x1d, 'COM_DAEMON'],
  [0x1e, 'COM_BINLOG_DUMP_GTID'],
  [0x1f, 'COM_RESET_CONNECTION'],
  [0xfa, 'COM_STMT_BULK_EXECUTE'],
]);

/** Commands the server never answers. */
export const UNANSWERED: ReadonlySet<string> = new Set(['COM_QUIT', 'COM_STMT_CLOSE', 'COM_STMT_SEND_LONG_DATA']);
/** Commands that change the protocol's state in ways not read here: the session is kept as raw bytes from them on. */
export const UNREAD_COMMANDS: ReadonlySet<string> = new Set(['COM_CHANGE_USER', 'COM_BINLOG_DUMP', 'COM_BINLOG_DUMP_GTID', 'COM_REGISTER_SLAVE', 'COM_TABLE_DUMP', 'COM_CONNECT_OUT', 'COM_DAEMON']);

/** Total length of the packets (headers included) carrying the logical message at the head of `buf`, or the bytes needed. */
export function messageLength(buf: Buffer): number | { need: number } {
  let pos = 0;
  for (;;) {
    if (buf.length < pos + 4) return { need: pos + 4 };
    const len = buf.readUIntLE(pos, 3);
    if (buf.length < pos + 4 + len) return { need: pos + 4 + len };
    pos += 4 + len;
    if (len < MAX_PACKET_PAYLOAD) return pos;
  }
}

/** The payload of a logical message (continuation packets joined). */
export function payloadOf(message: Buffer): Buffer {
  const first = message.readUIntLE(0, 3);
  if (first < MAX_PACKET_PAYLOAD) return message.subarray(4, 4 + first);
  const parts: Buffer[] = [];
  for (let pos = 0; pos < message.length; ) {
    const len = message.readUIntLE(pos, 3);
    parts.push(message.subarray(pos + 4, pos + 4 + len));
    pos += 4 + len;
  }
  return Buffer.concat(parts);
}

/** The sequence id of a message's first packet. */
export function sequenceOf(message: Buffer): number {
  return message[3]!;
}

/** Frames a payload into packets starting at sequence id `seq`. */
export function packets(payload: Buffer, seq: number): Buffer {
  const out: Buffer[] = [];
  // A payload of exactly 2^24-1 bytes (or a multiple) ends with an empty packet.
  for (let pos = 0; ; ) {
    const len = Math.min(MAX_PACKET_PAYLOAD, payload.length - pos);
    const head = Buffer.alloc(4);
    head.writeUIntLE(len, 0, 3);
    head[3] = seq++ & 0xff;
    out.push(head, payload.subarray(pos, pos + len));
    pos += len;
    if (len < MAX_PACKET_PAYLOAD) return Buffer.concat(out);
  }
}

/** Reads MySQL's little-endian and length-encoded fields. */
export class PacketReader extends FieldReader {
  u24le(): number {
    const b = this.bytes(3);
    return b.readUIntLE(0, 3);
  }

  u64le(): bigint {
    return this.bytes(8).readBigUInt64LE(0);
  }

  /** A length-encoded integer; null for the NULL marker (0xFB). */
  lenenc(): number | null {
    const first = this.u8();
    if (first < 0xfb) return first;
    if (first === 0xfb) return null;
    if (first === 0xfc) return this.u16le();
    if (first === 0xfd) return this.u24le();
    if (first === 0xfe) return Number(this.u64le());
    throw new RangeError('0xff is not a length-encoded integer');
  }

  /** A length-encoded string's bytes; null for NULL. */
  lenencBytes(): Buffer | null {
    const n = this.lenenc();
    return n === null ? null : this.bytes(n);
  }

  lenencString(): string {
    return (this.lenencBytes() ?? Buffer.alloc(0)).toString('utf8');
  }
}
