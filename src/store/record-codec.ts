import type { CapturedBody, Endpoint, HttpRecord, QRecord, RecordSummary, TcpRecord, WsMessage } from '../recording/model.js';
import { unframeTcpChunks } from './tcp-frames.js';

/**
 * Records as the index sees them, and the v1 layout still read from stores made before segments:
 * there bodies left the JSON document; one that fit in a single chunk was stored inline in the row
 * (req_body/res_body), a larger one as BLOB chunks of at most {@link CHUNK_BYTES}; a TCP session's
 * chunks were framed into rows of part {@link TCP_PART} (see tcp-frames.ts).
 */
export const CHUNK_BYTES = 256 * 1024;

/** The `chunks.part` of a TCP session's framed chunk rows. */
export const TCP_PART = 'tcp';

/** Memory a queued record is charged for beyond its body bytes (headers, URL, the object itself). */
export const RECORD_OVERHEAD_BYTES = 1024;

/** The index columns of a record (v2: its payload is in a segment, see record-frames.ts). */
export interface IndexColumns {
  id: string;
  protocol: string;
  node_id: string;
  started_at: number;
  duration_ms: number;
  /** Stored bytes: the JSON document plus payload (body or chunk) bytes; a TCP session adds each written part's. */
  size_bytes: number;
  method: string | null;
  url: string | null;
  status: number | null;
  client: string | null;
  downstream: string | null;
  bytes_in: number | null;
  bytes_out: number | null;
  error: string | null;
  /** TCP sessions: "open" while segments may still arrive, then "closed". Null for HTTP. */
  state: string | null;
  /** Bits of record-frames.ts `Marks` (truncated bodies, redaction). */
  marks: number;
  /** TCP: chunks in this write. Null for HTTP. */
  nchunks: number | null;
}

/** The list columns read back for a summary. */
export type SummaryRow = Omit<IndexColumns, 'marks' | 'nchunks'>;

/** A stored document with its inline bodies, as read back (see {@link decodeRecord}). */
export interface StoredDoc {
  doc: string;
  req_body: Buffer | null;
  res_body: Buffer | null;
}

/** One stored slice of a body. `part` names the body ("request.body"), `idx` orders the slices. */
export interface Chunk {
  part: string;
  idx: number;
  data: Uint8Array;
}

interface BodyRef {
  part: string;
  body: CapturedBody;
}

/** The bodies an HTTP record carries, each with the part name its chunks are stored under. */
export function bodiesOf(record: HttpRecord): BodyRef[] {
  const refs: BodyRef[] = [{ part: 'request.body', body: record.request.body }];
  if (record.response) refs.push({ part: 'response.body', body: record.response.body });
  return refs;
}

/** Bytes a queued record is charged against the queue's byte bound; cheap and never throws on a well-formed record. */
export function queuedBytes(record: QRecord): number {
  let bytes = RECORD_OVERHEAD_BYTES;
  if (record.protocol === 'tcp') {
    for (const c of record.chunks) bytes += c.data.byteLength;
    return bytes;
  }
  bytes += record.request.body.data.byteLength;
  if (record.response) bytes += record.response.body.data.byteLength;
  if (record.websocket) for (const m of record.websocket.messages) bytes += m.data.byteLength;
  return bytes;
}

export function formatEndpoint(ep: Endpoint): string {
  return ep.address.includes(':') ? `[${ep.address}]:${ep.port}` : `${ep.address}:${ep.port}`;
}

const EMPTY = Buffer.alloc(0);

function bodyWithoutData(body: CapturedBody): Omit<CapturedBody, 'data'> {
  return { size: body.size, truncated: body.truncated };
}

/**
 * An HTTP record's JSON document: everything but the body bytes. The bodies are swapped for their
 * size and truncation mark for the length of the JSON.stringify call and put back: cheaper on the
 * recording hot path than copying the record, its request and response to leave `data` out.
 */
export function httpDoc(record: HttpRecord): string {
  const req = record.request.body;
  const res = record.response?.body;
  const ws = record.websocket;
  try {
    record.request.body = bodyWithoutData(req) as CapturedBody;
    if (record.response) record.response.body = bodyWithoutData(res!) as CapturedBody;
    // WebSocket payloads are a frame of their own (see record-frames.ts); the DOC keeps the rest of each message.
    if (ws) record.websocket = { ...ws, messages: ws.messages.map(({ data: _data, ...m }) => m as WsMessage) };
    return JSON.stringify(record);
  } finally {
    record.request.body = req;
    if (record.response) record.response.body = res!;
    if (ws) record.websocket = ws;
  }
}

/** A TCP record's JSON document: everything but its chunks. */
export function tcpDoc(record: TcpRecord): string {
  const { chunks: _chunks, ...rest } = record;
  return JSON.stringify(rest);
}

/**
 * Rebuilds a v1 record (schema version 1, kept in SQLite) from its stored document, inline bodies and chunks. `chunksOf` is called
 * only when some body (or a TCP session's data) is in chunk rows; it returns them ordered by part, then idx.
 */
export function decodeLegacyRecord(stored: StoredDoc, chunksOf: () => Array<{ part: string; data: Buffer }>): QRecord {
  const record = JSON.parse(stored.doc) as QRecord;
  if (record.protocol === 'tcp') {
    record.chunks = unframeTcpChunks(chunksOf().filter((c) => c.part === TCP_PART).map((c) => c.data));
    return record;
  }
  const req = record.request.body;
  const res = record.response?.body;
  req.data = stored.req_body ?? EMPTY;
  if (res) res.data = stored.res_body ?? EMPTY;
  if (stored.req_body !== null && (!res || stored.res_body !== null)) return record;
  const byPart = new Map<string, Buffer[]>();
  for (const c of chunksOf()) {
    const list = byPart.get(c.part);
    if (list) list.push(c.data);
    else byPart.set(c.part, [c.data]);
  }
  for (const { part, body } of bodiesOf(record)) {
    const list = byPart.get(part);
    if (list) body.data = list.length === 1 ? list[0]! : Buffer.concat(list);
  }
  return record;
}

/** The SPEC §7 list item for a row. */
export function toSummary(row: SummaryRow): RecordSummary {
  return {
    id: row.id,
    protocol: row.protocol as RecordSummary['protocol'],
    node_id: row.node_id,
    started_at: new Date(row.started_at).toISOString(),
    duration_ms: row.duration_ms,
    size_bytes: row.size_bytes,
    ...(row.method !== null && { method: row.method }),
    ...(row.url !== null && { url: row.url }),
    status: row.status,
    ...(row.client !== null && { client: row.client }),
    downstream: row.downstream,
    ...(row.bytes_in !== null && { bytes_in: row.bytes_in }),
    ...(row.bytes_out !== null && { bytes_out: row.bytes_out }),
    error: row.error,
    ...((row.state === 'open' || row.state === 'closed') && { state: row.state }),
  };
}
