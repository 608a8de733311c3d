/**
 * One record (or TCP segment) per message, encoded exactly like a one-entry peer sync batch
 * (wire-format.ts), so a consumer validates it with the same schema the HTTP/2 receiver uses.
 *
 *   headers  Qp-Encoding: br | gzip        (absent: not compressed)
 *            Qp-Kind: manifest             (the body is a manifest; the record is in parts)
 *
 * Small messages go out uncompressed: one record shrinks far less on its own than in a batch
 * (where records share headers and keys), and each compression is a trip to the thread pool.
 * Measured on the sync tests' HTTP records, one message at a time, brotli 4 (gzip 6 alike):
 *
 *   1.5 KiB message  1.7x   ~280 µs wall       8 KiB (JSON body)   6.8x  ~320 µs
 *   3 KiB            3.2x   ~290 µs            28 KiB              15x   ~530 µs
 *
 * Below a few KiB the saving is a few hundred bytes for a pool round trip per record, which caps
 * a publisher's rate; hence the 4 KiB default of nats.compress_min_bytes.
 */
import { createHash } from 'node:crypto';
import { PubHeaders } from '@nats-io/jetstream';
import { headers as natsHeaders, type MsgHdrs } from '@nats-io/transport-node';
import { z } from 'zod';
import { compress, decompress, type Compression } from '../compression.js';
import { SyncError } from '../sync-error.js';
import { decodeBatch, encodeBatch, type SyncEntry } from '../wire-format.js';
import { NatsError } from './nats-error.js';

export const HEADER_ENCODING = 'Qp-Encoding';
export const HEADER_KIND = 'Qp-Kind';
export const KIND_MANIFEST = 'manifest';

/** Largest record a consumer rebuilds (a bomb or a corrupt manifest stops here). */
export const MAX_RECORD_BYTES = 1024 ** 3;
/** Compressed output kept only when it saves at least this share. */
const MIN_SAVING = 0.1;

/** A record message ready to publish. */
export interface EncodedRecord {
  /** The body: the encoded entry, compressed or not. */
  data: Buffer;
  encoding: Compression;
  /** Encoded size before compression. */
  raw: number;
}

/**
 * Encodes one entry, uncompressed: synchronous, so the common small record never waits on a promise.
 * Always in batch format 1: a stream's messages are read by consumers of whatever version, and
 * those before format 2 refuse it (consumers read both).
 */
export function encodePlain(node: string, entry: SyncEntry): EncodedRecord {
  const raw = encodeBatch(node, [entry], 1);
  return { data: raw, encoding: 'none', raw: raw.byteLength };
}

/** Whether a plain record is large enough (`minBytes`) to be worth a trip to the compression pool. */
export function worthCompressing(plain: EncodedRecord, how: Compression, minBytes: number): boolean {
  return how !== 'none' && plain.raw >= minBytes;
}

/** Compresses a plain record; keeps it plain when compression saves too little. */
export async function compressRecord(plain: EncodedRecord, how: Compression): Promise<EncodedRecord> {
  if (how === 'none') return plain;
  const packed = await compress(plain.data, how);
  if (packed.byteLength > plain.raw * (1 - MIN_SAVING)) return plain;
  return { data: packed, encoding: how, raw: plain.raw };
}

/**
 * Headers of a message: its id (JetStream's duplicate window drops a re-send with the same id)
 * and, for a record or its manifest, how the body is encoded.
 */
export function recordHeaders(msgId: string, encoding: Compression = 'none', manifest = false): MsgHdrs {
  const h = natsHeaders();
  h.set(PubHeaders.MsgIdHdr, msgId);
  if (encoding !== 'none') h.set(HEADER_ENCODING, encoding);
  if (manifest) h.set(HEADER_KIND, KIND_MANIFEST);
  return h;
}

function malformed(what: string, cause?: unknown): NatsError {
  return new NatsError('QP_ERR_NATS_MESSAGE_MALFORMED', `malformed NATS record message: ${what}`, { cause });
}

/** The encoding a message's header names; throws for an unknown one. */
export function encodingOf(h: MsgHdrs | undefined): Compression {
  const v = h?.get(HEADER_ENCODING) ?? '';
  if (v === '') return 'none';
  if (v === 'br' || v === 'gzip') return v;
  throw malformed(`unknown ${HEADER_ENCODING} "${v.slice(0, 40)}"`);
}

export function isManifest(h: MsgHdrs | undefined): boolean {
  return h?.get(HEADER_KIND) === KIND_MANIFEST;
}

/**
 * Decodes a record message body into its one entry. Throws NatsError MALFORMED, or SyncError
 * QP_ERR_SYNC_FORMAT_VERSION for a message from a newer QProxy (kept for after an upgrade).
 */
export async function decodeRecord(body: Buffer, encoding: Compression): Promise<{ entry: SyncEntry; raw: number }> {
  if (encoding === 'none') return decodePlainRecord(body);
  let raw: Buffer;
  try {
    raw = await decompress(body, encoding, MAX_RECORD_BYTES);
  } catch (err) {
    throw malformed(err instanceof Error ? err.message : String(err), err);
  }
  return decodePlainRecord(raw);
}

/** `decodeRecord` of an uncompressed body, synchronous (most messages: small records go out plain). */
export function decodePlainRecord(raw: Buffer): { entry: SyncEntry; raw: number } {
  if (raw.byteLength > MAX_RECORD_BYTES) throw malformed(`the record is larger than ${MAX_RECORD_BYTES} bytes`);
  let entries;
  try {
    entries = decodeBatch(raw).entries;
  } catch (err) {
    if (err instanceof SyncError && err.code === 'QP_ERR_SYNC_FORMAT_VERSION') throw err;
    throw malformed(err instanceof Error ? err.message : String(err), err);
  }
  if (entries.length !== 1) throw malformed(`expected one record, found ${entries.length}`);
  return { entry: entries[0]!, raw: raw.byteLength };
}

const manifestSchema = z.strictObject({
  qp_manifest: z.literal(1),
  /** Subject of part n is `${subject}.${n}`. */
  subject: z.string().min(1).max(1024),
  parts: z.int().min(1).max(100_000),
  size: z.int().min(1).max(MAX_RECORD_BYTES),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
});

/** A large message's manifest: where its parts are and how to check them. */
export type Manifest = z.output<typeof manifestSchema>;

/** Splits `body` into parts of at most `partBytes` and describes them. */
export function splitParts(body: Buffer, partBytes: number, subject: string): { manifest: Manifest; parts: Buffer[] } {
  const parts: Buffer[] = [];
  for (let off = 0; off < body.byteLength; off += partBytes) parts.push(body.subarray(off, Math.min(body.byteLength, off + partBytes)));
  const sha256 = createHash('sha256').update(body).digest('hex');
  return { manifest: { qp_manifest: 1, subject, parts: parts.length, size: body.byteLength, sha256 }, parts };
}

export function encodeManifest(m: Manifest): Buffer {
  return Buffer.from(JSON.stringify(m), 'utf8');
}

export function decodeManifest(body: Buffer): Manifest {
  let json: unknown;
  try {
    json = JSON.parse(body.toString('utf8'));
  } catch (err) {
    throw malformed('the manifest is not JSON', err);
  }
  const parsed = manifestSchema.safeParse(json);
  if (!parsed.success) throw malformed(`bad manifest (${parsed.error.issues[0]?.message ?? 'invalid'})`);
  return parsed.data;
}

/** Puts the parts back together and checks them against the manifest. */
export function joinParts(m: Manifest, parts: Buffer[]): Buffer {
  const body = Buffer.concat(parts);
  if (body.byteLength !== m.size) throw malformed(`the parts hold ${body.byteLength} bytes, the manifest says ${m.size}`);
  const digest = createHash('sha256').update(body).digest('hex');
  if (digest !== m.sha256) throw malformed('the parts do not match the manifest\'s sha256');
  return body;
}
