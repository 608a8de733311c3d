/**
 * Batch compression on the libuv thread pool (node:zlib's async API), never on the event loop.
 * Per batch rather than per record: records of one service share headers and JSON keys, which is
 * where most of the ratio comes from (ecosystem.md §1.11).
 *
 * Measured on 4 MiB batches of HTTP records (real JSON/JS/Markdown bodies, 20 % incompressible
 * images and pre-gzipped bodies), one core of this box:
 *
 *   gzip 6   2.42x   21 ms CPU per MiB      brotli 4   2.81x   15 ms CPU per MiB
 *   gzip 1   2.29x   12 ms                  brotli 6   2.87x   21 ms
 *   text only: gzip 6 5.2x / 18 ms, brotli 4 7.5x / 11 ms
 *
 * Brotli's 4 MiB window finds the repetition between records that gzip's 32 KiB window misses,
 * so quality 4 beats gzip 6 on ratio and CPU at once; higher qualities buy little. Decompression
 * costs 2-5 ms per MiB either way.
 */
import { promisify } from 'node:util';
import { brotliCompress, brotliDecompress, constants, gunzip, gzip } from 'node:zlib';
import type { BrotliOptions, ZlibOptions } from 'node:zlib';
import { SyncError } from './sync-error.js';

/** Compression of a batch body (peer) or a record message (NATS) on the wire. */
export type Compression = 'gzip' | 'br' | 'none';

/** Content-Encoding token for each compression. */
export const CONTENT_ENCODING: Readonly<Record<Compression, string>> = { gzip: 'gzip', br: 'br', none: 'identity' };

const gzipAsync = promisify<Buffer, ZlibOptions, Buffer>(gzip);
const gunzipAsync = promisify<Buffer, ZlibOptions, Buffer>(gunzip);
const brotliAsync = promisify<Buffer, BrotliOptions, Buffer>(brotliCompress);
const unbrotliAsync = promisify<Buffer, BrotliOptions, Buffer>(brotliDecompress);

/** gzip level 6 (zlib's default) and brotli quality 4: the measured sweet spots (see above). */
export const GZIP_LEVEL = 6;
export const BROTLI_QUALITY = 4;

/**
 * While a sender catches up (its batches leave full), CPU rather than the link is what bounds the
 * drain on a small box, so it compresses faster. Same 4 MiB mixed batches (node_modules JS, JSON
 * and Markdown with 20 % random bytes), one core, 2026-12-06:
 *
 *   brotli 4   3.38x   10.9 ms CPU per MiB      brotli 1   3.05x   3.0 ms
 *   gzip 6     (above)                          gzip 1     2.70x   7.4 ms
 *
 * Brotli 1 keeps 90 % of quality 4's ratio at under a third of its CPU. The receiver decodes any
 * quality alike: the wire format does not change.
 */
export const BROTLI_QUALITY_FAST = 1;
export const GZIP_LEVEL_FAST = 1;

/** Compresses a batch body for the wire; `fast` when the sender has a backlog to drain. */
export function compress(body: Buffer, how: Compression, fast = false): Promise<Buffer> {
  switch (how) {
    case 'gzip':
      return gzipAsync(body, { level: fast ? GZIP_LEVEL_FAST : GZIP_LEVEL });
    case 'br':
      return brotliAsync(body, {
        params: {
          [constants.BROTLI_PARAM_QUALITY]: fast ? BROTLI_QUALITY_FAST : BROTLI_QUALITY,
          [constants.BROTLI_PARAM_SIZE_HINT]: body.byteLength,
        },
      });
    case 'none':
      return Promise.resolve(body);
  }
}

/** The compression a Content-Encoding header names, or null when unsupported. */
export function compressionOf(contentEncoding: string | undefined): Compression | null {
  const token = (contentEncoding ?? 'identity').trim().toLowerCase();
  for (const [how, name] of Object.entries(CONTENT_ENCODING) as Array<[Compression, string]>) {
    if (token === name) return how;
  }
  return null;
}

/** Bounds of the output chunk of a decompression; see {@link outputChunkBytes}. */
const OUTPUT_CHUNK_MIN = 16 * 1024;
const OUTPUT_CHUNK_MAX = 1024 * 1024;
/** Expected expansion: batches of recorded traffic compress 3–30× (31.7× in bench/sync.mjs). */
const OUTPUT_CHUNK_EXPANSION = 16;

/**
 * The size of the Buffers zlib decompresses into. Its default of 16 KiB means one trip to the
 * event loop, one Buffer and a copy at the end per 16 KiB of output: for a 700 KiB batch of 1 KiB
 * records that cost 4.1–5.6 µs of CPU per record, against 0.9–1.3 with 256 KiB and 0.85 with 1 MiB
 * (brotli, 500 records, one core). With the size the sender declares (`expectedBytes`, at most the
 * cap) the output is one Buffer, not copied again at the end; without it, the chunk is sized from
 * the body so that a small message (a NATS record) does not get a 1 MiB Buffer.
 */
export function outputChunkBytes(bodyBytes: number, maxBytes: number, expectedBytes?: number): number {
  // One more byte than expected: zlib allocates a fresh chunk whenever the last one is full.
  if (expectedBytes !== undefined) return Math.max(OUTPUT_CHUNK_MIN, Math.min(maxBytes, expectedBytes) + 1);
  return Math.max(OUTPUT_CHUNK_MIN, Math.min(OUTPUT_CHUNK_MAX, maxBytes, bodyBytes * OUTPUT_CHUNK_EXPANSION));
}

/**
 * Decompresses a received body, refusing to produce more than `maxBytes` (a zip bomb stops at the
 * cap instead of filling memory); `expectedBytes` is the size the sender declared, a hint only. Throws SyncError `QP_ERR_SYNC_BATCH_TOO_LARGE` or
 * `QP_ERR_SYNC_BATCH_MALFORMED` (truncated or corrupt stream).
 */
export async function decompress(body: Buffer, how: Compression, maxBytes: number, expectedBytes?: number): Promise<Buffer> {
  if (how === 'none') {
    if (body.byteLength > maxBytes) throw tooLarge(maxBytes);
    return body;
  }
  const opts = { maxOutputLength: maxBytes, chunkSize: outputChunkBytes(body.byteLength, maxBytes, expectedBytes) };
  try {
    return how === 'gzip' ? await gunzipAsync(body, opts) : await unbrotliAsync(body, opts);
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (code === 'ERR_BUFFER_TOO_LARGE' || err instanceof RangeError) throw tooLarge(maxBytes);
    throw new SyncError(
      'QP_ERR_SYNC_BATCH_MALFORMED',
      `malformed sync batch: the ${how} body cannot be decompressed (${(err as Error).message})`,
      { cause: err },
    );
  }
}

function tooLarge(maxBytes: number): SyncError {
  return new SyncError(
    'QP_ERR_SYNC_BATCH_TOO_LARGE',
    `sync batch decompresses to more than sync.max_batch_bytes (${maxBytes} bytes); lower peer.batch_max_bytes on the Record node or raise sync.max_batch_bytes`,
  );
}
