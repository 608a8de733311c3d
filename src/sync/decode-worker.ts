/**
 * The sync receiver's batch decoder thread (see batch-decoder.ts): decompresses a batch, decodes
 * and checks it with the same code as the main thread would (wire-format.ts), and sends back the
 * decompressed bytes with, for each HTTP record, its head and where its document and bodies lie.
 * Parsing and checking every record's document is most of a receiver's work per record, and the
 * objects it makes are most of its garbage: both stay in this thread.
 */
import { parentPort } from 'node:worker_threads';
import { errorMessage } from '../core/errors.js';
import { httpRecordHead, type HttpRecordHead } from '../recording/model.js';
import { decompress } from './compression.js';
import { SPAN_FIELDS, type DecodeJob, type DecodeReply } from './decode-protocol.js';
import { SyncError } from './sync-error.js';
import { decodeBatch, type DecodedBatch } from './wire-format.js';

/** Smaller Buffers may be slices of Node's shared pool, which must not be transferred: they are copied. */
const POOLED_BELOW = 4096;

/** `raw` as bytes this thread may give away: itself when it owns its memory, else a copy. */
function owned(raw: Buffer): Uint8Array {
  return raw.byteLength >= POOLED_BELOW ? raw : Uint8Array.prototype.slice.call(raw);
}

/** Heads and spans of a batch whose entries are all HTTP records with their documents; null otherwise. */
function receivedOf(batch: DecodedBatch, raw: Buffer): { spans: Float64Array; heads: HttpRecordHead[] } | null {
  const spans = new Float64Array(batch.entries.length * SPAN_FIELDS);
  const heads: HttpRecordHead[] = [];
  let n = 0;
  const span = (b: Buffer): void => {
    spans[n++] = b.byteLength === 0 ? 0 : b.byteOffset - raw.byteOffset;
    spans[n++] = b.byteLength;
  };
  for (const e of batch.entries) {
    const r = e.record;
    if (r.protocol !== 'http' || !e.doc || r.websocket) return null;
    spans[n++] = e.seq;
    span(e.doc);
    span(r.request.body.data);
    span(r.response?.body.data ?? raw.subarray(0, 0));
    heads.push(httpRecordHead(r));
  }
  return { spans, heads };
}

async function decodeJob(job: DecodeJob): Promise<{ reply: DecodeReply; transfer: ArrayBuffer[] }> {
  try {
    const body = Buffer.from(job.body.buffer, job.body.byteOffset, job.body.byteLength);
    const raw = await decompress(body, job.how, job.maxBytes, job.expectedBytes);
    const batch = decodeBatch(raw);
    const received = receivedOf(batch, raw);
    const bytes = owned(raw);
    const transfer = [bytes.buffer as ArrayBuffer];
    if (!received) return { reply: { id: job.id, kind: 'decoded', raw: bytes }, transfer };
    transfer.push(received.spans.buffer as ArrayBuffer);
    return { reply: { id: job.id, kind: 'received', node: batch.node, raw: bytes, ...received }, transfer };
  } catch (err) {
    if (err instanceof SyncError) return { reply: { id: job.id, kind: 'error', code: err.code, message: err.message }, transfer: [] };
    return { reply: { id: job.id, kind: 'error', code: 'QP_ERR_SYNC_STORE', message: `the sync batch decoder failed: ${errorMessage(err)}` }, transfer: [] };
  }
}

const port = parentPort;
if (!port) throw new Error('decode-worker.ts runs as a worker thread (see batch-decoder.ts)');
port.on('message', (job: DecodeJob) => {
  void decodeJob(job).then(({ reply, transfer }) => port.postMessage(reply, transfer));
});
