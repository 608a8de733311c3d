import { isUtf8 } from 'node:buffer';
import { SUMMARY_TEXT, oneLine, showBytes } from '../text.js';
import type { WireMessage } from '../types.js';
import { commandArgs, decodeResp, type RespValue } from './resp.js';

/** Items shown of one aggregate reply, and how deep nested aggregates are opened. */
const SHOWN_ITEMS = 5;
const MAX_DEPTH = 1;
/** Longest reply summary. */
const REPLY_TEXT = 160;

/** The command's words with credentials hidden (AUTH, HELLO … AUTH, MIGRATE … AUTH). */
export function commandWords(message: Buffer, max = 40): string[] {
  const args = commandArgs(message).map((a) => showBytes(a, max));
  // Command names are case-insensitive: shown (and matched by ignore rules) upper-cased.
  if (args[0] !== undefined) args[0] = args[0].toUpperCase();
  const name = args[0] ?? '';
  if (name === 'AUTH') return [args[0]!, ...args.slice(1).map(() => '***')];
  const words = [...args];
  for (let i = 1; i < words.length; i++) {
    const w = words[i]!.toUpperCase();
    if (w === 'AUTH' && (name === 'HELLO' || name === 'MIGRATE')) words.splice(i + 1, name === 'HELLO' ? 2 : 1, ...(name === 'HELLO' ? ['***', '***'] : ['***']));
    if (w === 'AUTH2' && name === 'MIGRATE') words.splice(i + 1, 2, '***', '***');
  }
  return words;
}

/** One line for a Redis message: `SET k v` for a command, redis-cli style for a reply. */
export function describeRedis(m: WireMessage, full = false): string {
  try {
    if (m.dir === 'c2s') {
      const line = commandWords(m.data, full ? Infinity : 40).join(' ');
      return line.length > SUMMARY_TEXT && !full ? `${line.slice(0, SUMMARY_TEXT - 1)}…` : line;
    }
    const text = showValue(decodeResp(m.data), true);
    return full || text.length <= REPLY_TEXT ? text : `${text.slice(0, REPLY_TEXT - 1)}…`;
  } catch {
    return `${m.type} (malformed, ${m.data.length} B)`;
  }
}

/** A reply redis-cli style: `OK`, `(integer) 3`, `"v1"`, `(nil)`, `(error) ERR …`, `(array 3) [...]`. */
export function showValue(v: RespValue, top = false, depth = 0): string {
  switch (v.t) {
    case 'simple':
      return v.s;
    case 'error':
      return `(error) ${v.s}`;
    case 'int':
      return top ? `(integer) ${v.s}` : v.s;
    case 'double':
      return top ? `(double) ${v.s}` : v.s;
    case 'bool':
      return v.v ? '(true)' : '(false)';
    case 'null':
      return '(nil)';
    case 'bulk':
      return isUtf8(v.b) ? JSON.stringify(oneLine(v.b.toString('utf8'), 40)) : showBytes(v.b, 40);
    case 'array': {
      const label = v.kind === '*' ? 'array' : v.kind === '~' ? 'set' : 'push';
      if (depth >= MAX_DEPTH) return `(${label} ${v.items.length})`;
      const shown = v.items.slice(0, SHOWN_ITEMS).map((i) => showValue(i, false, depth + 1));
      return `(${label} ${v.items.length}) [${shown.join(', ')}${v.items.length > SHOWN_ITEMS ? ', …' : ''}]`;
    }
    case 'map': {
      if (depth >= MAX_DEPTH) return `(map ${v.entries.length})`;
      const shown = v.entries.slice(0, SHOWN_ITEMS).map(([k, x]) => `${showValue(k, false, depth + 1)}: ${showValue(x, false, depth + 1)}`);
      const map = `(map ${v.entries.length}) {${shown.join(', ')}${v.entries.length > SHOWN_ITEMS ? ', …' : ''}}`;
      return v.value === undefined ? map : `${showValue(v.value, top, depth)} (attributes ${map})`;
    }
  }
}
