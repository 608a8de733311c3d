/**
 * @module WebSocket messages between records and HAR, in the shape Chrome DevTools writes on a
 * WebSocket entry: `_webSocketMessages: [{type: "send" | "receive", time, opcode, data}]`, `time`
 * in epoch seconds, text frames (opcode 1) as text, every other payload as base64. QProxy adds
 * what a re-import needs to restore the record exactly: `_t_us` (the exact offset), `_size` and
 * `_truncated` on a cut message, `_encoding: "base64"` on a text frame cut inside a character;
 * `_qproxy.websocket` holds the connection's own marks. Chrome's own HARs import with none of them.
 */
import { isUtf8 } from 'node:buffer';
import type { HttpRecord, WebSocketCapture, WsMessage, WsOpcode } from '../recording/model.js';
import { decodeBase64 } from './har-body.js';
import { harInvalid } from './har-error.js';

export interface HarWebSocketMessage {
  type: 'send' | 'receive';
  /** Epoch seconds (fractional). */
  time: number;
  opcode: number;
  data: string;
  _t_us?: number;
  _size?: number;
  _truncated?: boolean;
  _encoding?: 'base64';
}

const CODES: Readonly<Record<WsOpcode, number>> = { text: 1, binary: 2, close: 8, ping: 9, pong: 10 };
const NAMES: Readonly<Partial<Record<number, WsOpcode>>> = { 1: 'text', 2: 'binary', 8: 'close', 9: 'ping', 10: 'pong' };

/** Epoch ms of the switch: the message offsets count from it. */
function switchedAt(r: Pick<HttpRecord, 'started_at' | 'timings'>): number {
  return r.started_at + (r.timings.response_start ?? 0);
}

export function messagesToHar(r: HttpRecord, ws: WebSocketCapture): HarWebSocketMessage[] {
  const base = switchedAt(r);
  return ws.messages.map((m) => {
    const text = m.opcode === 'text' && isUtf8(m.data);
    return {
      type: m.dir === 'c2s' ? 'send' : 'receive',
      time: (base + m.t_us / 1000) / 1000,
      opcode: CODES[m.opcode],
      data: text ? m.data.toString('utf8') : m.data.toString('base64'),
      _t_us: m.t_us,
      ...(m.truncated && { _size: m.size, _truncated: true }),
      ...(m.opcode === 'text' && !text && { _encoding: 'base64' as const }),
    };
  });
}

/** The marks `_qproxy.websocket` keeps. */
export type HarWebSocketMarks = Omit<WebSocketCapture, 'messages'>;

/** A record's messages from `_webSocketMessages`; throws HarError naming the message's path. */
export function messagesFromHar(
  list: ReadonlyArray<{ type: string; time: number; opcode: number; data: string; _t_us?: number | null; _size?: number | null; _truncated?: boolean | null; _encoding?: string | null }>,
  r: Pick<HttpRecord, 'started_at' | 'timings'>,
  marks: HarWebSocketMarks | undefined,
  at: readonly PropertyKey[],
): WebSocketCapture {
  const base = switchedAt(r);
  const messages = list.map((h, i): WsMessage => {
    const path = [...at, '_webSocketMessages', i];
    const opcode = NAMES[h.opcode];
    if (opcode === undefined) throw harInvalid([...path, 'opcode'], `expected a WebSocket opcode 1, 2, 8, 9 or 10, got ${h.opcode}`);
    if (h.type !== 'send' && h.type !== 'receive') throw harInvalid([...path, 'type'], `expected "send" or "receive", got ${JSON.stringify(h.type.slice(0, 32))}`);
    const data = opcode === 'text' && h._encoding !== 'base64' ? Buffer.from(h.data, 'utf8') : decodeBase64(h.data, [...path, 'data']);
    const truncated = h._truncated === true && typeof h._size === 'number' && h._size > data.length;
    const m: WsMessage = {
      dir: h.type === 'send' ? 'c2s' : 's2c',
      t_us: typeof h._t_us === 'number' ? h._t_us : Math.max(0, Math.round((h.time * 1000 - base) * 1000)),
      opcode,
      data,
      size: truncated ? h._size! : data.length,
      truncated,
    };
    if (opcode === 'close' && data.length >= 2) {
      m.close_code = data.readUInt16BE(0);
      if (data.length > 2) m.close_reason = data.toString('utf8', 2);
    }
    return m;
  });
  return { deflate: marks?.deflate ?? false, messages, dropped: marks?.dropped ?? 0, stopped: marks?.stopped ?? null };
}
