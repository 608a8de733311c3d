/**
 * @module `GET /api/records/{id}` for a record with large bodies: the same JSON as record-json.ts
 * makes, written piece by piece, each body read from the store in pieces (once to see whether it is
 * UTF-8 text, once for its base64, once more for its text when it is), never held whole.
 */
import { base64Pieces, isUtf8Body, placeholders, textEnd, textPieces, withHoles, type BodyBytes, type JsonPiece } from '../core/json-pieces.js';
import type { LazyHttp } from '../har/export-stream.js';
import type { CapturedBody } from '../recording/model.js';
import { recordToJson, type JsonBody } from './record-json.js';

/** A body as record-json.ts's bodyToJson writes it (same keys, same order), read piece by piece. */
function* bodyJsonPieces(meta: CapturedBody, bytes: BodyBytes): Generator<JsonPiece, void, undefined> {
  const end = textEnd(bytes, meta.truncated);
  const utf8 = isUtf8Body(bytes, end);
  yield '{"encoding":"base64","data":"';
  yield* base64Pieces(bytes);
  yield `","size":${JSON.stringify(meta.size)},"truncated":${JSON.stringify(meta.truncated)}`;
  if (utf8) {
    yield ',"text":"';
    yield* textPieces(bytes, end);
    yield '"';
  }
  yield '}';
}

/** The API's JSON of an HTTP record whose bodies are still in the store. */
export function* recordJsonPieces(l: LazyHttp): Generator<JsonPiece, void, undefined> {
  const holes = placeholders(2);
  const json = recordToJson(l.record);
  json.request.body = holes[0] as unknown as JsonBody;
  if (json.response) json.response.body = holes[1] as unknown as JsonBody;
  const { request, response } = l.record;
  yield* withHoles(json, holes, (i) => (i === 0 ? bodyJsonPieces(request.body, l.request) : bodyJsonPieces(response!.body, l.response!)));
}
