import type { CapturedBody, Endpoint, HttpRecord, QRecord, RecordSummary, TcpRecord } from '../recording/model.js';
import { frameTcpChunks, unframeTcpChunks } from './tcp-frames.js';

/**
 * How a record maps onto the `records` row and its `chunks` ("分片存储"): bodies leave the JSON
 * document; one that fits in a single chunk is stored inline in the row (req_body/res_body), a
 * larger one as BLOB chunks of at most {@link CHUNK_BYTES}, so that no single SQLite value grows
 * with the capture limit and readers can page through large payloads. A TCP session's
 * chunks are framed into rows of part {@link TCP_PART} (see tcp-frames.ts).
 */
export const CHUNK_BYTES = 256 * 1024;

/** The `chunks.part` of a TCP session's framed chunk rows. */
export const TCP_PART = 'tcp';

/** Memory a queued record is charged for beyond its body bytes (headers, URL, the object itself). */
export const RECORD_OVERHEAD_BYTES = 1024;

/** The columns of one `records` row, as the writer inserts them. */
export interface RecordRow {
  id: string;
  protocol: string;
  node_id: string;
  started_at: number;
  duration_ms: number;
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
  doc: string;
  /** HTTP bodies of at most {@link CHUNK_BYTES}, stored inline; null when in chunk rows (or for TCP). */
  req_body: Uint8Array | null;
  res_body: Uint8Array | null;
}

/** The list columns read back for a summary (the row without its document and bodies). */
export type SummaryRow = Omit<RecordRow, 'doc' | 'req_body' | 'res_body'>;

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
  return bytes;
}

function formatEndpoint(ep: Endpoint): string {
  return ep.address.includes(':') ? `[${ep.address}]:${ep.port}` : `${ep.address}:${ep.port}`;
}

const EMPTY = Buffer.alloc(0);

function bodyWithoutData(body: CapturedBody): Omit<CapturedBody, 'data'> {
  return { size: body.size, truncated: body.truncated };
}

/** Splits a record into its row (document without body or chunk bytes) and its chunk rows. */
export function encodeRecord(record: QRecord): { row: RecordRow; chunks: Chunk[] } {
  return record.protocol === 'tcp' ? encodeTcp(record) : encodeHttp(record);
}

function encodeHttp(record: HttpRecord): { row: RecordRow; chunks: Chunk[] } {
  const req = record.request;
  const res = record.response;
  const docObject = {
    ...record,
    request: { ...req, body: bodyWithoutData(req.body) },
    response: res && { ...res, body: bodyWithoutData(res.body) },
  };
  const doc = JSON.stringify(docObject);
  const chunks: Chunk[] = [];
  const reqData = req.body.data;
  const resData = res?.body.data ?? null;
  const bodyBytes = reqData.byteLength + (resData?.byteLength ?? 0);
  const row: RecordRow = {
    id: record.id,
    protocol: record.protocol,
    node_id: record.node_id,
    // The column orders pages and cursors; the exact value stays in the document.
    started_at: Math.trunc(record.started_at),
    duration_ms: record.duration_ms,
    size_bytes: bodyBytes + Buffer.byteLength(doc),
    method: req.method,
    url: req.url,
    status: record.status,
    client: formatEndpoint(record.client),
    downstream: record.downstream,
    bytes_in: req.body.size,
    bytes_out: res?.body.size ?? 0,
    error: record.error?.code ?? null,
    state: null,
    doc,
    req_body: inlineOrChunks('request.body', reqData, chunks),
    res_body: resData && inlineOrChunks('response.body', resData, chunks),
  };
  return { row, chunks };
}

/** A body that fits in one chunk is returned to be stored inline; a larger one is cut into `chunks`. */
function inlineOrChunks(part: string, data: Buffer, chunks: Chunk[]): Uint8Array | null {
  if (data.byteLength <= CHUNK_BYTES) return data;
  for (let off = 0, idx = 0; off < data.byteLength; off += CHUNK_BYTES, idx++) {
    chunks.push({ part, idx, data: data.subarray(off, off + CHUNK_BYTES) });
  }
  return null;
}

/**
 * A TCP record or segment. Chunk rows are numbered from 0; the writer shifts them past the rows
 * already stored when the segment extends an open session.
 */
function encodeTcp(record: TcpRecord): { row: RecordRow; chunks: Chunk[] } {
  const { chunks: sessionChunks, ...rest } = record;
  const doc = JSON.stringify(rest);
  const rows = frameTcpChunks(sessionChunks, CHUNK_BYTES);
  let chunkBytes = 0;
  const chunks = rows.map((data, idx) => {
    chunkBytes += data.byteLength;
    return { part: TCP_PART, idx, data };
  });
  const row: RecordRow = {
    id: record.id,
    protocol: record.protocol,
    node_id: record.node_id,
    started_at: Math.trunc(record.started_at),
    duration_ms: record.duration_ms,
    size_bytes: chunkBytes + Buffer.byteLength(doc),
    method: null,
    url: null,
    status: null,
    client: formatEndpoint(record.client),
    downstream: record.downstream,
    bytes_in: record.bytes_in,
    bytes_out: record.bytes_out,
    error: record.error?.code ?? null,
    state: record.state,
    doc,
    req_body: null,
    res_body: null,
  };
  return { row, chunks };
}

/**
 * Rebuilds the full record from its stored document, inline bodies and chunks. `chunksOf` is called
 * only when some body (or a TCP session's data) is in chunk rows; it returns them ordered by part, then idx.
 */
export function decodeRecord(stored: StoredDoc, chunksOf: () => Array<{ part: string; data: Buffer }>): QRecord {
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
