import type { DefaultIgnores, FieldReaderOf, MessageFields, WireMessage } from '../types.js';
import { decodeServer } from './decode.js';

/** Type OIDs from here up belong to user-defined types: they differ between clusters. */
const FIRST_NORMAL_OID = 16384;

/**
 * The parts of PostgreSQL server messages that are compared. Left out as a matter of course:
 * source locations in errors and notices (file, line, routine: server builds differ), table OIDs
 * and column numbers in RowDescription, and the OIDs of user-defined types (they differ between
 * clusters restored from the same dump).
 */
export class PostgresFields implements FieldReaderOf {
  request(): void {}

  fields(m: WireMessage): MessageFields {
    const f = decodeServer(m.data, m.type);
    switch (f.type) {
      case 'DataRow':
        return f.values.map((v, i) => [`col ${i}`, v]);
      case 'RowDescription':
        return f.columns.flatMap((c, i): MessageFields => [
          [`col ${i} name`, c.name],
          [`col ${i} type`, c.typeOid < FIRST_NORMAL_OID ? String(c.typeOid) : 'user-defined'],
          [`col ${i} typmod`, String(c.typeMod)],
          [`col ${i} format`, c.format],
        ]);
      case 'CommandComplete':
        return [['', f.tag]];
      case 'ErrorResponse':
      case 'NoticeResponse':
        return [
          ['severity', f.severity],
          ['code', f.code],
          ['message', f.message],
          ['detail', f.detail],
        ];
      case 'ParameterStatus':
        return [[f.name, f.value]];
      case 'BackendKeyData':
        return [
          ['pid', String(f.pid)],
          ['key', String(f.key)],
        ];
      case 'ReadyForQuery':
        return [['status', f.status]];
      case 'NotificationResponse':
        return [
          ['pid', String(f.pid)],
          ['channel', f.channel],
          ['payload', f.payload],
        ];
      case 'CopyInResponse':
      case 'CopyOutResponse':
        return [
          ['format', f.binary ? 'binary' : 'text'],
          ['columns', String(f.columns)],
        ];
      case 'ParameterDescription':
        return [['types', f.oids.map((o) => (o < FIRST_NORMAL_OID ? String(o) : 'user-defined')).join(',')]];
      case 'CopyData':
        return [['', f.data]];
      case 'Authentication':
        return [['', f.name]];
      case 'Other':
        return [['', f.payload]];
    }
  }
}

/** What changes from one server or connection to the next without saying anything about the data. */
export const POSTGRES_DEFAULTS: DefaultIgnores = {
  messages: [
    'BackendKeyData',
    'ParameterStatus:server_version',
    'ParameterStatus:TimeZone',
    'ParameterStatus:session_authorization',
    'ParameterStatus:is_superuser',
    'ParameterStatus:in_hot_standby',
    'NotificationResponse:pid',
  ],
  requests: [],
};
