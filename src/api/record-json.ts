/**
 * @module The API's JSON shape of a whole record (SPEC §7): the record model as it is, with every
 * body turned into base64 plus, when the bytes are UTF-8, the text itself so people can read
 * JSON and form bodies without decoding.
 */
import { isUtf8 } from 'node:buffer';
import type { CapturedBody, HttpRecord, HttpRequestPart, HttpResponsePart, QRecord } from '../recording/model.js';

/** A body as the API shows it. */
export interface JsonBody {
  encoding: 'base64';
  /** The captured bytes (at most storage.max_body of them), base64. */
  data: string;
  /** Bytes that passed through, including those beyond the capture limit. */
  size: number;
  truncated: boolean;
  /**
   * The captured bytes as text, present only when they are valid UTF-8. For a truncated body an
   * incomplete character cut at the capture limit is left out of the text (it stays in `data`).
   */
  text?: string;
}

export type JsonHttpRecord = Omit<HttpRecord, 'request' | 'response'> & {
  request: Omit<HttpRequestPart, 'body'> & { body: JsonBody };
  response: (Omit<HttpResponsePart, 'body'> & { body: JsonBody }) | null;
};

/** Every record kind as the API shows it; TCP sessions join when QRecord grows. */
export type JsonRecord = JsonHttpRecord;

export function recordToJson(record: QRecord): JsonRecord {
  return {
    ...record,
    request: { ...record.request, body: bodyToJson(record.request.body) },
    response: record.response === null ? null : { ...record.response, body: bodyToJson(record.response.body) },
  };
}

export function bodyToJson(body: CapturedBody): JsonBody {
  const json: JsonBody = {
    encoding: 'base64',
    data: body.data.toString('base64'),
    size: body.size,
    truncated: body.truncated,
  };
  const textBytes = body.truncated ? body.data.subarray(0, completeUtf8Length(body.data)) : body.data;
  if (isUtf8(textBytes)) json.text = textBytes.toString('utf8');
  return json;
}

/**
 * Length of `data` without a trailing UTF-8 sequence that was cut short (the capture limit can
 * fall inside a character). Only the last character is examined; validity is checked afterwards.
 */
export function completeUtf8Length(data: Buffer): number {
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
