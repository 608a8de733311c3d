import type { DefaultIgnores, FieldReaderOf, MessageFields, WireMessage } from '../types.js';
import { showValue } from './describe.js';
import { decodeResp, type RespValue } from './resp.js';

/** Nesting kept when flattening a reply; deeper values are compared as their text. */
const MAX_DEPTH = 4;

/** A Redis reply as labelled parts: `""` for a scalar, `[2]`, `[2][0]`, `{field}` inside aggregates. */
export class RedisFields implements FieldReaderOf {
  request(): void {}

  fields(m: WireMessage): MessageFields {
    const out: MessageFields = [];
    flatten(decodeResp(m.data), '', out, 0);
    return out;
  }
}

function flatten(v: RespValue, label: string, out: MessageFields, depth: number): void {
  if (v.t === 'bulk') {
    out.push([label, v.b]);
    return;
  }
  if (depth >= MAX_DEPTH || (v.t !== 'array' && v.t !== 'map')) {
    out.push([label, showValue(v, true)]);
    return;
  }
  if (v.t === 'array') {
    out.push([`${label} length`.trimStart(), String(v.items.length)]);
    // RESP3 sets are unordered: compared sorted. Arrays and pushes keep their order.
    const items = v.kind === '~' ? [...v.items].sort((a, b) => compareText(full(a), full(b))) : v.items;
    items.forEach((item, i) => flatten(item, `${label}[${i}]`, out, depth + 1));
    return;
  }
  out.push([`${label} size`.trimStart(), String(v.entries.length)]);
  // RESP3 maps are unordered (the server's hash order differs between instances): by key.
  const entries = [...v.entries].sort((a, b) => compareText(full(a[0]), full(b[0])));
  for (const [k, x] of entries) flatten(x, `${label}{${showValue(k)}}`, out, depth + 1);
  if (v.value !== undefined) flatten(v.value, label, out, depth + 1);
}

/** A value's whole text, for ordering. */
function full(v: RespValue): string {
  return v.t === 'bulk' ? v.b.toString('latin1') : JSON.stringify(v, (_k, x: unknown) => (Buffer.isBuffer(x) ? x.toString('latin1') : x));
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Replies that change by themselves: server state and clocks (INFO, TIME, LASTSAVE), connection
 * ids (CLIENT ID/INFO/LIST, HELLO), and stream ids the server makes from its clock (XADD … *).
 */
export const REDIS_DEFAULTS: DefaultIgnores = {
  messages: [],
  requests: ['^(?:INFO|TIME|LASTSAVE|HELLO)\\b', '^CLIENT (?:ID|INFO|LIST)\\b', '^XADD\\b.* \\*(?: |$)'],
};
