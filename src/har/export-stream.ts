/**
 * @module HAR export without holding large bodies: the same document as export.ts makes, written as
 * pieces, each large body read from the store piece by piece (twice: once to see whether it is UTF-8
 * text, once to write it). Small bodies, and a response whose Content-Encoding must be undone for the
 * HAR, are read whole and go through export.ts as before.
 */
import { codingsOf } from '../core/decode-body.js';
import { base64Pieces, isUtf8Body, placeholders, textPieces, withHoles, type BodyBytes, type JsonPiece } from '../core/json-pieces.js';
import type { HttpRecord } from '../recording/model.js';
import { recordToEntry, recordsToHar, type HarExportOptions } from './export.js';

/** An HTTP record whose body bytes are still in the store (body `data` empty). */
export interface LazyHttp {
  record: HttpRecord;
  request: BodyBytes;
  response: BodyBytes | null;
}

/** Bodies of at least this many bytes in all are written piece by piece; smaller ones are read whole. */
export const STREAM_MIN_BYTES = 1024 * 1024;

/** Every byte of a body, read now and checked (its pieces check the stored checksum). */
export function readWhole(body: BodyBytes): Buffer {
  const parts = [...body.pieces()];
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
}

/** The record with its bodies read whole. */
export function loaded(l: LazyHttp): HttpRecord {
  const r = l.record;
  r.request.body.data = readWhole(l.request);
  if (r.response && l.response) r.response.body.data = readWhole(l.response);
  return r;
}

/** Whether the record's bodies together are large enough to be written piece by piece. */
export function isLarge(l: LazyHttp): boolean {
  return l.request.length + (l.response?.length ?? 0) >= STREAM_MIN_BYTES;
}

/** A HAR holds the decoded response: one whose codings must be undone is read whole (export.ts). */
function needsDecoding(l: LazyHttp): boolean {
  const res = l.record.response;
  return res !== null && l.response !== null && l.response.length > 0 && !res.body.truncated && codingsOf(res.headers).length > 0;
}

/** One HAR entry of a record as JSON text, its large bodies read piece by piece. */
export function* lazyEntryPieces(l: LazyHttp): Generator<JsonPiece, void, undefined> {
  if (!isLarge(l) || needsDecoding(l)) {
    yield JSON.stringify(recordToEntry(loaded(l)));
    return;
  }
  const holes = placeholders(2);
  const bodies = [l.request, l.response];
  const utf8 = bodies.map((b) => b !== null && isUtf8Body(b, b.length));
  const text = (i: number): { length: number; text: string; base64: boolean } => ({ length: bodies[i]!.length, text: holes[i]!, base64: !utf8[i] });
  const entry = recordToEntry(l.record, { request: text(0), ...(l.response !== null && { response: text(1) }) });
  yield* withHoles(entry, holes, function* (i) {
    const body = bodies[i]!;
    yield '"';
    yield* utf8[i] ? textPieces(body, body.length) : base64Pieces(body);
    yield '"';
  });
}

/**
 * A HAR document (as export.ts's recordsToHar makes it) whose entries are given as JSON text,
 * already in order: each item of `entries` is one entry.
 */
export function* harDocumentPieces(entries: Iterable<Iterable<JsonPiece>>, opts: HarExportOptions): Generator<JsonPiece, void, undefined> {
  const [hole] = placeholders(1);
  const doc = recordsToHar([], opts) as { log: { entries: unknown } };
  doc.log.entries = hole;
  yield* withHoles(doc, [hole!], function* () {
    yield '[';
    let first = true;
    for (const entry of entries) {
      if (!first) yield ',';
      first = false;
      yield* entry;
    }
    yield ']';
  });
}
