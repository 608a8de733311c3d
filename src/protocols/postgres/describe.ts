import { SUMMARY_TEXT, oneLine, quoted, showBytes, showText } from '../text.js';
import type { WireMessage } from '../types.js';
import { authName, decodeClient, decodeServer } from './decode.js';

/** Values shown of one DataRow or Bind. */
const SHOWN_VALUES = 8;

function values(list: ReadonlyArray<Buffer | null>): string {
  const shown = list.slice(0, SHOWN_VALUES).map((v) => showBytes(v, 30));
  return `[${shown.join(', ')}${list.length > SHOWN_VALUES ? `, … ${list.length - SHOWN_VALUES} more` : ''}]`;
}

/** One line for a PostgreSQL message. Passwords and SASL proofs are never shown. */
export function describePostgres(m: WireMessage, full = false): string {
  try {
    return m.dir === 'c2s' ? client(m, full ? Infinity : SUMMARY_TEXT) : server(m);
  } catch {
    return `${m.type} (malformed, ${m.data.length} B)`;
  }
}

function client(m: WireMessage, max: number): string {
  const f = decodeClient(m.data, m.type);
  switch (f.type) {
    case 'StartupMessage': {
      const p = new Map(f.params);
      const who = ['user', 'database', 'application_name'].filter((k) => p.has(k)).map((k) => `${k}=${p.get(k)!}`);
      return `StartupMessage ${who.join(' ')}`.trimEnd();
    }
    case 'Query':
      return `Query ${quoted(f.sql, max)}`;
    case 'Parse':
      return `Parse${f.statement !== '' ? ` ${f.statement}` : ''} ${quoted(f.sql, max)}`;
    case 'Bind':
      return `Bind${f.statement !== '' ? ` ${f.statement}` : ''} ${values(f.params)}`;
    case 'Execute':
      return `Execute${f.portal !== '' ? ` ${f.portal}` : ''}${f.maxRows > 0 ? ` max ${f.maxRows} rows` : ''}`;
    case 'Describe':
    case 'Close':
      return `${f.type} ${f.what === 'S' ? 'statement' : 'portal'}${f.name !== '' ? ` ${f.name}` : ''}`;
    case 'CopyFail':
      return `CopyFail ${quoted(f.message)}`;
    case 'Other':
      if (f.name === 'PasswordMessage') return 'PasswordMessage (authentication data)';
      return f.name === 'CopyData' ? `CopyData (${f.size - 5} B)` : f.name;
    default:
      return f.type;
  }
}

function server(m: WireMessage): string {
  if (m.type === 'SSLResponse' || m.type === 'GSSENCResponse') return `${m.type} '${String.fromCharCode(m.data[0]!)}'`;
  if (m.type === 'Authentication') return authName(m.data);
  const f = decodeServer(m.data, m.type);
  switch (f.type) {
    case 'DataRow':
      return `DataRow ${values(f.values)}`;
    case 'RowDescription':
      return `RowDescription [${f.columns.map((c) => c.name).join(', ')}]`;
    case 'CommandComplete':
      return `CommandComplete ${oneLine(f.tag)}`;
    case 'ErrorResponse':
    case 'NoticeResponse':
      return `${f.type} ${f.severity} ${f.code} ${quoted(f.message)}`;
    case 'ParameterStatus':
      return `ParameterStatus ${f.name}=${showText(f.value)}`;
    case 'ReadyForQuery':
      return `ReadyForQuery ${f.status}`;
    case 'NotificationResponse':
      return `NotificationResponse ${f.channel} ${quoted(f.payload)}`;
    case 'CopyInResponse':
    case 'CopyOutResponse':
      return `${f.type} (${f.columns} columns${f.binary ? ', binary' : ''})`;
    case 'CopyData':
      return `CopyData (${f.data.length} B)`;
    case 'ParameterDescription':
      return `ParameterDescription (${f.oids.length} parameters)`;
    case 'BackendKeyData':
      return 'BackendKeyData';
    case 'Other':
      return f.name;
    default:
      return oneLine(m.type);
  }
}
