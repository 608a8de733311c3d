/**
 * Writing JSON documents that hold large bodies piece by piece: the document is serialised once with
 * a placeholder string where each body goes, cut at the placeholders, and the bodies are written
 * between the cuts as base64 or JSON-escaped text, read in pieces from wherever they are kept. What
 * comes out is the same text JSON.stringify would make of the whole document.
 */
import { isUtf8 } from 'node:buffer';
import { randomUUID } from 'node:crypto';

/** A body whose bytes are read on demand (the store's StoredBody has this shape). */
export interface BodyBytes {
  readonly length: number;
  /** Bytes [from, to). */
  read(from: number, to: number): Buffer;
  /** Every byte, in pieces whose lengths are multiples of 3 but for the last; may throw partway (a damaged body). */
  pieces(): Iterable<Buffer>;
}

/** What a streamed document is written as: text and bytes, in order. */
export type JsonPiece = string | Buffer;

const EMPTY = Buffer.alloc(0);

/**
 * Length of `data` without a trailing UTF-8 sequence that was cut short. Only the last character is
 * examined; validity is checked afterwards.
 */
export function completeUtf8Length(data: Uint8Array): number {
  const end = data.length;
  // A UTF-8 sequence is at most 4 bytes: its lead byte is within the last 4.
  for (let i = end - 1; i >= 0 && i >= end - 4; i--) {
    const byte = data[i]!;
    if ((byte & 0xc0) === 0x80) continue; // continuation byte: keep looking for the lead
    const needed = byte < 0x80 ? 1 : byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : 2;
    return i + needed > end ? i : end;
  }
  return end;
}

/** Where a cut-short body's text ends (see completeUtf8Length), read from its last 4 bytes only. */
export function textEnd(body: BodyBytes, truncated: boolean): number {
  if (!truncated) return body.length;
  const from = Math.max(0, body.length - 4);
  return from + completeUtf8Length(body.read(from, body.length));
}

/** Whether bytes [0, end) of the body are valid UTF-8 (what isUtf8 says of them whole), read piece by piece. */
export function isUtf8Body(body: BodyBytes, end: number): boolean {
  let carry = EMPTY;
  let at = 0;
  for (const piece of body.pieces()) {
    let part = piece.subarray(0, Math.max(0, Math.min(piece.length, end - at)));
    at += piece.length;
    if (carry.length > 0) part = Buffer.concat([carry, part]);
    // A character split between two pieces is checked with the next one.
    const cut = completeUtf8Length(part);
    if (!isUtf8(part.subarray(0, cut))) return false;
    carry = Buffer.from(part.subarray(cut));
    if (at >= end) break;
  }
  return carry.length === 0;
}

/** The body's bytes as base64 text (no quotes). */
export function* base64Pieces(body: BodyBytes): Generator<JsonPiece, void, undefined> {
  for (const piece of body.pieces()) yield piece.toString('base64');
}

/** Bytes [0, end) of a body that is valid UTF-8 there, as JSON-escaped text (no quotes). */
export function* textPieces(body: BodyBytes, end: number): Generator<JsonPiece, void, undefined> {
  // ignoreBOM: a leading U+FEFF stays, as Buffer#toString keeps it.
  const decoder = new TextDecoder('utf-8', { ignoreBOM: true });
  let at = 0;
  for (const piece of body.pieces()) {
    const part = piece.subarray(0, Math.max(0, Math.min(piece.length, end - at)));
    at += piece.length;
    yield escaped(decoder.decode(part, { stream: true }));
    if (at >= end) break;
  }
  yield escaped(decoder.decode());
}

function escaped(text: string): string {
  return JSON.stringify(text).slice(1, -1);
}

/**
 * Serialises `doc` and writes `fill(i)` where `doc` holds `holes[i]`: the placeholder strings made
 * by {@link placeholders}. `fill` gives the JSON text of that value (with its quotes, if a string).
 */
export function* withHoles(doc: unknown, holes: readonly string[], fill: (i: number) => Iterable<JsonPiece>): Generator<JsonPiece, void, undefined> {
  let text = JSON.stringify(doc);
  for (let i = 0; i < holes.length; i++) {
    const mark = JSON.stringify(holes[i]);
    const at = text.indexOf(mark);
    if (at < 0) continue; // the document did not use this hole
    yield text.slice(0, at);
    yield* fill(i);
    text = text.slice(at + mark.length);
  }
  yield text;
}

/** `n` placeholder strings no recorded value can hold (NUL characters and a random UUID). */
export function placeholders(n: number): string[] {
  const nonce = randomUUID();
  return Array.from({ length: n }, (_, i) => `\u0000${nonce}:${i}\u0000`);
}
