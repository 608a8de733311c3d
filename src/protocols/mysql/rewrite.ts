import type { Conversation } from '../conversation.js';
import type { RequestRewriter, WireMessage } from '../types.js';
import { payloadOf } from './packets.js';

const BY_STATEMENT = new Set(['COM_STMT_EXECUTE', 'COM_STMT_CLOSE', 'COM_STMT_RESET', 'COM_STMT_SEND_LONG_DATA', 'COM_STMT_FETCH', 'COM_STMT_BULK_EXECUTE']);

/**
 * Maps prepared-statement ids: the k-th statement zone B prepares takes the place of the k-th the
 * recording prepared (MariaDB numbers statements server-wide, so the ids differ between zones).
 */
export class MysqlRewriter implements RequestRewriter {
  readonly #recorded: number[] = [];
  readonly #replayed: number[] = [];

  constructor(recorded: Conversation) {
    for (const e of recorded.exchanges) for (const m of e.answer) if (m.type === 'StmtPrepareOK') this.#recorded.push(payloadOf(m.data).readUInt32LE(1));
  }

  request(m: WireMessage): Buffer {
    if (!BY_STATEMENT.has(m.type) || m.data.length < 9) return m.data;
    const id = m.data.readUInt32LE(5);
    const k = this.#recorded.lastIndexOf(id);
    const mapped = k < 0 ? undefined : this.#replayed[k];
    if (mapped === undefined || mapped === id) return m.data;
    const out = Buffer.from(m.data);
    out.writeUInt32LE(mapped, 5);
    return out;
  }

  answer(m: WireMessage): void {
    if (m.type === 'StmtPrepareOK') this.#replayed.push(payloadOf(m.data).readUInt32LE(1));
  }
}
