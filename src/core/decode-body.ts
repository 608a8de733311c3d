/**
 * Content-Encoding decoding, for comparison (two answers that differ only in compression, or in the
 * compression level, carry the same content) and for HAR export (HAR holds decoded text). Bounded
 * on the decoded size against decompression bombs.
 */
import { brotliDecompressSync, constants, gunzipSync, inflateRawSync, inflateSync } from 'node:zlib';

/** Header lines as records hold them: `[name, value]`, order and case kept. */
type HeaderLines = readonly (readonly [name: string, value: string])[];

/** A body after decoding. */
export interface DecodedBody {
  data: Buffer;
  /** The decoded bytes are a prefix: the input was truncated or the output hit the bound. */
  partial: boolean;
  /** Why the body could not be decoded (it is then returned as it was), or null. */
  problem: string | null;
}

type Decoder = (data: Buffer, partial: boolean, max: number) => Buffer;

const zlibFlush = (partial: boolean) => ({ finishFlush: partial ? constants.Z_SYNC_FLUSH : constants.Z_FINISH });

// A truncated input is decoded as far as it goes (sync flush) instead of failing at its end.
const DECODERS: Readonly<Record<string, Decoder>> = {
  gzip: (d, partial, max) => gunzipSync(d, { ...zlibFlush(partial), maxOutputLength: max }),
  'x-gzip': (d, partial, max) => gunzipSync(d, { ...zlibFlush(partial), maxOutputLength: max }),
  deflate: (d, partial, max) => {
    // RFC 9110 §8.4.1.2 says zlib-wrapped; some servers send raw deflate, so fall back to it.
    try {
      return inflateSync(d, { ...zlibFlush(partial), maxOutputLength: max });
    } catch {
      return inflateRawSync(d, { ...zlibFlush(partial), maxOutputLength: max });
    }
  },
  br: (d, partial, max) =>
    brotliDecompressSync(d, {
      finishFlush: partial ? constants.BROTLI_OPERATION_FLUSH : constants.BROTLI_OPERATION_FINISH,
      maxOutputLength: max,
    }),
};

/** The codings of a Content-Encoding value, in the order they were applied. */
export function codingsOf(headers: HeaderLines): string[] {
  const out: string[] = [];
  for (const [name, value] of headers) {
    if (name.toLowerCase() !== 'content-encoding') continue;
    for (const c of value.split(',')) {
      const coding = c.trim().toLowerCase();
      if (coding !== '' && coding !== 'identity') out.push(coding);
    }
  }
  return out;
}

/**
 * Undoes the codings (last applied first). `truncated`: the input is a prefix of the real body.
 * A coding QProxy cannot decode, or a decoding failure, leaves the body as it was, with a problem.
 */
export function decodeBody(data: Buffer, headers: HeaderLines, truncated: boolean, maxOutput: number): DecodedBody {
  const codings = codingsOf(headers);
  let out = data;
  let partial = truncated;
  for (let i = codings.length - 1; i >= 0; i--) {
    const coding = codings[i]!;
    const decode = DECODERS[coding];
    if (decode === undefined) return { data, partial: truncated, problem: `content-encoding "${coding}" is not decoded` };
    try {
      out = decode(out, partial, maxOutput);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
        return { data, partial: truncated, problem: `decoded body is larger than ${maxOutput} bytes` };
      }
      return { data, partial: truncated, problem: `${coding} body does not decode (${(err as Error).message})` };
    }
    if (out.length >= maxOutput) partial = true;
  }
  return { data: out, partial, problem: null };
}
