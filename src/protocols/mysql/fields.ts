import type { DefaultIgnores, FieldReaderOf, MessageFields, WireMessage } from '../types.js';
import { decodeBinaryRow, decodeColumn, decodeErr, decodeOk, decodePrepareOk, decodeTextRow, type ColumnDef } from './decode.js';
import { PacketReader, SERVER_QUERY_NO_GOOD_INDEX_USED, SERVER_QUERY_NO_INDEX_USED, payloadOf } from './packets.js';

/** Status flags that follow the planner or the session tracker, not the data. */
const VOLATILE_STATUS = SERVER_QUERY_NO_GOOD_INDEX_USED | SERVER_QUERY_NO_INDEX_USED | 0x0400 | 0x0800 | 0x4000;

/**
 * The parts of MySQL/MariaDB server packets that are compared. Binary-protocol rows are read with
 * their result set's column definitions (or, when MariaDB leaves them out because the client has
 * them cached, those of the prepared statement). Statement ids are not compared: MariaDB numbers
 * them server-wide, so zone B's differ; replay maps them.
 */
export class MysqlFields implements FieldReaderOf {
  #columns: ColumnDef[] = [];
  #expected = 0;
  readonly #statements = new Map<number, ColumnDef[]>();
  #executing: number | null = null;
  /** Filling a prepared statement's definitions: parameters to skip, then columns to keep. */
  #prepare: { id: number; params: number; columns: ColumnDef[]; expected: number } | null = null;

  request(m: WireMessage): void {
    if (m.type === 'COM_STMT_EXECUTE' || m.type === 'COM_STMT_FETCH') {
      const p = payloadOf(m.data);
      this.#executing = p.length >= 5 ? p.readUInt32LE(1) : null;
    } else if (m.type.startsWith('COM_')) this.#executing = null;
  }

  fields(m: WireMessage): MessageFields {
    const p = payloadOf(m.data);
    switch (m.type) {
      case 'OK': {
        const ok = decodeOk(p);
        return [
          ['affected_rows', String(ok.affectedRows)],
          ['insert_id', String(ok.insertId)],
          ['status', `0x${(ok.status & ~VOLATILE_STATUS).toString(16)}`],
          ['warnings', String(ok.warnings)],
          ['info', ok.info],
        ];
      }
      case 'ERR': {
        const e = decodeErr(p);
        return [
          ['code', String(e.code)],
          ['state', e.state],
          ['message', e.message],
        ];
      }
      case 'EOF':
        return [
          ['warnings', String(p.length >= 3 ? p.readUInt16LE(1) : 0)],
          ['status', `0x${((p.length >= 5 ? p.readUInt16LE(3) : 0) & ~VOLATILE_STATUS).toString(16)}`],
        ];
      case 'ColumnCount': {
        this.#expected = new PacketReader(p).lenenc() ?? 0;
        this.#columns = [];
        return [['', String(this.#expected)]];
      }
      case 'ColumnDefinition':
      case 'ParamDefinition':
        return this.#definition(m.type, decodeColumn(p));
      case 'StmtPrepareOK': {
        const ok = decodePrepareOk(p);
        this.#prepare = { id: ok.statementId, params: ok.params, columns: [], expected: ok.columns };
        if (ok.columns === 0) this.#statements.set(ok.statementId, []);
        return [
          ['columns', String(ok.columns)],
          ['params', String(ok.params)],
          ['warnings', String(ok.warnings)],
        ];
      }
      case 'Row':
        return decodeTextRow(p).map((v, i) => [`col ${i}`, v]);
      case 'BinaryRow':
        return this.#binaryRow(p);
      default:
        return [['', p]];
    }
  }

  #definition(type: string, c: ColumnDef): MessageFields {
    if (type === 'ColumnDefinition') {
      if (this.#prepare !== null && this.#prepare.params === 0) {
        this.#prepare.columns.push(c);
        if (this.#prepare.columns.length >= this.#prepare.expected) {
          this.#statements.set(this.#prepare.id, this.#prepare.columns);
          this.#prepare = null;
        }
      } else {
        this.#columns.push(c);
        if (this.#executing !== null && this.#columns.length === this.#expected) this.#statements.set(this.#executing, this.#columns);
      }
    } else if (this.#prepare !== null && this.#prepare.params > 0) {
      this.#prepare.params--;
    }
    return [
      ['name', c.name],
      ['table', c.table],
      ['org_table', c.orgTable],
      ['org_name', c.orgName],
      ['type', String(c.type)],
      ['flags', String(c.flags)],
      ['decimals', String(c.decimals)],
    ];
  }

  #binaryRow(p: Buffer): MessageFields {
    const columns = this.#columns.length > 0 ? this.#columns : this.#executing !== null ? this.#statements.get(this.#executing) : undefined;
    if (columns === undefined || columns.length === 0) return [['', p]];
    return decodeBinaryRow(p, columns).map((v, i) => [`col ${i}`, v]);
  }
}

/** Answers that carry the connection's id, which is zone B's own. */
export const MYSQL_DEFAULTS: DefaultIgnores = {
  messages: ['Statistics'],
  requests: ['CONNECTION_ID\\(\\)'],
};
