import { SUMMARY_TEXT, quoted, showBytes, showText } from '../text.js';
import type { WireMessage } from '../types.js';
import { decodeColumn, decodeErr, decodeGreeting, decodeHandshakeResponse, decodeOk, decodePrepareOk, decodeTextRow } from './decode.js';
import { PacketReader, payloadOf } from './packets.js';

const SHOWN_VALUES = 8;

/** One line for a MySQL/MariaDB message. Authentication data is never shown. */
export function describeMysql(m: WireMessage, full = false): string {
  try {
    return m.dir === 'c2s' ? client(m.type, payloadOf(m.data), full ? Infinity : SUMMARY_TEXT) : server(m.type, payloadOf(m.data));
  } catch {
    return `${m.type} (malformed, ${m.data.length} B)`;
  }
}

function client(type: string, p: Buffer, max: number): string {
  switch (type) {
    case 'HandshakeResponse': {
      const h = decodeHandshakeResponse(p);
      return `HandshakeResponse user=${h.user}${h.database !== null ? ` database=${h.database}` : ''}${h.plugin !== null ? ` ${h.plugin}` : ''}`;
    }
    case 'AuthData':
      return 'AuthData (authentication data)';
    case 'COM_QUERY':
    case 'COM_STMT_PREPARE':
      return `${type} ${quoted(p.toString('utf8', 1), max)}`;
    case 'COM_INIT_DB':
      return `${type} ${showText(p.toString('utf8', 1))}`;
    case 'COM_STMT_EXECUTE':
    case 'COM_STMT_CLOSE':
    case 'COM_STMT_RESET':
    case 'COM_STMT_FETCH':
    case 'COM_STMT_SEND_LONG_DATA':
      return p.length >= 5 ? `${type} statement ${p.readUInt32LE(1)}` : type;
    case 'LocalInfileData':
      return `LocalInfileData (${p.length} B)`;
    default:
      return type;
  }
}

function server(type: string, p: Buffer): string {
  switch (type) {
    case 'Greeting': {
      const g = decodeGreeting(p);
      return `Greeting ${g.version} ${g.plugin}`;
    }
    case 'OK': {
      const ok = decodeOk(p);
      return `OK ${ok.affectedRows} rows${ok.insertId !== 0 ? ` insert id ${ok.insertId}` : ''}${ok.info !== '' ? ` ${quoted(ok.info)}` : ''}`;
    }
    case 'ERR': {
      const e = decodeErr(p);
      return `ERR ${e.code}${e.state !== '' ? ` (${e.state})` : ''} ${quoted(e.message)}`;
    }
    case 'ColumnCount':
      return `ColumnCount ${new PacketReader(p).lenenc() ?? 0}`;
    case 'ColumnDefinition':
    case 'ParamDefinition': {
      const c = decodeColumn(p);
      return `${type} ${c.name !== '' ? c.name : '?'} (type ${c.type})`;
    }
    case 'Row': {
      const values = decodeTextRow(p);
      const shown = values.slice(0, SHOWN_VALUES).map((v) => showBytes(v, 30));
      return `Row [${shown.join(', ')}${values.length > SHOWN_VALUES ? ', …' : ''}]`;
    }
    case 'BinaryRow':
      return `BinaryRow (${p.length} B)`;
    case 'StmtPrepareOK': {
      const ok = decodePrepareOk(p);
      return `StmtPrepareOK statement ${ok.statementId} (${ok.params} parameters, ${ok.columns} columns)`;
    }
    case 'AuthSwitchRequest':
      return `AuthSwitchRequest ${new PacketReader(p, 1).cstring()}`;
    case 'Statistics':
      return `Statistics ${quoted(p.toString('utf8'))}`;
    default:
      return type;
  }
}
