/**
 * The recording model (src/recording/model.ts) as a zod schema, for records that arrive over the
 * sync link. Every object is strict: a record that does not have exactly the model's shape is
 * refused rather than stored half-understood. Byte payloads travel outside the JSON (see
 * wire-format.ts) and appear here as `{"$blob": n}` references.
 */
import { z } from 'zod';
import { APP_PROTOCOLS, RECORD_FORMAT_VERSION, WS_OPCODES } from '../recording/model.js';

/** Where a payload sits in the batch's blob area. */
export interface BlobRef {
  $blob: number;
}

// zod 4's number() already refuses NaN and ±Infinity (JSON.parse turns 1e999 into Infinity).
const finite = () => z.number();
const nonNegInt = () => z.int().min(0);
const text = () => z.string();

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const NODE_ID = /^[\x21-\x7e]{1,128}$/;

const blobRef = z.strictObject({ $blob: nonNegInt() });
const headerLine = z.tuple([text(), text()]);
const headers = z.array(headerLine);
const endpoint = z.strictObject({ address: text(), port: z.int().min(0).max(65535) });
const tlsInfo = z.strictObject({ sni: text().nullable(), alpn: text().nullable(), version: text().nullable() }).nullable();
const recordError = z.strictObject({ code: text(), message: text() }).nullable();
const body = z.strictObject({ data: blobRef, size: nonNegInt(), truncated: z.boolean() });

const common = {
  v: z.literal(RECORD_FORMAT_VERSION),
  id: z.string().regex(UUID, { error: 'expected a lower-case UUID' }),
  node_id: z.string().regex(NODE_ID, { error: 'expected a node id of 1-128 printable characters' }),
  started_at: finite(),
  duration_ms: finite(),
  client: endpoint,
  tls: tlsInfo,
  downstream: text().nullable(),
  error: recordError,
  redacted: z.array(text()),
};

const dir = z.enum(['c2s', 's2c']);

const websocket = z.strictObject({
  deflate: z.boolean(),
  messages: z.array(
    z.strictObject({
      dir,
      t_us: finite(),
      opcode: z.enum(WS_OPCODES),
      data: blobRef,
      size: nonNegInt(),
      truncated: z.boolean(),
      close_code: z.int().min(0).max(65535).optional(),
      close_reason: text().optional(),
    }),
  ),
  dropped: nonNegInt(),
  stopped: z.strictObject({ dir, t_us: finite(), reason: text() }).nullable(),
});

const httpRecord = z.strictObject({
  ...common,
  protocol: z.literal('http'),
  request: z.strictObject({
    method: text(),
    url: text(),
    http_version: text(),
    headers,
    body,
    trailers: headers,
  }),
  response: z
    .strictObject({
      status: z.int(),
      status_message: text(),
      http_version: text(),
      headers,
      body,
      trailers: headers,
    })
    .nullable(),
  status: z.int().nullable(),
  timings: z.strictObject({
    request_end: finite().nullable(),
    response_start: finite().nullable(),
    response_end: finite().nullable(),
  }),
  websocket: websocket.optional(),
});

const CLOSE_REASONS = [
  'client_close',
  'server_close',
  'client_reset',
  'server_reset',
  'idle_timeout',
  'connect_failed',
  'connect_timeout',
  'tls_error',
  'error',
  'shutdown',
] as const;

const tcpRecord = z.strictObject({
  ...common,
  protocol: z.literal('tcp'),
  downstream_tls: z.boolean(),
  app_protocol: z.enum(APP_PROTOCOLS).optional(),
  bytes_in: nonNegInt(),
  bytes_out: nonNegInt(),
  chunks: z.array(z.strictObject({ dir: z.enum(['c2s', 's2c']), t_us: finite(), data: blobRef })),
  truncated: z.boolean(),
  state: z.enum(['open', 'closed']),
  close_reason: z.enum(CLOSE_REASONS).nullable(),
});

/** One entry of a batch: a record (or a TCP session's new segment) and where it sat in the sender's feed. */
export const wireEntrySchema = z.strictObject({
  /** The sender's store seq: lets the receiver report the highest seq seen per node. */
  seq: nonNegInt(),
  /** TCP only: index of `record.chunks[0]` in the whole session (0 = from the start). */
  chunk_base: nonNegInt().optional(),
  record: z.discriminatedUnion('protocol', [httpRecord, tcpRecord]),
});

/** The JSON head of a batch. */
export const batchHeadSchema = z.strictObject({
  format: z.literal(1),
  /** Sender's node_id. */
  node: z.string().regex(NODE_ID, { error: 'expected a node id of 1-128 printable characters' }),
  /** Byte length of each blob, in blob order; the blob area is their concatenation. */
  blobs: z.array(nonNegInt()),
  entries: z.array(wireEntrySchema),
});

/** A batch head as validated (payloads still as references). */
export type BatchHead = z.output<typeof batchHeadSchema>;
export type WireEntry = z.output<typeof wireEntrySchema>;
