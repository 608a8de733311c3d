import type { Worker } from 'node:worker_threads';
import { errorMessage } from '../core/errors.js';
import { siblingEntry, startWorker } from '../core/worker-entry.js';
import type { Compression } from './compression.js';
import { SPAN_FIELDS, type DecodeJob, type DecodeReply } from './decode-protocol.js';
import { SyncError } from './sync-error.js';
import { decodeBatch, type ReceivedBatch, type ReceivedEntry } from './wire-format.js';

/** A decoded batch and its size before compression (for the metrics). */
export interface DecoderResult extends ReceivedBatch {
  rawBytes: number;
}

interface Pending {
  resolve(batch: DecoderResult): void;
  reject(err: Error): void;
}

/** Bytes `b` is the only view of, which may be transferred; otherwise (a slice of Node's pool) null. */
function transferable(b: Buffer): Uint8Array | null {
  return b.byteOffset === 0 && b.byteLength === b.buffer.byteLength ? b : null;
}

/**
 * Decompresses, decodes and checks received batches on a thread of their own (decode-worker.ts),
 * so that the receiver's main thread, which answers every peer, only frames and stores them. A
 * batch of HTTP records comes back as their heads and stored documents (wire-format.ts
 * `ReceivedHttp`), never built into records here; any other batch comes back decompressed and
 * checked, and is decoded again here (TCP sessions are trimmed against the store's state, which
 * lives on this thread). Errors are those of `decompress` and `decodeBatch`; if the thread dies, the
 * batches it held fail with `QP_ERR_SYNC_STORE` (sent again by their senders) and the next batch
 * starts a new one.
 */
export class BatchDecoder {
  private worker: Worker | null = null;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private closed = false;

  constructor(private readonly entry: URL = siblingEntry(import.meta.url, 'decode-worker')) {}

  decode(body: Buffer, how: Compression, maxBytes: number, expectedBytes?: number): Promise<DecoderResult> {
    if (this.closed) return Promise.reject(new SyncError('QP_ERR_SYNC_CLOSING', 'the receiver is shutting down; retry shortly'));
    let worker: Worker;
    try {
      worker = this.worker ?? this.start();
    } catch (err) {
      return Promise.reject(this.stopped(`it could not start: ${errorMessage(err)}`));
    }
    const id = this.nextId++;
    // Handed over, not copied, when the body is a Buffer of its own (every body but the smallest).
    const data = transferable(body) ?? Uint8Array.prototype.slice.call(body);
    const job: DecodeJob = { id, body: data, how, maxBytes, expectedBytes };
    return new Promise<DecoderResult>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      // Held while it has work, so that a caller awaiting a batch is not left with an exited process.
      worker.ref();
      worker.postMessage(job, [data.buffer as ArrayBuffer]);
    });
  }

  /** Ends the thread; batches it still holds fail with `QP_ERR_SYNC_STORE`. */
  async close(): Promise<void> {
    this.closed = true;
    const worker = this.worker;
    if (worker) await worker.terminate();
  }

  private start(): Worker {
    const worker = startWorker(this.entry);
    let failure: Error | null = null;
    worker.on('message', (reply: DecodeReply) => this.settle(reply));
    worker.on('error', (err) => {
      failure = err;
    });
    worker.once('exit', (code) => {
      if (this.worker === worker) this.worker = null;
      const why = failure ? errorMessage(failure) : this.closed ? 'the receiver is shutting down' : `it exited with code ${code}`;
      const err = this.stopped(why);
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
    });
    this.worker = worker;
    return worker;
  }

  private stopped(why: string): SyncError {
    return new SyncError('QP_ERR_SYNC_STORE', `the receiver's sync batch decoder thread stopped (${why}); nothing of the batch was stored, send it again`);
  }

  private settle(reply: DecodeReply): void {
    const p = this.pending.get(reply.id);
    if (!p) return;
    this.pending.delete(reply.id);
    // Idle, it must not keep the process alive.
    if (this.pending.size === 0) this.worker?.unref();
    if (reply.kind === 'error') return p.reject(new SyncError(reply.code, reply.message));
    const raw = Buffer.from(reply.raw.buffer, reply.raw.byteOffset, reply.raw.byteLength);
    if (reply.kind === 'decoded') {
      try {
        return p.resolve({ ...decodeBatch(raw), rawBytes: raw.byteLength });
      } catch (err) {
        return p.reject(err as Error);
      }
    }
    const { spans, heads } = reply;
    const entries: ReceivedEntry[] = new Array<ReceivedEntry>(heads.length);
    for (let i = 0, n = 0; i < heads.length; i++, n += SPAN_FIELDS) {
      entries[i] = {
        seq: spans[n]!,
        received: {
          head: heads[i]!,
          doc: raw.subarray(spans[n + 1], spans[n + 1]! + spans[n + 2]!),
          request: raw.subarray(spans[n + 3], spans[n + 3]! + spans[n + 4]!),
          response: raw.subarray(spans[n + 5], spans[n + 5]! + spans[n + 6]!),
        },
      };
    }
    p.resolve({ node: reply.node, entries, rawBytes: raw.byteLength });
  }
}
