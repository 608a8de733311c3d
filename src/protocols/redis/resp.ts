/**
 * RESP2 and RESP3 values (the Redis serialization protocol): where one ends, and what it holds.
 * Clients send commands as arrays of bulk strings, or as inline lines (`PING\r\n`).
 */

/** A decoded reply, as compared and shown. */
export type RespValue =
  | { t: 'simple'; s: string }
  | { t: 'error'; s: string }
  | { t: 'int'; s: string }
  | { t: 'double'; s: string }
  | { t: 'bool'; v: boolean }
  | { t: 'null' }
  | { t: 'bulk'; b: Buffer }
  | { t: 'array'; kind: '*' | '~' | '>'; items: RespValue[] }
  | { t: 'map'; kind: '%' | '|'; entries: Array<[RespValue, RespValue]>; value?: RespValue };

/** Where the bytes stop being RESP. */
export class RespError extends Error {}

/** Longest header line (type, length, simple string) read before calling the bytes broken. */
export const MAX_LINE = 64 * 1024;
/** Largest bulk string Redis accepts (proto-max-bulk-len default). */
const MAX_BULK = 512 * 1024 * 1024;
const CRLF = Buffer.from('\r\n');

/** End offset of the value at `start`, or `{need}` bytes (from 0) before it can be known. Throws RespError. */
export function respEnd(buf: Buffer, start: number, commandOnly: boolean): number | { need: number } {
  let pos = start;
  let pending = 1;
  let first = true;
  while (pending > 0) {
    if (pos >= buf.length) return { need: pos + 1 };
    const t = buf[pos]!;
    const eol = buf.indexOf(CRLF, pos);
    if (eol < 0) {
      if (buf.length - pos > MAX_LINE) throw new RespError(`a header line longer than ${MAX_LINE} bytes`);
      return { need: buf.length + 1 };
    }
    const head = buf.toString('latin1', pos + 1, eol);
    pos = eol + 2;
    pending--;
    if (commandOnly && t !== (first ? 0x2a : 0x24)) {
      throw new RespError(`a command holds a ${JSON.stringify(String.fromCharCode(t))} value where a ${first ? 'RESP array' : 'bulk string'} belongs`);
    }
    first = false;
    switch (t) {
      case 0x2b: // + simple string
      case 0x2d: // - error
      case 0x2c: // , double
      case 0x28: // ( big number
        break;
      case 0x3a: // : integer
        integer(head, ':');
        break;
      case 0x23: // # boolean
        if (head !== 't' && head !== 'f') throw new RespError(`boolean "${head}"`);
        break;
      case 0x5f: // _ null
        if (head !== '') throw new RespError('null with a value');
        break;
      case 0x24: // $ bulk string
      case 0x21: // ! bulk error
      case 0x3d: {
        // = verbatim string
        const n = integer(head, String.fromCharCode(t));
        if (n === -1 && t === 0x24) break;
        if (n < 0 || n > MAX_BULK) throw new RespError(`bulk length ${n}`);
        if (buf.length < pos + n + 2) return { need: pos + n + 2 };
        if (buf[pos + n] !== 0x0d || buf[pos + n + 1] !== 0x0a) throw new RespError('bulk string not followed by CRLF');
        pos += n + 2;
        break;
      }
      case 0x2a: // * array
      case 0x7e: // ~ set
      case 0x3e: {
        // > push
        const n = integer(head, String.fromCharCode(t));
        if (n === -1 && t === 0x2a) break;
        if (n < 0) throw new RespError(`aggregate length ${n}`);
        pending += n;
        break;
      }
      case 0x25: // % map
        pending += 2 * nonNegative(head, '%');
        break;
      case 0x7c: // | attribute: its pairs, then the value it describes
        pending += 2 * nonNegative(head, '|') + 1;
        break;
      default:
        throw new RespError(`not a RESP type: 0x${t.toString(16).padStart(2, '0')}`);
    }
  }
  return pos;
}

function integer(head: string, type: string): number {
  if (!/^-?\d{1,18}$/.test(head)) throw new RespError(`"${type}" with a bad number "${head.slice(0, 20)}"`);
  return Number(head);
}

function nonNegative(head: string, type: string): number {
  const n = integer(head, type);
  if (n < 0) throw new RespError(`"${type}" of length ${n}`);
  return n;
}

/** Decodes the whole value in `buf` (a complete message). */
export function decodeResp(buf: Buffer): RespValue {
  const at = { pos: 0 };
  return value(buf, at);
}

function line(buf: Buffer, at: { pos: number }): string {
  const eol = buf.indexOf(CRLF, at.pos);
  const s = buf.toString('utf8', at.pos + 1, eol);
  at.pos = eol + 2;
  return s;
}

function value(buf: Buffer, at: { pos: number }): RespValue {
  const t = buf[at.pos]!;
  const head = line(buf, at);
  switch (t) {
    case 0x2b:
      return { t: 'simple', s: head };
    case 0x2d:
      return { t: 'error', s: head };
    case 0x3a:
    case 0x28:
      return { t: 'int', s: head };
    case 0x2c:
      return { t: 'double', s: head };
    case 0x23:
      return { t: 'bool', v: head === 't' };
    case 0x5f:
      return { t: 'null' };
    case 0x24:
    case 0x21:
    case 0x3d: {
      const n = Number(head);
      if (n < 0) return { t: 'null' };
      const b = buf.subarray(at.pos, at.pos + n);
      at.pos += n + 2;
      if (t === 0x21) return { t: 'error', s: b.toString('utf8') };
      // A verbatim string starts with its format ("txt:").
      return { t: 'bulk', b: t === 0x3d ? b.subarray(4) : b };
    }
    case 0x2a:
    case 0x7e:
    case 0x3e: {
      const n = Number(head);
      if (n < 0) return { t: 'null' };
      const items: RespValue[] = [];
      for (let i = 0; i < n; i++) items.push(value(buf, at));
      return { t: 'array', kind: t === 0x2a ? '*' : t === 0x7e ? '~' : '>', items };
    }
    default: {
      const n = Number(head);
      const entries: Array<[RespValue, RespValue]> = [];
      for (let i = 0; i < n; i++) entries.push([value(buf, at), value(buf, at)]);
      if (t === 0x25) return { t: 'map', kind: '%', entries };
      return { t: 'map', kind: '|', entries, value: value(buf, at) };
    }
  }
}

/** The arguments of a client command: a RESP array of bulk strings, or an inline line. */
export function commandArgs(message: Buffer): Buffer[] {
  if (message[0] === 0x2a) {
    const v = decodeResp(message);
    return v.t === 'array' ? v.items.map((i) => (i.t === 'bulk' ? i.b : Buffer.alloc(0))) : [];
  }
  return inlineArgs(message.toString('utf8').replace(/\r?\n$/, ''));
}

/** Splits an inline command like redis-cli and the server do: spaces separate, quotes group. */
function inlineArgs(text: string): Buffer[] {
  const out: Buffer[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|'([^']*)'|(\S+)/g;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    const s = m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : (m[2] ?? m[3] ?? '');
    out.push(Buffer.from(s, 'utf8'));
  }
  return out;
}

/** The command's name, upper-cased ("SET"), or "" for an empty line. */
export function commandName(message: Buffer): string {
  const args = commandArgs(message);
  return args.length > 0 ? args[0]!.toString('latin1').toUpperCase() : '';
}
