import { errorMessage } from '../core/errors.js';
import type { QRecord } from '../recording/model.js';
import { encodeRecord, type Chunk, type RecordRow } from './record-codec.js';
import type { WriterFailure } from './writer-protocol.js';

/**
 * A batch of records as it crosses to the writer thread. Posting the records themselves cost more
 * CPU than storing them: the structured clone walks every nested object and header pair twice
 * (serialize on the main thread, deserialize in the writer). So the main thread encodes each record
 * into its row (the JSON document is a string, cheap to clone) and posts flat arrays of primitives
 * plus one transferred buffer holding every body and chunk byte of the batch.
 */
export interface PackedBatch {
  /** Records that made it into `rows`. */
  count: number;
  /** {@link ROW_FIELDS} values per record: the row's columns, then its inline bodies and chunk count. */
  rows: Array<string | number | null>;
  /** {@link CHUNK_FIELDS} values per chunk row, the records' chunks in record order. */
  chunks: Array<string | number>;
  /** Every inline body and chunk byte, referenced by offset and length. */
  bytes: ArrayBuffer;
  /** Records that could not be encoded (they are lost) and why the last one failed. */
  failed: number;
  error: WriterFailure | null;
}

const ROW_FIELDS = 21;
const CHUNK_FIELDS = 4;
/** Offset value of an absent inline body (the column is NULL). */
const NO_BODY = -1;

/** A record as rows: what the writer inserts. */
export type Encoded = { row: RecordRow; chunks: Chunk[] };

/**
 * Encodes records for the writer without touching them: every byte is copied into the batch buffer,
 * so the caller's Buffers (socket reads, a TCP segment's chunks already written to the other
 * socket) are never detached. Records that cannot be encoded are counted in `failed`.
 */
export function packBatch(records: readonly QRecord[]): PackedBatch {
  const encoded: Encoded[] = [];
  let failed = 0;
  let error: WriterFailure | null = null;
  let total = 0;
  for (let i = 0; i < records.length; i++) {
    const record = records[i]!;
    try {
      const e = encodeRecord(record);
      total += (e.row.req_body?.byteLength ?? 0) + (e.row.res_body?.byteLength ?? 0);
      for (const c of e.chunks) total += c.data.byteLength;
      encoded.push(e);
    } catch (err) {
      failed++;
      error = { code: 'QP_ERR_STORE_RECORD', message: `record ${i} (${String(record.id)}) could not be encoded: ${errorMessage(err)}` };
    }
  }
  const bytes = new ArrayBuffer(total);
  const view = new Uint8Array(bytes);
  let off = 0;
  const put = (data: Uint8Array): number => {
    const at = off;
    view.set(data, at);
    off += data.byteLength;
    return at;
  };
  const rows: PackedBatch['rows'] = [];
  const chunks: PackedBatch['chunks'] = [];
  for (const { row, chunks: cs } of encoded) {
    const req = row.req_body;
    const res = row.res_body;
    rows.push(
      row.id, row.protocol, row.node_id, row.started_at, row.duration_ms, row.size_bytes, row.method, row.url,
      row.status, row.client, row.downstream, row.bytes_in, row.bytes_out, row.error, row.state, row.doc,
      req ? put(req) : NO_BODY, req?.byteLength ?? 0,
      res ? put(res) : NO_BODY, res?.byteLength ?? 0,
      cs.length,
    );
    for (const c of cs) chunks.push(c.part, c.idx, put(c.data), c.data.byteLength);
  }
  return { count: encoded.length, rows, chunks, bytes, failed, error };
}

/** The writer's side of {@link packBatch}: rows and chunks whose bytes are views of the batch buffer. */
export function unpackBatch(batch: PackedBatch): Encoded[] {
  const { rows: v, chunks: c, bytes } = batch;
  const body = (off: number, len: number): Uint8Array | null => (off === NO_BODY ? null : new Uint8Array(bytes, off, len));
  const out: Encoded[] = [];
  let ci = 0;
  for (let i = 0; i < batch.count; i++) {
    const b = i * ROW_FIELDS;
    const row: RecordRow = {
      id: v[b] as string,
      protocol: v[b + 1] as string,
      node_id: v[b + 2] as string,
      started_at: v[b + 3] as number,
      duration_ms: v[b + 4] as number,
      size_bytes: v[b + 5] as number,
      method: v[b + 6] as string | null,
      url: v[b + 7] as string | null,
      status: v[b + 8] as number | null,
      client: v[b + 9] as string | null,
      downstream: v[b + 10] as string | null,
      bytes_in: v[b + 11] as number | null,
      bytes_out: v[b + 12] as number | null,
      error: v[b + 13] as string | null,
      state: v[b + 14] as string | null,
      doc: v[b + 15] as string,
      req_body: body(v[b + 16] as number, v[b + 17] as number),
      res_body: body(v[b + 18] as number, v[b + 19] as number),
    };
    const chunks: Chunk[] = [];
    for (let n = v[b + 20] as number; n > 0; n--, ci += CHUNK_FIELDS) {
      chunks.push({ part: c[ci] as string, idx: c[ci + 1] as number, data: new Uint8Array(bytes, c[ci + 2] as number, c[ci + 3] as number) });
    }
    out.push({ row, chunks });
  }
  return out;
}
