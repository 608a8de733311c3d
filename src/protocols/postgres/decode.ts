/**
 * Decodes PostgreSQL messages into fields. Server messages go through pg-protocol's parser
 * (node-postgres' own), except DataRow, whose values it turns into UTF-8 strings: binary-format
 * values would lose bytes, and two different values could then compare equal. DataRow values stay
 * bytes here. Client messages (Query, Parse, Bind, …), which pg-protocol does not parse, are read
 * here from the protocol's message formats.
 */
import { Parser } from 'pg-protocol/dist/parser.js';
import type { BackendMessage } from 'pg-protocol/dist/messages.js';
import { FieldReader } from '../text.js';

/** A server message's fields, as compared and shown. */
export type PgServerFields =
  | { type: 'DataRow'; values: Array<Buffer | null> }
  | { type: 'RowDescription'; columns: PgColumn[] }
  | { type: 'CommandComplete'; tag: string }
  | { type: 'ErrorResponse' | 'NoticeResponse'; severity: string; code: string; message: string; detail: string | null }
  | { type: 'ParameterStatus'; name: string; value: string }
  | { type: 'BackendKeyData'; pid: number; key: number }
  | { type: 'ReadyForQuery'; status: string }
  | { type: 'NotificationResponse'; pid: number; channel: string; payload: string }
  | { type: 'CopyInResponse' | 'CopyOutResponse'; binary: boolean; columns: number }
  | { type: 'ParameterDescription'; oids: number[] }
  | { type: 'CopyData'; data: Buffer }
  | { type: 'Authentication'; code: number; name: string; mechanisms: string[]; data: string; salt: Buffer | null }
  /** Everything else: compared by its bytes. */
  | { type: 'Other'; name: string; payload: Buffer };

export interface PgColumn {
  name: string;
  tableOid: number;
  column: number;
  typeOid: number;
  typeSize: number;
  typeMod: number;
  format: 'text' | 'binary';
}

const AUTH_NAMES: Record<number, string> = {
  0: 'AuthenticationOk',
  2: 'AuthenticationKerberosV5',
  3: 'AuthenticationCleartextPassword',
  5: 'AuthenticationMD5Password',
  7: 'AuthenticationGSS',
  8: 'AuthenticationGSSContinue',
  9: 'AuthenticationSSPI',
  10: 'AuthenticationSASL',
  11: 'AuthenticationSASLContinue',
  12: 'AuthenticationSASLFinal',
};

/** The name of an Authentication message's request ("AuthenticationSASL"). */
export function authName(message: Buffer): string {
  const code = message.length >= 9 ? message.readInt32BE(5) : -1;
  return AUTH_NAMES[code] ?? `Authentication(${code})`;
}

function parseWithPgProtocol(message: Buffer): BackendMessage {
  let out: BackendMessage | null = null;
  new Parser().parse(message, (m) => {
    out = m;
  });
  if (out === null) throw new RangeError('incomplete message');
  return out;
}

/** Decodes one whole server message (type byte and length included). Throws RangeError on a malformed one. */
export function decodeServer(message: Buffer, type: string): PgServerFields {
  switch (type) {
    case 'DataRow':
      return { type, values: dataRowValues(message) };
    case 'Authentication':
      return authentication(message);
    case 'CopyData':
      return { type, data: message.subarray(5) };
    case 'RowDescription':
    case 'CommandComplete':
    case 'ErrorResponse':
    case 'NoticeResponse':
    case 'ParameterStatus':
    case 'BackendKeyData':
    case 'ReadyForQuery':
    case 'NotificationResponse':
    case 'CopyInResponse':
    case 'CopyOutResponse':
    case 'ParameterDescription':
      return fromPgProtocol(parseWithPgProtocol(message), type);
    default:
      return { type: 'Other', name: type, payload: message.subarray(5) };
  }
}

/** pg-protocol's BackendMessage is a name tag; its message classes hold the fields read here. */
function fromPgProtocol(m: BackendMessage, type: string): PgServerFields {
  const f = m as unknown as Record<string, unknown>;
  switch (type) {
    case 'RowDescription':
      return {
        type,
        columns: (f.fields as Array<Record<string, unknown>>).map((c) => ({
          name: c.name as string,
          tableOid: c.tableID as number,
          column: c.columnID as number,
          typeOid: c.dataTypeID as number,
          typeSize: c.dataTypeSize as number,
          typeMod: c.dataTypeModifier as number,
          format: c.format as 'text' | 'binary',
        })),
      };
    case 'CommandComplete':
      return { type, tag: f.text as string };
    case 'ErrorResponse':
    case 'NoticeResponse':
      return { type, severity: (f.severity as string | undefined) ?? '', code: (f.code as string | undefined) ?? '', message: (f.message as string | undefined) ?? '', detail: (f.detail as string | undefined) ?? null };
    case 'ParameterStatus':
      return { type, name: f.parameterName as string, value: f.parameterValue as string };
    case 'BackendKeyData':
      return { type, pid: f.processID as number, key: f.secretKey as number };
    case 'ReadyForQuery':
      return { type, status: f.status as string };
    case 'NotificationResponse':
      return { type, pid: f.processId as number, channel: f.channel as string, payload: f.payload as string };
    case 'CopyInResponse':
    case 'CopyOutResponse':
      return { type, binary: f.binary as boolean, columns: (f.columnTypes as number[]).length };
    default:
      return { type: 'ParameterDescription', oids: f.dataTypeIDs as number[] };
  }
}

function dataRowValues(message: Buffer): Array<Buffer | null> {
  const r = new FieldReader(message, 5);
  const n = r.i16be();
  const values: Array<Buffer | null> = [];
  for (let i = 0; i < n; i++) {
    const len = r.i32be();
    values.push(len < 0 ? null : r.bytes(len));
  }
  return values;
}

function authentication(message: Buffer): PgServerFields {
  const r = new FieldReader(message, 5);
  const code = r.i32be();
  const out = { type: 'Authentication' as const, code, name: AUTH_NAMES[code] ?? `Authentication(${code})`, mechanisms: [] as string[], data: '', salt: null as Buffer | null };
  if (code === 5) out.salt = r.bytes(4);
  else if (code === 10) for (let m = r.cstring(); m !== ''; m = r.cstring()) out.mechanisms.push(m);
  else if (code === 11 || code === 12) out.data = r.rest().toString('utf8');
  return out;
}

/** A client message's fields, as shown. */
export type PgClientFields =
  | { type: 'StartupMessage'; params: Array<[string, string]> }
  | { type: 'SSLRequest' | 'GSSENCRequest' | 'CancelRequest' }
  | { type: 'Query'; sql: string }
  | { type: 'Parse'; statement: string; sql: string; paramTypes: number }
  | { type: 'Bind'; portal: string; statement: string; params: Array<Buffer | null>; binaryParams: boolean[] }
  | { type: 'Execute'; portal: string; maxRows: number }
  | { type: 'Describe' | 'Close'; what: 'S' | 'P'; name: string }
  | { type: 'CopyFail'; message: string }
  | { type: 'Other'; name: string; size: number };

/** Decodes one whole client message. Throws RangeError on a malformed one. */
export function decodeClient(message: Buffer, type: string): PgClientFields {
  switch (type) {
    case 'StartupMessage':
      return { type, params: startupParams(message) };
    case 'SSLRequest':
    case 'GSSENCRequest':
    case 'CancelRequest':
      return { type };
    case 'Query':
      return { type, sql: new FieldReader(message, 5).cstring() };
    case 'Parse': {
      const r = new FieldReader(message, 5);
      return { type, statement: r.cstring(), sql: r.cstring(), paramTypes: r.i16be() };
    }
    case 'Bind':
      return bind(message);
    case 'Execute': {
      const r = new FieldReader(message, 5);
      return { type, portal: r.cstring(), maxRows: r.i32be() };
    }
    case 'Describe':
    case 'Close': {
      const r = new FieldReader(message, 5);
      return { type, what: String.fromCharCode(r.u8()) === 'S' ? 'S' : 'P', name: r.cstring() };
    }
    case 'CopyFail':
      return { type, message: new FieldReader(message, 5).cstring() };
    default:
      return { type: 'Other', name: type, size: message.length };
  }
}

/** The name/value pairs of a StartupMessage (protocol version skipped). */
export function startupParams(message: Buffer): Array<[string, string]> {
  const r = new FieldReader(message, 8);
  const params: Array<[string, string]> = [];
  while (r.left > 1) {
    const name = r.cstring();
    if (name === '') break;
    params.push([name, r.cstring()]);
  }
  return params;
}

function bind(message: Buffer): PgClientFields {
  const r = new FieldReader(message, 5);
  const portal = r.cstring();
  const statement = r.cstring();
  const formats: number[] = [];
  for (let i = r.i16be(); i > 0; i--) formats.push(r.i16be());
  const params: Array<Buffer | null> = [];
  const binaryParams: boolean[] = [];
  const n = r.i16be();
  for (let i = 0; i < n; i++) {
    const len = r.i32be();
    params.push(len < 0 ? null : r.bytes(len));
    binaryParams.push((formats.length === 1 ? formats[0] : formats[i]) === 1);
  }
  return { type: 'Bind', portal, statement, params, binaryParams };
}
