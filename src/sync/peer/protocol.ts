/**
 * The sync link's HTTP/2 surface, shared by sender and receiver.
 *
 *   POST /sync/v1/batches
 *   authorization: Bearer <peer.token>
 *   content-type: application/x-qproxy-batch
 *   content-encoding: gzip | br | identity
 *   x-qproxy-node: <sender node_id>            (for logs and status; the ledger counts records by their own node_id)
 *   x-qproxy-records: <entries in the batch>   (for the ledger when the body turns out unreadable)
 *   x-qproxy-raw-bytes: <batch size before compression>   (a hint: the receiver decompresses into one
 *                                              Buffer of that size; optional, older senders leave it out)
 *   → 200 {"stored": n, "skipped": n}          only after the batch is committed on disk
 *   → 4xx/5xx {"error": "...", "code": "QP_ERR_SYNC_..."}
 *
 *   GET /sync/v1/batches                       (same authorization and x-qproxy-node; no body)
 *   → 204 when a POST would pass the access checks (token, client certificate), else their refusal
 *     x-qproxy-batch-format: 2                 (the newest batch format the receiver reads, wire-format.ts)
 *
 * A sender sends the GET as soon as its link is up: a receiver closes connections that have not
 * passed the access checks within sync.auth_timeout, and an idle sender has no batch to show.
 * Receivers older than the GET answer 405; the sender then goes on as before.
 *
 * The batch format is chosen per connection from that answer: format 2 only to a receiver that
 * announced it; format 1 to one that did not (older versions, which refuse "QPB2" as malformed)
 * and to everything sent before the answer came. A receiver reads both.
 */

export const SYNC_PATH = '/sync/v1/batches';
export const BATCH_CONTENT_TYPE = 'application/x-qproxy-batch';
export const HEADER_NODE = 'x-qproxy-node';
export const HEADER_RECORDS = 'x-qproxy-records';
export const HEADER_RAW_BYTES = 'x-qproxy-raw-bytes';
export const HEADER_BATCH_FORMAT = 'x-qproxy-batch-format';

/** What a receiver answers a stored batch with. */
export interface BatchAck {
  /** Entries that changed the store (new records, or new TCP segments of a known session). */
  stored: number;
  /** Entries already present (a re-sent batch after a lost acknowledgement). */
  skipped: number;
}

/** What a receiver answers a refused batch with. */
export interface BatchRefusal {
  error: string;
  code: string;
}

/** Largest response body a sender reads; receivers answer with a few hundred bytes. */
export const MAX_RESPONSE_BYTES = 64 * 1024;
