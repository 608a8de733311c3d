/** How values and statements are shown in summaries and diffs: one line, bounded, readable. */
import { isUtf8 } from 'node:buffer';

/** Longest statement text kept in a summary. */
export const SUMMARY_TEXT = 80;
/** Longest value kept in a diff line. */
export const VALUE_TEXT = 60;

/** Collapses white space and cuts to `max` characters with an ellipsis. */
export function oneLine(text: string, max = SUMMARY_TEXT): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length <= max ? flat : `${flat.slice(0, max - 1)}…`;
}

/** A statement as a quoted one-liner: `"SELECT abalance FROM …"`. */
export function quoted(text: string, max = SUMMARY_TEXT): string {
  return JSON.stringify(oneLine(text, max));
}

/** Bytes as text when they are UTF-8 (JSON-quoted when they need it), else as hex. */
export function showBytes(data: Buffer | null, max = VALUE_TEXT): string {
  if (data === null) return 'NULL';
  if (isUtf8(data)) return showText(data.toString('utf8'), max);
  const hex = data.subarray(0, Math.ceil(max / 2)).toString('hex');
  return `0x${hex}${data.length * 2 > hex.length ? '…' : ''} (${data.length} B)`;
}

/** Text plain when it is a simple token, JSON-quoted when it has spaces or control characters. */
export function showText(text: string, max = VALUE_TEXT): string {
  const cut = text.length > max ? `${text.slice(0, max - 1)}…` : text;
  return /^[\w.:@/+-]+$/.test(cut) ? cut : JSON.stringify(cut);
}

/** Reads the fields of one message; every read checks bounds and throws RangeError past the end. */
export class FieldReader {
  pos: number;

  constructor(
    readonly buf: Buffer,
    start = 0,
  ) {
    this.pos = start;
  }

  get left(): number {
    return this.buf.length - this.pos;
  }

  #need(n: number): void {
    if (n < 0 || this.pos + n > this.buf.length) throw new RangeError(`message ends early (wanted ${n} bytes at ${this.pos} of ${this.buf.length})`);
  }

  u8(): number {
    this.#need(1);
    return this.buf[this.pos++]!;
  }

  i16be(): number {
    this.#need(2);
    const v = this.buf.readInt16BE(this.pos);
    this.pos += 2;
    return v;
  }

  i32be(): number {
    this.#need(4);
    const v = this.buf.readInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  u16le(): number {
    this.#need(2);
    const v = this.buf.readUInt16LE(this.pos);
    this.pos += 2;
    return v;
  }

  u32le(): number {
    this.#need(4);
    const v = this.buf.readUInt32LE(this.pos);
    this.pos += 4;
    return v;
  }

  bytes(n: number): Buffer {
    this.#need(n);
    const v = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }

  rest(): Buffer {
    return this.bytes(this.left);
  }

  /** A NUL-terminated string (the NUL is consumed). */
  cstring(): string {
    const end = this.buf.indexOf(0, this.pos);
    if (end < 0) throw new RangeError('message ends inside a string');
    const v = this.buf.toString('utf8', this.pos, end);
    this.pos = end + 1;
    return v;
  }
}
