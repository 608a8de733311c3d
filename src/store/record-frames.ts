/**
 * How a record becomes the frames of one extent in a segment (see segment-format.ts), and back:
 *
 * ```
 * HTTP extent = DOC [REQUEST_BODY] [RESPONSE_BODY] [WEBSOCKET]   (an empty body has no frame; WEBSOCKET
 *                                                                  only for an upgrade with messages)
 * TCP  extent = DOC [TCP]                              (the chunks of this write, tcp-frames.ts layout)
 * ```
 *
 * DOC is the record's JSON without payload bytes, exactly what the v1 store kept in `records.doc`.
 * Large body and all chunk bytes are not copied on the way in: the frame list references the
 * captured Buffers, and only headers and the JSON text are written into an arena. A body of at most
 * SMALL_BODY_BYTES is copied next to its document instead (capture.ts never puts such a body in a
 * slab, so nothing needs handing back for it). A TCP session written in several extents has a DOC
 * in each (the latest totals and state); the last one wins.
 */
import { StoreError } from '../core/errors.js';
import { SMALL_BODY_BYTES, releaseBodies } from '../recording/capture.js';
import { httpRecordHead, type HttpRecord, type HttpRecordHead, type QRecord, type TcpChunk, type TcpRecord, type WsMessage } from '../recording/model.js';
import { framedTcpChunks, releaseTcpChunks } from '../recording/tcp-capture.js';
import { FRAME_HEADER_BYTES, FrameKind, readFrame, writeFrameHeader } from './segment-format.js';
import type { PendingExtent } from './segment-log.js';
import { formatEndpoint, httpDoc, tcpDoc, type IndexColumns } from './record-codec.js';
import { FRAME_HEADER_BYTES as CHUNK_HEADER_BYTES, unframeTcpChunks, writeChunkHeader } from './tcp-frames.js';

/** Arena buffers are allocated this large (or larger, for one large document). */
const ARENA_BYTES = 256 * 1024;

const NO_BODIES: readonly Buffer[] = [];
const EMPTY = Buffer.alloc(0);

/** Bits of `records.marks`: what the index says about a record without reading its frames. */
export const Marks = {
  requestTruncated: 1,
  /** HTTP: the response body was truncated; TCP: the session's bytes were. */
  responseTruncated: 2,
  redacted: 4,
} as const;

/**
 * Where the headers and JSON documents of one batch are written: a few large buffers instead of
 * one small allocation per frame. The Buffers it hands out stay valid until the batch is written.
 */
export class FrameArena {
  private buf = Buffer.allocUnsafe(0);
  private at = 0;

  /** A fresh region of `n` bytes. */
  take(n: number): { buf: Buffer; at: number } {
    if (this.buf.byteLength - this.at < n) {
      this.buf = Buffer.allocUnsafe(Math.max(ARENA_BYTES, n));
      this.at = 0;
    }
    const region = { buf: this.buf, at: this.at };
    this.at += n;
    return region;
  }
}

/** A record ready for the log: its frames, its index columns, and the captured bodies to hand back once written. */
export interface FramedRecord extends PendingExtent {
  columns: IndexColumns;
  /** The captured body Buffers the pieces still reference (see capture.ts `releaseBodies`); small bodies are copied, so not among them. */
  bodies: readonly Buffer[];
  /** TCP chunks laid out in the recorder's slabs: hands those slabs back (tcp-capture.ts `releaseTcpChunks`). */
  releaseChunks?: () => void;
}

/** Called by the store once a framed record's bytes are written or dropped: the slabs they lie in go back for reuse. */
export function releaseFramed(framed: FramedRecord): void {
  releaseBodies(framed.bodies);
  framed.releaseChunks?.();
}

/**
 * The DOC frame (header and text in one arena region) plus `extra` bytes right after it, for the
 * headers (and inlined payloads) of the frames that follow. A document received by sync arrives as
 * the bytes the sender stored and is copied as it is.
 */
function docFrame(arena: FrameArena, doc: string | Buffer, extra: number): { region: Buffer; docBytes: number } {
  const docBytes = typeof doc === 'string' ? Buffer.byteLength(doc) : doc.byteLength;
  const { buf, at } = arena.take(FRAME_HEADER_BYTES + docBytes + extra);
  if (typeof doc === 'string') buf.write(doc, at + FRAME_HEADER_BYTES, docBytes, 'utf8');
  else doc.copy(buf, at + FRAME_HEADER_BYTES);
  writeFrameHeader(buf, at, FrameKind.doc, [buf.subarray(at + FRAME_HEADER_BYTES, at + FRAME_HEADER_BYTES + docBytes)], docBytes);
  return { region: buf.subarray(at, at + FRAME_HEADER_BYTES + docBytes + extra), docBytes };
}

/** A frame after the DOC: its kind, payload pieces and length, and whether its payload is copied into the arena. */
type BodyFrame = [kind: FrameKind, data: Uint8Array[], bytes: number, inline: boolean];

function frameHttp(record: HttpRecord, arena: FrameArena, storedDoc: Buffer | undefined): FramedRecord {
  const res = record.response?.body.data;
  return frameHttpParts(httpRecordHead(record), storedDoc ?? httpDoc(record), record.request.body.data, res ?? EMPTY, record.websocket?.messages, arena);
}

/**
 * The extent of an HTTP record from its parts: the document (text, or the bytes another store
 * wrote), the body bytes, the WebSocket messages, and the head the index row is made of.
 */
function frameHttpParts(head: HttpRecordHead, doc: string | Buffer, req: Buffer, res: Buffer, messages: readonly WsMessage[] | undefined, arena: FrameArena): FramedRecord {
  const frames: BodyFrame[] = [];
  // A small body is copied next to the document (one region, one write piece, and the captured
  // Buffer is free at once); a large one is written from the Buffer it was captured in.
  if (req.byteLength > 0) frames.push([FrameKind.requestBody, [req], req.byteLength, req.byteLength <= SMALL_BODY_BYTES]);
  if (res.byteLength > 0) frames.push([FrameKind.responseBody, [res], res.byteLength, res.byteLength <= SMALL_BODY_BYTES]);
  let wsBytes = 0;
  if (messages && messages.length > 0) {
    const framed = wsPayload(messages, arena);
    wsBytes = framed.bytes;
    frames.push([FrameKind.websocket, framed.pieces, framed.length, false]);
  }
  let extra = 0;
  for (const [, , bytes, inline] of frames) extra += FRAME_HEADER_BYTES + (inline ? bytes : 0);
  const { region, docBytes } = docFrame(arena, doc, extra);
  // Arena bytes go out as slices of the region, cut where a referenced payload comes in between.
  const pieces: Uint8Array[] = [];
  let held = NO_BODIES;
  let cut = FRAME_HEADER_BYTES + docBytes;
  let from = 0;
  let length = cut;
  for (const [kind, data, bytes, inline] of frames) {
    writeFrameHeader(region, cut, kind, data, bytes);
    cut += FRAME_HEADER_BYTES;
    length += FRAME_HEADER_BYTES + bytes;
    if (inline) {
      region.set(data[0]!, cut);
      cut += bytes;
      continue;
    }
    pieces.push(region.subarray(from, cut), ...data);
    if (kind !== FrameKind.websocket) held = held === NO_BODIES ? [data[0] as Buffer] : [...held, data[0] as Buffer];
    from = cut;
  }
  if (cut > from) pieces.push(from === 0 ? region : region.subarray(from, cut));
  const payload = req.byteLength + res.byteLength + wsBytes;
  return { pieces, length, columns: httpColumns(head, docBytes + payload), bodies: held };
}

/** The WEBSOCKET frame's payload: each message's length (from the arena) and its bytes (referenced). */
function wsPayload(messages: readonly WsMessage[], arena: FrameArena): { pieces: Uint8Array[]; length: number; bytes: number } {
  const heads = arena.take(messages.length * 4);
  const pieces: Uint8Array[] = [];
  let bytes = 0;
  for (let i = 0; i < messages.length; i++) {
    const data = messages[i]!.data;
    const at = heads.at + i * 4;
    heads.buf.writeUInt32LE(data.byteLength, at);
    pieces.push(heads.buf.subarray(at, at + 4));
    if (data.byteLength > 0) pieces.push(data);
    bytes += data.byteLength;
  }
  return { pieces, length: messages.length * 4 + bytes, bytes };
}

/** Puts the WEBSOCKET frame's payloads back into the DOC's messages; false when they do not fit. */
function wsRestore(messages: WsMessage[], payload: Buffer | null): boolean {
  let at = 0;
  for (const m of messages) {
    if (payload === null) {
      m.data = EMPTY;
      continue;
    }
    if (at + 4 > payload.byteLength) return false;
    const len = payload.readUInt32LE(at);
    if (at + 4 + len > payload.byteLength) return false;
    m.data = payload.subarray(at + 4, at + 4 + len);
    at += 4 + len;
  }
  return payload === null || at === payload.byteLength;
}

function frameTcp(record: TcpRecord, arena: FrameArena): FramedRecord {
  const doc = tcpDoc(record);
  const chunks = record.chunks;
  const { region, docBytes } = docFrame(arena, doc, chunks.length > 0 ? FRAME_HEADER_BYTES : 0);
  if (chunks.length === 0) {
    return { pieces: [region], length: region.byteLength, columns: tcpColumns(record, docBytes, 0), bodies: NO_BODIES };
  }
  // Chunks the recorder already laid out (tcp-capture.ts) go as the few runs they lie in.
  const laid = framedTcpChunks(record);
  let payload: Uint8Array[];
  let payloadBytes = 0;
  let dataBytes = 0;
  if (laid) {
    payload = laid.pieces;
    payloadBytes = laid.bytes;
    dataBytes = payloadBytes - chunks.length * CHUNK_HEADER_BYTES;
  } else {
    const heads = arena.take(chunks.length * CHUNK_HEADER_BYTES);
    payload = [];
    for (let i = 0; i < chunks.length; i++) {
      const c = chunks[i]!;
      const at = heads.at + i * CHUNK_HEADER_BYTES;
      writeChunkHeader(heads.buf, at, c.dir, c.t_us, c.data.byteLength);
      payload.push(heads.buf.subarray(at, at + CHUNK_HEADER_BYTES), c.data);
      payloadBytes += CHUNK_HEADER_BYTES + c.data.byteLength;
      dataBytes += c.data.byteLength;
    }
  }
  const cut = FRAME_HEADER_BYTES + docBytes;
  writeFrameHeader(region, cut, FrameKind.tcp, payload, payloadBytes);
  return {
    pieces: [region, ...payload],
    length: region.byteLength + payloadBytes,
    columns: tcpColumns(record, docBytes + dataBytes, chunks.length),
    bodies: NO_BODIES,
    ...(laid && { releaseChunks: () => releaseTcpChunks(record) }),
  };
}

function tcpColumns(record: TcpRecord, sizeBytes: number, nchunks: number): IndexColumns {
  return {
    id: record.id,
    protocol: 'tcp',
    node_id: record.node_id,
    // The column orders pages and cursors; the exact value stays in the document.
    started_at: Math.trunc(record.started_at),
    duration_ms: record.duration_ms,
    size_bytes: sizeBytes,
    method: null,
    url: null,
    status: null,
    client: formatEndpoint(record.client),
    downstream: record.downstream,
    bytes_in: record.bytes_in,
    bytes_out: record.bytes_out,
    error: record.error?.code ?? null,
    state: record.state,
    marks: (record.redacted.length > 0 ? Marks.redacted : 0) | (record.truncated ? Marks.responseTruncated : 0),
    nchunks,
  };
}

function httpColumns(head: HttpRecordHead, sizeBytes: number): IndexColumns {
  return {
    id: head.id,
    protocol: 'http',
    node_id: head.node_id,
    started_at: Math.trunc(head.started_at),
    duration_ms: head.duration_ms,
    size_bytes: sizeBytes,
    method: head.method,
    url: head.url,
    status: head.status,
    client: formatEndpoint(head.client),
    downstream: head.downstream,
    bytes_in: head.bytes_in,
    bytes_out: head.bytes_out,
    error: head.error,
    state: null,
    marks: (head.redacted ? Marks.redacted : 0) | (head.request_truncated ? Marks.requestTruncated : 0) | (head.response_truncated ? Marks.responseTruncated : 0),
    nchunks: null,
  };
}

/**
 * Turns a record into the frames of one extent and its index columns. Payload Buffers are
 * referenced, not copied. `doc`: an HTTP record's DOC as another store wrote it (sync), already
 * validated to be exactly this record without its payloads; it is stored as is instead of
 * serialising the record again. Ignored for TCP (the receiver may have trimmed the session).
 */
export function frameRecord(record: QRecord, arena: FrameArena, doc?: Buffer): FramedRecord {
  return record.protocol === 'tcp' ? frameTcp(record, arena) : frameHttp(record, arena, doc);
}

/**
 * An HTTP record as another store kept it, received by sync: its document exactly as that store
 * wrote it (checked by the receiver against the record model), its body bytes, and the head its
 * index row is made of. Stored without the record ever being built.
 */
export interface ReceivedHttp {
  head: HttpRecordHead;
  doc: Buffer;
  request: Buffer;
  response: Buffer;
}

/** The extent and index columns of a received HTTP record (see {@link ReceivedHttp}). */
export function frameReceived(item: ReceivedHttp, arena: FrameArena): FramedRecord {
  return frameHttpParts(item.head, item.doc, item.request, item.response, undefined, arena);
}

function damaged(id: string, what: string): StoreError {
  return new StoreError('QP_ERR_STORE_DAMAGED', `record ${id} is damaged: ${what}; it cannot be read (delete it, or restore the store from a backup)`);
}

/** The frames of one extent, checked: any fault makes the record damaged. */
export function framesOf(id: string, extent: Buffer, where: string): Array<{ kind: FrameKind; payload: Buffer }> {
  const frames: Array<{ kind: FrameKind; payload: Buffer }> = [];
  for (let at = 0; at < extent.byteLength; ) {
    const f = readFrame(extent, at);
    if (typeof f === 'string') {
      const why = f === 'checksum' ? 'fails its checksum' : f === 'short' ? 'is cut short' : 'has an unknown kind (written by a newer QProxy?)';
      throw damaged(id, `the frame at ${where}+${at} ${why}`);
    }
    frames.push(f);
    at += FRAME_HEADER_BYTES + f.payload.byteLength;
  }
  return frames;
}

/**
 * Rebuilds a record from its extents in write order. `base` is what a v1 row already held (its
 * document and TCP chunks) when extents were appended to it after the upgrade. Throws StoreError
 * `QP_ERR_STORE_DAMAGED` when a frame fails its checksum or the extents hold no document.
 */
export function readRecord(id: string, extents: ReadonlyArray<{ bytes: Buffer; where: string }>, base: QRecord | null = null): QRecord {
  return readRecordAndDoc(id, extents, base).record;
}

/**
 * {@link readRecord}, plus the DOC frame's bytes for an HTTP record read from its extent (null
 * for TCP and for a record whose document came from `base`): what sync sends as it lies on disk.
 */
export function readRecordAndDoc(
  id: string,
  extents: ReadonlyArray<{ bytes: Buffer; where: string }>,
  base: QRecord | null = null,
): { record: QRecord; doc: Buffer | null } {
  let doc: Buffer | null = null;
  let req: Buffer | null = null;
  let res: Buffer | null = null;
  let ws: Buffer | null = null;
  const tcp: Buffer[] = [];
  for (const e of extents) {
    for (const f of framesOf(id, e.bytes, e.where)) {
      if (f.kind === FrameKind.doc) doc = f.payload;
      else if (f.kind === FrameKind.requestBody) req = f.payload;
      else if (f.kind === FrameKind.responseBody) res = f.payload;
      else if (f.kind === FrameKind.websocket) ws = f.payload;
      else tcp.push(f.payload);
    }
  }
  if (doc === null && base === null) throw damaged(id, 'none of its frames is its document');
  let record: QRecord;
  try {
    record = doc === null ? base! : (JSON.parse(doc.toString('utf8')) as QRecord);
  } catch {
    throw damaged(id, 'its document is not JSON');
  }
  if (record.protocol === 'tcp') {
    let chunks: TcpChunk[];
    try {
      chunks = unframeTcpChunks(tcp);
    } catch (err) {
      throw damaged(id, (err as Error).message);
    }
    record.chunks = base?.protocol === 'tcp' ? [...base.chunks, ...chunks] : chunks;
    return { record, doc: null };
  }
  record.request.body.data = req ?? EMPTY;
  if (record.response) record.response.body.data = res ?? EMPTY;
  if (record.websocket && !wsRestore(record.websocket.messages, ws)) throw damaged(id, 'its WebSocket frame does not hold its messages');
  return { record, doc };
}
