/**
 * @module Bodies between HAR and records. A HAR holds the *decoded* response content (the spec:
 * "fully decoded"), a record the bytes as they were on the wire, so Content-Encoding is undone on
 * export and applied again on import (as mitmproxy does), which makes an imported record look like a
 * recorded one to serving and replay. Bytes that are not UTF-8 travel as base64.
 */
import { isUtf8 } from 'node:buffer';
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import { codingsOf, decodeBody } from '../core/decode-body.js';
import type { CapturedBody, HeaderLine } from '../recording/model.js';
import { harInvalid } from './har-error.js';

/** Largest decoded body written as text on export; beyond it the wire bytes are exported as they are. */
const MAX_DECODED_BYTES = 64 * 1024 * 1024;

const ENCODERS: Readonly<Record<string, (data: Buffer) => Buffer>> = {
  gzip: (d) => gzipSync(d),
  'x-gzip': (d) => gzipSync(d),
  deflate: (d) => deflateSync(d),
  br: (d) => brotliCompressSync(d),
};

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Strict base64 (whitespace between groups allowed): Buffer.from would skip bad characters silently. */
export function decodeBase64(text: string, path: readonly PropertyKey[]): Buffer {
  const compact = text.replace(/\s+/g, '');
  if (!BASE64.test(compact)) throw harInvalid(path, 'encoding is "base64" but the text is not valid base64');
  return Buffer.from(compact, 'base64');
}

/** Text as UTF-8 bytes, or base64 decoded when `encoding` says so; other encodings are refused. */
export function textBytes(text: string, encoding: string | null | undefined, path: readonly PropertyKey[], encodingKey: string): Buffer {
  if (encoding === undefined || encoding === null || encoding === '') return Buffer.from(text, 'utf8');
  if (encoding.toLowerCase() === 'base64') return decodeBase64(text, path);
  throw harInvalid([...path.slice(0, -1), encodingKey], `unsupported encoding ${JSON.stringify(encoding)}; only "base64" is known`);
}

/** A whole body of `data`. */
export function fullBody(data: Buffer): CapturedBody {
  return { data, size: data.length, truncated: false };
}

/** `application/x-www-form-urlencoded` from HAR params, as browsers encode forms. */
export function urlencodedParams(params: ReadonlyArray<{ name: string; value?: string | null | undefined }>): Buffer {
  return Buffer.from(params.map((p) => `${formEncode(p.name)}=${formEncode(p.value ?? '')}`).join('&'));
}

function formEncode(s: string): string {
  return encodeURIComponent(s).replace(/%20/g, '+');
}

/** `multipart/form-data` from HAR params, with the boundary of the request's content type. */
export function multipartParams(
  params: ReadonlyArray<{ name: string; value?: string | null | undefined; fileName?: string | null | undefined; contentType?: string | null | undefined }>,
  boundary: string,
): Buffer {
  const parts = params.map((p) => {
    const file = p.fileName != null ? `; filename=${JSON.stringify(p.fileName)}` : '';
    const type = p.contentType != null && p.contentType !== '' ? `Content-Type: ${p.contentType}\r\n` : '';
    return `--${boundary}\r\nContent-Disposition: form-data; name=${JSON.stringify(p.name)}${file}\r\n${type}\r\n${p.value ?? ''}\r\n`;
  });
  return Buffer.from(`${parts.join('')}--${boundary}--\r\n`);
}

/** The boundary parameter of a multipart content type, or null. */
export function boundaryOf(contentType: string | undefined): string | null {
  const m = /;\s*boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType ?? '');
  return m ? (m[1] ?? m[2] ?? null) : null;
}

/**
 * The wire bytes of a decoded response body: its Content-Encoding applied again. When a coding
 * cannot be applied (zstd, unknown), `drop` is true: the caller removes the Content-Encoding lines,
 * since serving decoded bytes under that label would break clients.
 */
export function encodeForWire(decoded: Buffer, headers: readonly HeaderLine[]): { data: Buffer; drop: boolean } {
  const codings = codingsOf(headers);
  if (codings.length === 0 || decoded.length === 0) return { data: decoded, drop: false };
  let out = decoded;
  for (const coding of codings) {
    const encode = ENCODERS[coding];
    if (encode === undefined) return { data: decoded, drop: true };
    out = encode(out);
  }
  return { data: out, drop: false };
}

/** A body as HAR text: UTF-8 text, or base64 when the bytes are not valid UTF-8. */
export function bodyText(data: Buffer): { text: string; base64: boolean } {
  return isUtf8(data) ? { text: data.toString('utf8'), base64: false } : { text: data.toString('base64'), base64: true };
}

/** A response body for export: decoded when its Content-Encoding can be undone completely. */
export function decodedForExport(body: CapturedBody, headers: readonly HeaderLine[]): { data: Buffer; decoded: boolean } {
  if (codingsOf(headers).length === 0 || body.data.length === 0) return { data: body.data, decoded: false };
  if (body.truncated) return { data: body.data, decoded: false };
  const out = decodeBody(body.data, headers, false, MAX_DECODED_BYTES);
  if (out.problem !== null || out.partial) return { data: body.data, decoded: false };
  return { data: out.data, decoded: true };
}
