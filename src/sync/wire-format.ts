/**
 * The batch body (before compression), format 2 (magic "QPB2", what this version sends to a
 * receiver that says it reads it):
 *
 *   "QPB2" | u32 BE head length | head (JSON) | blob area
 *   head  = {"format": 2, "node": <sender node_id>, "blobs": [<byte length of each blob>], "entries": [entry]}
 *   entry = {"seq": n, "doc": b, "req"?: b, "res"?: b, "ws"?: [b, ...]}                      (HTTP)
 *         | {"seq": n, "chunk_base"?: n, "doc": b, "chunks": [["c2s" | "s2c", t_us, b], ...]}   (TCP)
 *
 * `b` is a blob number. `doc` is the record's document exactly as the sender's store keeps it (its
 * JSON without payload bytes, record-frames.ts DOC): an HTTP record read from a segment is sent as
 * it lies on disk, never parsed into an object and serialised again, and the receiver stores it as
 * it came once it has checked it. `req`/`res` are the body bytes (absent: empty), `ws` one blob per
 * WebSocket message, in order.
 *
 * Format 1 (magic "QPB1") is still read, and still sent to receivers that do not announce format 2
 * (older QProxy versions) and on NATS (a stream may hold messages for consumers of any version):
 *
 *   "QPB1" | u32 BE head length | head (JSON) | blob area
 *   head  = {"format": 1, "node", "blobs", "entries": [{"seq", "chunk_base"?, "record": <the whole record>}]}
 *
 * where each payload in the record is replaced by `{"$blob": i}`. In both formats payload bytes
 * never go through JSON (binary bodies stay binary, no base64 growth before compression) and
 * decoding hands each payload out as a slice of the batch, no copy.
 */
import type { HttpRecord, HttpRecordHead, QRecord, TcpChunk, TcpRecord, WsMessage } from '../recording/model.js';
import { RECORD_FORMAT_VERSION } from '../recording/model.js';
import { NODE_ID, RecordFault, array, checkRecord, count, object, str, strict, type BlobRef } from './record-check.js';
import { SyncError } from './sync-error.js';

const MAGIC_V1 = Buffer.from('QPB1', 'latin1');
const MAGIC_V2 = Buffer.from('QPB2', 'latin1');
const PREFIX_BYTES = 8;

/** The batch formats this version reads and writes. */
export type WireFormat = 1 | 2;
/** The newest batch format this version reads (and sends to a receiver that reads it too). */
export const WIRE_FORMAT: WireFormat = 2;

/** One unit of sync: a record, or the new part of a TCP session, with its seq in the sender's store. */
export interface SyncEntry {
  seq: number;
  record: QRecord;
  /** TCP only: index of `record.chunks[0]` in the whole session; 0 or absent = from the start. */
  chunkBase?: number;
  /**
   * HTTP only: the record's document as a store wrote it (record-frames.ts DOC), when `record` is
   * exactly what it describes. The sender sends it instead of serialising the record; the receiver
   * has checked it and stores it as is.
   */
  doc?: Buffer;
}

/**
 * An HTTP record as the sender's store keeps it (store feed-item.ts `StoredHttp`): its document and
 * body bytes, frames checked, never parsed. Format 2 sends these as they are; only a format 1 batch
 * (an older receiver) parses the document to rebuild the record.
 */
export interface StoredHttp {
  id: string;
  protocol: 'http';
  started_at: number;
  duration_ms: number;
  doc: Buffer;
  request: Buffer;
  response: Buffer;
  /** The stored extent's length (document, bodies, frame headers): the entry's size within a few bytes. */
  bytes: number;
}

/** An entry the sender read as stored (see {@link StoredHttp}). */
export interface StoredEntry {
  seq: number;
  stored: StoredHttp;
}

/** What a sender puts in a batch. */
export type OutgoingEntry = SyncEntry | StoredEntry;

/**
 * An HTTP record as the receiver gets it from its batch decoder thread (batch-decoder.ts): the
 * document as the sender's store wrote it, already checked against the record model there, its
 * body bytes, and its head (what the index row is made of). The record itself is never built on
 * the receiver's main thread. The store takes it as it is (its `ReceivedHttp`).
 */
export interface ReceivedHttp {
  head: HttpRecordHead;
  doc: Buffer;
  request: Buffer;
  response: Buffer;
}

/** A received entry of a batch the decoder thread checked (see {@link ReceivedHttp}). */
export interface ReceivedEntry {
  seq: number;
  received: ReceivedHttp;
}

/** A batch as the receiver stores it: decoded entries, or HTTP records as received. */
export interface ReceivedBatch {
  node: string;
  entries: ReadonlyArray<SyncEntry | ReceivedEntry>;
}

/** A decoded, validated batch. */
export interface DecodedBatch {
  node: string;
  entries: SyncEntry[];
}

/** Serialises a batch in `format` (the receiver's: see protocol.ts). Payload Buffers are referenced until the final concatenation. */
export function encodeBatch(node: string, entries: readonly OutgoingEntry[], format: WireFormat): Buffer {
  const blobs: Buffer[] = [];
  const lengths: number[] = [];
  const add = (data: Buffer): number => {
    blobs.push(data);
    lengths.push(data.byteLength);
    return blobs.length - 1;
  };
  const wire = format === 1 ? entries.map((e) => v1Entry('stored' in e ? parsedEntry(e) : e, add)) : entries.map((e) => v2Entry(e, add));
  const head = Buffer.from(JSON.stringify({ format, node, blobs: lengths, entries: wire }), 'utf8');
  const prefix = Buffer.allocUnsafe(PREFIX_BYTES);
  (format === 1 ? MAGIC_V1 : MAGIC_V2).copy(prefix, 0);
  prefix.writeUInt32BE(head.byteLength, 4);
  return Buffer.concat([prefix, head, ...blobs]);
}

type Add = (data: Buffer) => number;

/**
 * A stored entry as a record, for format 1. Its document passed its checksum: it is what a store
 * wrote (JSON.stringify's output, or a document a receiver checked before storing it).
 */
function parsedEntry(e: StoredEntry): SyncEntry {
  const s = e.stored;
  const record = JSON.parse(s.doc.toString('utf8')) as HttpRecord;
  record.request.body.data = s.request;
  if (record.response) record.response.body.data = s.response;
  return { seq: e.seq, record };
}

function v1Entry(e: SyncEntry, add: Add): object {
  const ref = (data: Buffer): BlobRef => ({ $blob: add(data) });
  const r = e.record;
  const record =
    r.protocol === 'http'
      ? {
          ...r,
          request: { ...r.request, body: { ...r.request.body, data: ref(r.request.body.data) } },
          response: r.response && { ...r.response, body: { ...r.response.body, data: ref(r.response.body.data) } },
          ...(r.websocket && { websocket: { ...r.websocket, messages: r.websocket.messages.map((m) => ({ ...m, data: ref(m.data) })) } }),
        }
      : { ...r, chunks: r.chunks.map((c) => ({ ...c, data: ref(c.data) })) };
  return { seq: e.seq, ...(e.chunkBase !== undefined && e.chunkBase > 0 && { chunk_base: e.chunkBase }), record };
}

/**
 * An HTTP record's document: the record without its payload bytes, the same JSON the store writes
 * (record-codec.ts httpDoc) — used when the entry does not carry the stored one (a v1 row).
 */
function httpDoc(r: HttpRecord): Buffer {
  const { size: reqSize, truncated: reqTrunc } = r.request.body;
  const doc = {
    ...r,
    request: { ...r.request, body: { size: reqSize, truncated: reqTrunc } },
    response: r.response && { ...r.response, body: { size: r.response.body.size, truncated: r.response.body.truncated } },
    ...(r.websocket && { websocket: { ...r.websocket, messages: r.websocket.messages.map(({ data: _data, ...m }) => m) } }),
  };
  return Buffer.from(JSON.stringify(doc), 'utf8');
}

/** A TCP record's document: everything but its chunks (rebuilt per entry: a split session's part says "open"). */
function tcpDoc(r: TcpRecord): Buffer {
  const { chunks: _chunks, ...rest } = r;
  return Buffer.from(JSON.stringify(rest), 'utf8');
}

function v2Entry(e: OutgoingEntry, add: Add): object {
  if ('stored' in e) {
    const s = e.stored;
    const out: { seq: number; doc: number; req?: number; res?: number } = { seq: e.seq, doc: add(s.doc) };
    if (s.request.byteLength > 0) out.req = add(s.request);
    if (s.response.byteLength > 0) out.res = add(s.response);
    return out;
  }
  const r = e.record;
  if (r.protocol === 'tcp') {
    const chunks = r.chunks.map((c) => [c.dir, c.t_us, add(c.data)]);
    return { seq: e.seq, ...(e.chunkBase !== undefined && e.chunkBase > 0 && { chunk_base: e.chunkBase }), doc: add(tcpDoc(r)), chunks };
  }
  const out: { seq: number; doc: number; req?: number; res?: number; ws?: number[] } = { seq: e.seq, doc: add(e.doc ?? httpDoc(r)) };
  if (r.request.body.data.byteLength > 0) out.req = add(r.request.body.data);
  if (r.response && r.response.body.data.byteLength > 0) out.res = add(r.response.body.data);
  if (r.websocket && r.websocket.messages.length > 0) out.ws = r.websocket.messages.map((m) => add(m.data));
  return out;
}

function malformed(what: string): SyncError {
  return new SyncError('QP_ERR_SYNC_BATCH_MALFORMED', `malformed sync batch: ${what}`);
}

function newerRecord(v: number): SyncError {
  return new SyncError(
    'QP_ERR_SYNC_FORMAT_VERSION',
    `record format ${v} is newer than this receiver reads (up to ${RECORD_FORMAT_VERSION}); upgrade QProxy on the Playback node`,
  );
}

function newerBatch(format: number | string): SyncError {
  return new SyncError(
    'QP_ERR_SYNC_FORMAT_VERSION',
    `sync batch format ${format} is newer than this receiver reads (up to ${WIRE_FORMAT}); upgrade QProxy on the Playback node`,
  );
}

/**
 * A newer sender's batch is refused with its own code, so the sender waits for an upgrade instead
 * of treating its records as bad and skipping them.
 */
function checkV1Versions(head: unknown): void {
  if (typeof head !== 'object' || head === null) return;
  const h = head as { format?: unknown; entries?: unknown };
  if (typeof h.format === 'number' && h.format > WIRE_FORMAT) throw newerBatch(h.format);
  if (!Array.isArray(h.entries)) return;
  for (const e of h.entries as unknown[]) {
    const v = (e as { record?: { v?: unknown } } | null)?.record?.v;
    if (typeof v === 'number' && v > RECORD_FORMAT_VERSION) throw newerRecord(v);
  }
}

/** The batch's format from its magic; a later "QPB<n>" is refused as newer, anything else as malformed. */
function formatOf(buf: Buffer): WireFormat {
  if (buf.byteLength >= 4) {
    const magic = buf.subarray(0, 4);
    if (magic.equals(MAGIC_V2)) return 2;
    if (magic.equals(MAGIC_V1)) return 1;
    const text = magic.toString('latin1');
    if (/^QPB[3-9]$/.test(text)) throw newerBatch(text.slice(3));
  }
  throw malformed('the body does not start with a QPB1 or QPB2 batch header (is the sender a QProxy node of a compatible version?)');
}

function parseHead(buf: Buffer): { head: unknown; blobStart: number } {
  if (buf.byteLength < PREFIX_BYTES) throw malformed(`the body holds ${buf.byteLength} bytes, fewer than a batch header`);
  const headLength = buf.readUInt32BE(4);
  const blobStart = PREFIX_BYTES + headLength;
  if (blobStart > buf.byteLength) throw malformed(`the head claims ${headLength} bytes but the body holds ${buf.byteLength - PREFIX_BYTES}`);
  try {
    return { head: JSON.parse(buf.toString('utf8', PREFIX_BYTES, blobStart)) as unknown, blobStart };
  } catch (err) {
    throw malformed(`the head is not valid JSON (${(err as Error).message})`);
  }
}

interface Slicer {
  /** Blob `i` as a slice of the batch; each may be taken once. */
  take(i: number, where: string): Buffer;
  /** Throws unless every blob was taken. */
  finish(): void;
}

/** Hands out each blob as a slice of `buf`; each may be used once, and all must be used. */
function blobSlicer(buf: Buffer, blobStart: number, lengths: readonly number[]): Slicer {
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
    take(i, where) {
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

const HEAD = new Set(['format', 'node', 'blobs', 'entries']);

/** The head's common fields: `node`, `blobs` and the entries array. */
function checkHead(head: unknown, format: WireFormat): { node: string; blobs: number[]; entries: unknown[] } {
  const h = object(head, '(batch)');
  strict(h, HEAD, '(batch)');
  if (h.format !== format) throw new RecordFault('format', `expected ${format} (the batch starts with QPB${format})`);
  const node = str(h.node, 'node');
  if (!NODE_ID.test(node)) throw new RecordFault('node', 'expected a node id of 1-128 printable characters');
  const blobs = array(h.blobs, 'blobs');
  for (let i = 0; i < blobs.length; i++) count(blobs[i], `blobs[${i}]`);
  return { node, blobs: blobs as number[], entries: array(h.entries, 'entries') };
}

const V1_ENTRY = new Set(['seq', 'chunk_base', 'record']);

/** Puts the blob a format 1 payload refers to in its place (in the parsed head, which is this batch's own). */
function fillRef(holder: { data: unknown }, slicer: Slicer, where: string): void {
  holder.data = slicer.take((holder.data as BlobRef).$blob, where);
}

function v1Entries(entries: unknown[], slicer: Slicer): SyncEntry[] {
  return entries.map((raw, i) => {
    const at = `entries[${i}]`;
    const e = object(raw, at);
    strict(e, V1_ENTRY, at);
    const seq = count(e.seq, `${at}.seq`);
    const chunkBase = e.chunk_base === undefined ? undefined : count(e.chunk_base, `${at}.chunk_base`);
    const protocol = checkRecord(e.record, `${at}.record`, 'refs');
    const record = e.record as QRecord;
    if (protocol === 'http') {
      const r = record as HttpRecord;
      fillRef(r.request.body, slicer, `${at}.record.request.body`);
      if (r.response) fillRef(r.response.body, slicer, `${at}.record.response.body`);
      r.websocket?.messages.forEach((m, j) => fillRef(m, slicer, `${at}.record.websocket.messages[${j}]`));
    } else {
      (record as TcpRecord).chunks.forEach((c, j) => fillRef(c, slicer, `${at}.record.chunks[${j}]`));
    }
    if (chunkBase !== undefined && protocol !== 'tcp') throw malformed(`${at}.chunk_base: only TCP entries carry one`);
    return { seq, record, ...(chunkBase !== undefined && { chunkBase }) };
  });
}

const V2_HTTP_ENTRY = new Set(['seq', 'doc', 'req', 'res', 'ws']);
const V2_TCP_ENTRY = new Set(['seq', 'chunk_base', 'doc', 'chunks']);
const EMPTY = Buffer.alloc(0);

function parseDoc(bytes: Buffer, at: string): unknown {
  let doc: unknown;
  try {
    doc = JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw malformed(`${at}.doc: the record's document is not valid JSON (${(err as Error).message})`);
  }
  const v = (doc as { v?: unknown } | null)?.v;
  if (typeof v === 'number' && v > RECORD_FORMAT_VERSION) throw newerRecord(v);
  return doc;
}

function v2Http(e: Record<string, unknown>, doc: Buffer, record: HttpRecord, at: string, slicer: Slicer): SyncEntry {
  strict(e, V2_HTTP_ENTRY, at);
  const body = (key: 'req' | 'res'): Buffer => (e[key] === undefined ? EMPTY : slicer.take(count(e[key], `${at}.${key}`), `${at}.${key}`));
  record.request.body.data = body('req');
  if (record.response) record.response.body.data = body('res');
  else if (e.res !== undefined) throw new RecordFault(`${at}.res`, 'the record has no response');
  const messages: WsMessage[] = record.websocket?.messages ?? [];
  const ws = e.ws === undefined ? [] : array(e.ws, `${at}.ws`);
  if (ws.length !== messages.length) throw new RecordFault(`${at}.ws`, `expected a blob for each of the record's ${messages.length} WebSocket messages, got ${ws.length}`);
  for (let j = 0; j < ws.length; j++) messages[j]!.data = slicer.take(count(ws[j], `${at}.ws[${j}]`), `${at}.ws[${j}]`);
  return { seq: count(e.seq, `${at}.seq`), record, doc };
}

function v2Tcp(e: Record<string, unknown>, record: TcpRecord, at: string, slicer: Slicer): SyncEntry {
  strict(e, V2_TCP_ENTRY, at);
  const list = array(e.chunks, `${at}.chunks`);
  const chunks: TcpChunk[] = new Array<TcpChunk>(list.length);
  for (let j = 0; j < list.length; j++) {
    const c: unknown = list[j];
    const where = `${at}.chunks[${j}]`;
    if (!Array.isArray(c) || c.length !== 3) throw new RecordFault(where, 'expected ["c2s" | "s2c", t_us, blob]');
    const [dir, tUs, blob] = c as [unknown, unknown, unknown];
    if ((dir !== 'c2s' && dir !== 's2c') || typeof tUs !== 'number' || !Number.isFinite(tUs)) {
      throw new RecordFault(where, 'expected ["c2s" | "s2c", t_us, blob]');
    }
    chunks[j] = { dir, t_us: tUs, data: slicer.take(count(blob, `${where}[2]`), where) };
  }
  record.chunks = chunks;
  const seq = count(e.seq, `${at}.seq`);
  const chunkBase = e.chunk_base === undefined ? undefined : count(e.chunk_base, `${at}.chunk_base`);
  return { seq, record, ...(chunkBase !== undefined && { chunkBase }) };
}

function v2Entries(entries: unknown[], slicer: Slicer): SyncEntry[] {
  return entries.map((raw, i) => {
    const at = `entries[${i}]`;
    const e = object(raw, at);
    const doc = slicer.take(count(e.doc, `${at}.doc`), `${at}.doc`);
    const parsed = parseDoc(doc, at);
    // Its path says "record": it is the record (without payloads), whatever carried it.
    const protocol = checkRecord(parsed, `${at}.record`, 'none');
    return protocol === 'http' ? v2Http(e, doc, parsed as HttpRecord, at, slicer) : v2Tcp(e, parsed as TcpRecord, at, slicer);
  });
}

/**
 * Parses and validates a decompressed batch of either format. Throws SyncError
 * `QP_ERR_SYNC_BATCH_MALFORMED` (with the path of the first bad field) or
 * `QP_ERR_SYNC_FORMAT_VERSION`. Payload Buffers (and format 2 documents) are slices of `buf`.
 */
export function decodeBatch(buf: Buffer): DecodedBatch {
  const format = formatOf(buf);
  const { head, blobStart } = parseHead(buf);
  try {
    if (format === 1) checkV1Versions(head);
    const h = checkHead(head, format);
    const slicer = blobSlicer(buf, blobStart, h.blobs);
    const entries = format === 1 ? v1Entries(h.entries, slicer) : v2Entries(h.entries, slicer);
    slicer.finish();
    return { node: h.node, entries };
  } catch (err) {
    if (err instanceof RecordFault) throw malformed(err.message);
    throw err;
  }
}
