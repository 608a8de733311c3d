/**
 * @module What QProxy reads from a HAR 1.2 document (http://www.softwareishard.com/blog/har-12-spec/),
 * as a zod schema. Only the fields the import uses are checked; everything else (cookies, cache,
 * pages, `_initiator` and other custom fields) is accepted and ignored. Fields the spec requires but
 * browsers and tools leave out in practice (headersSize, bodySize, content.mimeType…) are optional;
 * optional fields may also be null, as some exporters write them.
 */
import { z } from 'zod';

const nameValue = z.object({ name: z.string(), value: z.string() });

/** A time in milliseconds; -1 (the spec's "does not apply") and null read as absent. */
const millis = z.number().nullish();

const postParam = z.object({
  name: z.string(),
  value: z.string().nullish(),
  fileName: z.string().nullish(),
  contentType: z.string().nullish(),
});

const postData = z.object({
  mimeType: z.string().nullish(),
  text: z.string().nullish(),
  params: z.array(postParam).nullish(),
  /** Extension used by several tools (and QProxy's export): `text` is base64. */
  _encoding: z.string().nullish(),
});

const content = z.object({
  size: z.number().nullish(),
  mimeType: z.string().nullish(),
  text: z.string().nullish(),
  encoding: z.string().nullish(),
});

const headerLine = z.tuple([z.string(), z.string()]);
const bodyInfo = z.object({ size: z.number().int().nonnegative(), truncated: z.boolean(), encoded: z.boolean().optional() });

/** QProxy's own details, written by its export so that a re-import restores the record exactly. */
export const qproxyEntrySchema = z.object({
  id: z.string().regex(/^[A-Za-z0-9_-]{1,128}$/, { error: 'expected a record id (letters, digits, "-", "_")' }).optional(),
  node_id: z.string().regex(/^[\x21-\x7e]{1,128}$/, { error: 'expected a node id (1-128 visible ASCII characters)' }).optional(),
  client: z.object({ address: z.string(), port: z.number().int().min(0).max(65535) }).optional(),
  tls: z.object({ sni: z.string().nullable(), alpn: z.string().nullable(), version: z.string().nullable() }).nullable().optional(),
  downstream: z.string().nullable().optional(),
  status: z.number().int().nullable().optional(),
  error: z.object({ code: z.string(), message: z.string() }).nullable().optional(),
  redacted: z.array(z.string()).optional(),
  timings: z
    .object({ request_end: z.number().nullable(), response_start: z.number().nullable(), response_end: z.number().nullable() })
    .optional(),
  request_body: bodyInfo.optional(),
  response_body: bodyInfo.optional(),
  request_trailers: z.array(headerLine).optional(),
  response_trailers: z.array(headerLine).optional(),
  websocket: z
    .object({
      deflate: z.boolean(),
      dropped: z.number().int().nonnegative(),
      stopped: z.object({ dir: z.enum(['c2s', 's2c']), t_us: z.number(), reason: z.string() }).nullable(),
    })
    .optional(),
});

export type HarQProxyFields = z.infer<typeof qproxyEntrySchema>;

const request = z.object({
  method: z.string().min(1, { error: 'expected an HTTP method such as "GET"' }),
  url: z.string(),
  httpVersion: z.string().nullish(),
  headers: z.array(nameValue).nullish(),
  queryString: z.array(nameValue).nullish(),
  postData: postData.nullish(),
});

const response = z.object({
  status: z.number().int().min(0).max(999),
  statusText: z.string().nullish(),
  httpVersion: z.string().nullish(),
  headers: z.array(nameValue).nullish(),
  content: content.nullish(),
  redirectURL: z.string().nullish(),
  /** Chrome DevTools: why a request failed (status 0), e.g. "net::ERR_CONNECTION_REFUSED". */
  _error: z.string().nullish(),
});

const entry = z.object({
  startedDateTime: z.string(),
  time: z.number().nullish(),
  request,
  response,
  timings: z
    .object({ blocked: millis, dns: millis, connect: millis, send: millis, wait: millis, receive: millis, ssl: millis })
    .nullish(),
  serverIPAddress: z.string().nullish(),
  connection: z.string().nullish(),
  /** Chrome DevTools (and QProxy's export): the messages of a WebSocket entry. */
  _webSocketMessages: z
    .array(
      z.object({
        type: z.string(),
        time: z.number(),
        opcode: z.number().int(),
        data: z.string(),
        _t_us: z.number().nonnegative().nullish(),
        _size: z.number().int().nonnegative().nullish(),
        _truncated: z.boolean().nullish(),
        _encoding: z.string().nullish(),
      }),
    )
    .nullish(),
  // Checked on its own (qproxyEntrySchema) so that a foreign `_qproxy` field names its own path.
  _qproxy: z.unknown().optional(),
});

/** The HAR document as the import reads it. */
export const harSchema = z.object({
  log: z.object({
    version: z.string().nullish(),
    entries: z.array(entry),
  }),
});

export type HarInput = z.infer<typeof harSchema>;
export type HarInputEntry = HarInput['log']['entries'][number];
