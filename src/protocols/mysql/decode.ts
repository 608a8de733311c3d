/** Decodes MySQL/MariaDB packets into fields (protocol documentation, "Client/Server Protocol"). */
import { PacketReader } from './packets.js';
import {
  CLIENT_CONNECT_ATTRS,
  CLIENT_CONNECT_WITH_DB,
  CLIENT_MYSQL,
  CLIENT_PLUGIN_AUTH,
  CLIENT_PLUGIN_AUTH_LENENC_DATA,
  CLIENT_PROTOCOL_41,
  CLIENT_SECURE_CONNECTION,
} from './packets.js';

export interface Greeting {
  version: string;
  connectionId: number;
  /** The 20-byte scramble (both parts). */
  scramble: Buffer;
  caps: number;
  /** MariaDB's extended capabilities (in the reserved bytes), 0 for MySQL. */
  mariadbCaps: number;
  charset: number;
  plugin: string;
}

export function decodeGreeting(payload: Buffer): Greeting {
  const r = new PacketReader(payload, 1);
  const version = r.cstring();
  const connectionId = r.u32le();
  const part1 = r.bytes(8);
  r.u8();
  let caps = r.u16le();
  const charset = r.u8();
  r.u16le();
  caps = (caps | (r.u16le() << 16)) >>> 0;
  const authLen = r.u8();
  r.bytes(6);
  const mariadbCaps = (caps & CLIENT_MYSQL) === 0 ? r.u32le() : (r.bytes(4), 0);
  const part2Len = Math.max(13, authLen - 8);
  const part2 = r.left >= part2Len ? r.bytes(part2Len) : r.rest();
  const plugin = r.left > 0 ? r.cstring() : 'mysql_native_password';
  // The second part ends with a NUL that is not part of the scramble.
  const scramble = Buffer.concat([part1, part2.subarray(0, Math.max(0, authLen > 0 ? authLen - 9 : 12))]);
  return { version, connectionId, scramble, caps, mariadbCaps, charset, plugin };
}

export interface HandshakeResponse {
  caps: number;
  maxPacket: number;
  charset: number;
  mariadbCaps: number;
  user: string;
  database: string | null;
  plugin: string | null;
  attrs: Buffer | null;
}

export function decodeHandshakeResponse(payload: Buffer): HandshakeResponse {
  const r = new PacketReader(payload);
  const caps = r.u32le();
  if ((caps & CLIENT_PROTOCOL_41) === 0) throw new RangeError('a pre-4.1 handshake response');
  const maxPacket = r.u32le();
  const charset = r.u8();
  r.bytes(19);
  const mariadbCaps = (caps & CLIENT_MYSQL) === 0 ? r.u32le() : (r.bytes(4), 0);
  const user = r.cstring();
  if ((caps & CLIENT_PLUGIN_AUTH_LENENC_DATA) !== 0) r.lenencBytes();
  else if ((caps & CLIENT_SECURE_CONNECTION) !== 0) r.bytes(r.u8());
  else r.cstring();
  const database = (caps & CLIENT_CONNECT_WITH_DB) !== 0 && r.left > 0 ? r.cstring() : null;
  const plugin = (caps & CLIENT_PLUGIN_AUTH) !== 0 && r.left > 0 ? r.cstring() : null;
  const attrs = (caps & CLIENT_CONNECT_ATTRS) !== 0 && r.left > 0 ? r.lenencBytes() : null;
  return { caps, maxPacket, charset, mariadbCaps, user, database, plugin, attrs };
}

const SERVER_SESSION_STATE_CHANGED = 0x4000;

export interface OkPacket {
  affectedRows: number;
  insertId: number;
  status: number;
  warnings: number;
  info: string;
}

export function decodeOk(payload: Buffer): OkPacket {
  const r = new PacketReader(payload, 1);
  const affectedRows = r.lenenc() ?? 0;
  const insertId = r.lenenc() ?? 0;
  const status = r.left >= 2 ? r.u16le() : 0;
  const warnings = r.left >= 2 ? r.u16le() : 0;
  // With session tracking the info text is length-encoded and session state changes may follow
  // (SERVER_SESSION_STATE_CHANGED); without it the info text runs to the end of the packet.
  let info: string;
  if ((status & SERVER_SESSION_STATE_CHANGED) !== 0) info = r.lenencString();
  else {
    const rest = r.rest();
    info = rest.length > 0 && rest[0]! < 0xfb && rest[0] === rest.length - 1 ? rest.toString('utf8', 1) : rest.toString('utf8');
  }
  return { affectedRows, insertId, status, warnings, info };
}

export interface ErrPacket {
  code: number;
  state: string;
  message: string;
}

export function decodeErr(payload: Buffer): ErrPacket {
  const r = new PacketReader(payload, 1);
  const code = r.u16le();
  let state = '';
  if (r.left > 0 && payload[r.pos] === 0x23) {
    r.u8();
    state = r.bytes(5).toString('latin1');
  }
  return { code, state, message: r.rest().toString('utf8') };
}

export interface ColumnDef {
  schema: string;
  table: string;
  orgTable: string;
  name: string;
  orgName: string;
  charset: number;
  length: number;
  type: number;
  flags: number;
  decimals: number;
}

export function decodeColumn(payload: Buffer): ColumnDef {
  const r = new PacketReader(payload);
  r.lenencBytes();
  const schema = r.lenencString();
  const table = r.lenencString();
  const orgTable = r.lenencString();
  const name = r.lenencString();
  const orgName = r.lenencString();
  // MariaDB's extended metadata puts one more length-encoded string before the fixed fields.
  if (!(payload[r.pos] === 0x0c && r.left >= 13)) r.lenencBytes();
  r.lenenc();
  const charset = r.u16le();
  const length = r.u32le();
  const type = r.u8();
  const flags = r.u16le();
  const decimals = r.u8();
  return { schema, table, orgTable, name, orgName, charset, length, type, flags, decimals };
}

/** A text-protocol row's values (length-encoded strings, 0xFB for NULL). */
export function decodeTextRow(payload: Buffer): Array<Buffer | null> {
  const r = new PacketReader(payload);
  const out: Array<Buffer | null> = [];
  while (r.left > 0) out.push(r.lenencBytes());
  return out;
}

export const UNSIGNED_FLAG = 0x20;

/** One binary-protocol value: its bytes (compared) and how it reads (shown). */
export interface BinaryValue {
  bytes: Buffer | null;
  text: string;
}

/** A binary-protocol row (COM_STMT_EXECUTE results), read with its result set's column definitions. */
export function decodeBinaryRow(payload: Buffer, columns: readonly ColumnDef[]): BinaryValue[] {
  const r = new PacketReader(payload, 1);
  const bitmap = r.bytes(Math.floor((columns.length + 7 + 2) / 8));
  return columns.map((c, i) => {
    const bit = i + 2;
    if ((bitmap[bit >> 3]! & (1 << (bit & 7))) !== 0) return { bytes: null, text: 'NULL' };
    return binaryValue(r, c);
  });
}

function binaryValue(r: PacketReader, c: ColumnDef): BinaryValue {
  const unsigned = (c.flags & UNSIGNED_FLAG) !== 0;
  const fixed = (n: number, read: (b: Buffer) => string): BinaryValue => {
    const bytes = r.bytes(n);
    return { bytes, text: read(bytes) };
  };
  switch (c.type) {
    case 1:
      return fixed(1, (b) => String(unsigned ? b.readUInt8(0) : b.readInt8(0)));
    case 2:
    case 13:
      return fixed(2, (b) => String(unsigned ? b.readUInt16LE(0) : b.readInt16LE(0)));
    case 3:
    case 9:
      return fixed(4, (b) => String(unsigned ? b.readUInt32LE(0) : b.readInt32LE(0)));
    case 8:
      return fixed(8, (b) => String(unsigned ? b.readBigUInt64LE(0) : b.readBigInt64LE(0)));
    case 4:
      return fixed(4, (b) => String(b.readFloatLE(0)));
    case 5:
      return fixed(8, (b) => String(b.readDoubleLE(0)));
    case 7:
    case 10:
    case 12:
    case 14:
      return dated(r);
    case 11:
      return timed(r);
    case 6:
      return { bytes: null, text: 'NULL' };
    default: {
      const bytes = r.lenencBytes();
      return { bytes, text: bytes === null ? 'NULL' : bytes.toString('utf8') };
    }
  }
}

function dated(r: PacketReader): BinaryValue {
  const n = r.u8();
  const b = r.bytes(n);
  if (n === 0) return { bytes: b, text: '0000-00-00' };
  const pad = (v: number, w = 2): string => String(v).padStart(w, '0');
  let text = `${pad(b.readUInt16LE(0), 4)}-${pad(b[2]!)}-${pad(b[3]!)}`;
  if (n >= 7) text += ` ${pad(b[4]!)}:${pad(b[5]!)}:${pad(b[6]!)}`;
  if (n >= 11) text += `.${pad(b.readUInt32LE(7), 6)}`;
  return { bytes: b, text };
}

function timed(r: PacketReader): BinaryValue {
  const n = r.u8();
  const b = r.bytes(n);
  if (n === 0) return { bytes: b, text: '00:00:00' };
  const pad = (v: number, w = 2): string => String(v).padStart(w, '0');
  const hours = b.readUInt32LE(1) * 24 + b[5]!;
  let text = `${b[0] === 1 ? '-' : ''}${pad(hours)}:${pad(b[6]!)}:${pad(b[7]!)}`;
  if (n >= 12) text += `.${pad(b.readUInt32LE(8), 6)}`;
  return { bytes: b, text };
}

export interface PrepareOk {
  statementId: number;
  columns: number;
  params: number;
  warnings: number;
}

export function decodePrepareOk(payload: Buffer): PrepareOk {
  const r = new PacketReader(payload, 1);
  const statementId = r.u32le();
  const columns = r.u16le();
  const params = r.u16le();
  r.u8();
  return { statementId, columns, params, warnings: r.left >= 2 ? r.u16le() : 0 };
}
