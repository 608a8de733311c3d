/**
 * The batch body (before compression):
 *
 *   "QPB1" | u32 BE head length | head (JSON, batch-head schema) | blob area
 *
 * Payload bytes (HTTP bodies, WebSocket messages, TCP chunks) never go through JSON: each is replaced in the head by
 * `{"$blob": i}` and appended to the blob area, whose layout the head's `blobs` (byte lengths, in
 * order) describes. That keeps binary bodies binary (no base64 growth before compression) and makes
 * decoding a slice per payload, no copy.
 */
import type { HttpRecord, QRecord, TcpRecord } from '../recording/model.js';
import { RECORD_FORMAT_VERSION } from '../recording/model.js';
import { batchHeadSchema, type BlobRef, type WireEntry } from './record-schema.js';
import { SyncError } from './sync-error.js';

const MAGIC = Buffer.from('QPB1', 'latin1');
const PREFIX_BYTES = 8;
export const WIRE_FORMAT = 1;

/** One unit of sync: a record, or the new part of a TCP session, with its seq in the sender's store. */
export interface SyncEntry {
  seq: number;
  record: QRecord;
  /** TCP only: index of `record.chunks[0]` in the whole session; 0 or absent = from the start. */
  chunkBase?: number;
}

/** A decoded, validated batch. */
export interface DecodedBatch {
  node: string;
  entries: SyncEntry[];
}

type Ref = (data: Buffer) => BlobRef;

function httpToWire(r: HttpRecord, ref: Ref): object {
  return {
    ...r,
    request: { ...r.request, body: { ...r.request.body, data: ref(r.request.body.data) } },
    response: r.response && { ...r.response, body: { ...r.response.body, data: ref(r.response.body.data) } },
    ...(r.websocket && { websocket: { ...r.websocket, messages: r.websocket.messages.map((m) => ({ ...m, data: ref(m.data) })) } }),
  };
}

function tcpToWire(r: TcpRecord, ref: Ref): object {
  return { ...r, chunks: r.chunks.map((c) => ({ ...c, data: ref(c.data) })) };
}

/** Serialises a batch. Buffers are referenced, not copied, until the final concatenation. */
export function encodeBatch(node: string, entries: readonly SyncEntry[]): Buffer {
  const blobs: Buffer[] = [];
  const lengths: number[] = [];
  const ref: Ref = (data) => {
    blobs.push(data);
    lengths.push(data.byteLength);
    return { $blob: blobs.length - 1 };
  };
  const wire = entries.map((e) => ({
    seq: e.seq,
    ...(e.chunkBase !== undefined && e.chunkBase > 0 && { chunk_base: e.chunkBase }),
    record: e.record.protocol === 'http' ? httpToWire(e.record, ref) : tcpToWire(e.record, ref),
  }));
  const head = Buffer.from(JSON.stringify({ format: WIRE_FORMAT, node, blobs: lengths, entries: wire }), 'utf8');
  const prefix = Buffer.allocUnsafe(PREFIX_BYTES);
  MAGIC.copy(prefix, 0);
  prefix.writeUInt32BE(head.byteLength, 4);
  return Buffer.concat([prefix, head, ...blobs]);
}

function malformed(what: string): SyncError {
  return new SyncError('QP_ERR_SYNC_BATCH_MALFORMED', `malformed sync batch: ${what}`);
}

/** `entries[3].record.request.headers[2]` */
function formatPath(path: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out === '' ? String(p) : `.${String(p)}`;
  return out || '(batch)';
}

/**
 * A newer sender's batch is refused with its own code, so the sender waits for an upgrade instead
 * of treating its records as bad and skipping them.
 */
function checkVersions(head: unknown): void {
  if (typeof head !== 'object' || head === null) return;
  const h = head as { format?: unknown; entries?: unknown };
  if (typeof h.format === 'number' && h.format > WIRE_FORMAT) {
    throw new SyncError(
      'QP_ERR_SYNC_FORMAT_VERSION',
      `sync batch format ${h.format} is newer than this receiver reads (up to ${WIRE_FORMAT}); upgrade QProxy on the Playback node`,
    );
  }
  if (!Array.isArray(h.entries)) return;
  for (const e of h.entries as unknown[]) {
    const v = (e as { record?: { v?: unknown } } | null)?.record?.v;
    if (typeof v === 'number' && v > RECORD_FORMAT_VERSION) {
      throw new SyncError(
        'QP_ERR_SYNC_FORMAT_VERSION',
        `record format ${v} is newer than this receiver reads (up to ${RECORD_FORMAT_VERSION}); upgrade QProxy on the Playback node`,
      );
    }
  }
}

function parseHead(buf: Buffer): { head: unknown; blobStart: number } {
  if (buf.byteLength < PREFIX_BYTES || !buf.subarray(0, 4).equals(MAGIC)) {
    throw malformed('the body does not start with the QPB1 batch header (is the sender a QProxy node of a compatible version?)');
  }
  const headLength = buf.readUInt32BE(4);
  const blobStart = PREFIX_BYTES + headLength;
  if (blobStart > buf.byteLength) throw malformed(`the head claims ${headLength} bytes but the body holds ${buf.byteLength - PREFIX_BYTES}`);
  try {
    return { head: JSON.parse(buf.toString('utf8', PREFIX_BYTES, blobStart)) as unknown, blobStart };
  } catch (err) {
    throw malformed(`the head is not valid JSON (${(err as Error).message})`);
  }
}

/** Hands out each blob as a slice of `buf`; each may be used once, and all must be used. */
function blobSlicer(buf: Buffer, blobStart: number, lengths: readonly number[]): { take(ref: BlobRef, where: string): Buffer; finish(): void } {
  const offsets: number[] = [];
  let off = blobStart;
  for (const len of lengths) {
    offsets.push(off);
    off += len;
  }
  if (off !== buf.byteLength) {
    throw malformed(`the blob area holds ${buf.byteLength - blobStart} bytes but the head lists ${off - blobStart}`);
  }
  const used = new Uint8Array(lengths.length);
  return {
    take(ref, where) {
      const i = ref.$blob;
      if (i >= lengths.length) throw malformed(`${where}: blob ${i} does not exist (the batch has ${lengths.length})`);
      if (used[i]) throw malformed(`${where}: blob ${i} is referenced twice`);
      used[i] = 1;
      return buf.subarray(offsets[i], offsets[i]! + lengths[i]!);
    },
    finish() {
      const unused = used.indexOf(0);
      if (unused !== -1) throw malformed(`blob ${unused} is not referenced by any record`);
    },
  };
}

/** Puts the blob a body refers to in its place (in zod's output, which is this batch's own: no copy of the record). */
function fillBody(body: { data: BlobRef }, take: (ref: BlobRef, where: string) => Buffer, where: string): void {
  (body as unknown as { data: Buffer }).data = take(body.data, where);
}

function fromWire(e: WireEntry, i: number, take: (ref: BlobRef, where: string) => Buffer): SyncEntry {
  const at = `entries[${i}].record`;
  const r = e.record;
  if (r.protocol === 'http') {
    fillBody(r.request.body, take, `${at}.request.body`);
    if (r.response) fillBody(r.response.body, take, `${at}.response.body`);
    r.websocket?.messages.forEach((m, j) => fillBody(m, take, `${at}.websocket.messages[${j}]`));
  } else {
    r.chunks.forEach((c, j) => fillBody(c, take, `${at}.chunks[${j}]`));
    if (r.state === 'closed' && r.close_reason === null) throw malformed(`${at}: a closed TCP session needs a close_reason`);
  }
  const record = r as unknown as QRecord;
  if (e.chunk_base !== undefined && r.protocol !== 'tcp') throw malformed(`entries[${i}].chunk_base: only TCP entries carry one`);
  return { seq: e.seq, record, ...(e.chunk_base !== undefined && { chunkBase: e.chunk_base }) };
}

/**
 * Parses and validates a decompressed batch. Throws SyncError `QP_ERR_SYNC_BATCH_MALFORMED` (with
 * the path of the first bad field) or `QP_ERR_SYNC_FORMAT_VERSION`. Payload Buffers are slices of `buf`.
 */
export function decodeBatch(buf: Buffer): DecodedBatch {
  const { head, blobStart } = parseHead(buf);
  checkVersions(head);
  const parsed = batchHeadSchema.safeParse(head);
  if (!parsed.success) {
    const issues = parsed.error.issues.slice(0, 3).map((iss) => `${formatPath(iss.path)}: ${iss.message}`);
    const more = parsed.error.issues.length > 3 ? ` (and ${parsed.error.issues.length - 3} more)` : '';
    throw malformed(issues.join('; ') + more);
  }
  const slicer = blobSlicer(buf, blobStart, parsed.data.blobs);
  const entries = parsed.data.entries.map((e, i) => fromWire(e, i, (ref, where) => slicer.take(ref, where)));
  slicer.finish();
  return { node: parsed.data.node, entries };
}
