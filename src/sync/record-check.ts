/**
 * The recording model (src/recording/model.ts) checked by hand, for records that arrive over sync.
 * It replaced a zod schema on the receiver's hot path (zod cost ~5.5 µs of a 1 KiB record's ~85,
 * this a fraction of that) and keeps its rules: every object is strict (a field the model does not
 * have is refused, not stored half-understood), numbers are finite, counts are non-negative safe
 * integers, enums are closed. The first fault throws {@link RecordFault} with its path.
 *
 * Payload bytes travel outside the JSON. In a format 1 batch each `data` is a `{"$blob": n}`
 * reference (`payloads: 'refs'`); in a format 2 batch the record is its stored document, which has
 * no `data` at all (`payloads: 'none'`) — the batch entry says where its payloads are.
 */
import { APP_PROTOCOLS, RECORD_FORMAT_VERSION, TCP_CLOSE_REASONS, WS_OPCODES } from '../recording/model.js';

/** Where a payload sits in the batch's blob area (format 1). */
export interface BlobRef {
  $blob: number;
}

/** A record that is not the model's shape: `path` names the first bad field (`entries[3].record.request.url`). */
export class RecordFault extends Error {
  constructor(
    readonly path: string,
    readonly problem: string,
  ) {
    super(`${path}: ${problem}`);
  }
}

export type PayloadMode = 'refs' | 'none';

type Obj = Record<string, unknown>;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
export const NODE_ID = /^[\x21-\x7e]{1,128}$/;

const CLOSE_REASONS: ReadonlySet<unknown> = new Set(TCP_CLOSE_REASONS);
const OPCODES: ReadonlySet<unknown> = new Set(WS_OPCODES);
const APPS: ReadonlySet<unknown> = new Set(APP_PROTOCOLS);

function fault(path: string, problem: string): never {
  throw new RecordFault(path, problem);
}

function kind(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v;
}

export function object(v: unknown, path: string): Obj {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fault(path, `expected an object, got ${kind(v)}`);
  return v as Obj;
}

/** Refuses a key outside `allowed` (zod's strictObject). Missing required keys fail their own check. */
export function strict(o: Obj, allowed: ReadonlySet<string>, path: string): void {
  for (const k in o) if (!allowed.has(k)) fault(path, `unknown field "${k}"`);
}

export function str(v: unknown, path: string): string {
  if (typeof v !== 'string') fault(path, `expected a string, got ${kind(v)}`);
  return v;
}

function strOrNull(v: unknown, path: string): void {
  if (v !== null && typeof v !== 'string') fault(path, `expected a string or null, got ${kind(v)}`);
}

function finite(v: unknown, path: string): void {
  if (typeof v !== 'number' || !Number.isFinite(v)) fault(path, `expected a finite number, got ${kind(v)}`);
}

function finiteOrNull(v: unknown, path: string): void {
  if (v !== null) finite(v, path);
}

export function int(v: unknown, path: string, min = Number.MIN_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) fault(path, `expected an integer, got ${kind(v)}`);
  if (v < min || v > max) fault(path, `expected an integer from ${min} to ${max}, got ${v}`);
  return v;
}

export function count(v: unknown, path: string): number {
  return int(v, path, 0);
}

function bool(v: unknown, path: string): void {
  if (typeof v !== 'boolean') fault(path, `expected true or false, got ${kind(v)}`);
}

function oneOf(v: unknown, allowed: ReadonlySet<unknown>, path: string): void {
  if (!allowed.has(v)) fault(path, `expected one of ${[...allowed].map((a) => JSON.stringify(a)).join(', ')}`);
}

export function array(v: unknown, path: string): unknown[] {
  if (!Array.isArray(v)) fault(path, `expected an array, got ${kind(v)}`);
  return v;
}

function direction(v: unknown, path: string): void {
  if (v !== 'c2s' && v !== 's2c') fault(path, 'expected "c2s" or "s2c"');
}

const BLOB_REF = new Set(['$blob']);

function blobRef(v: unknown, path: string): void {
  const o = object(v, path);
  strict(o, BLOB_REF, path);
  count(o.$blob, `${path}.$blob`);
}

function headers(v: unknown, path: string): void {
  const lines = array(v, path);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (!Array.isArray(line) || line.length !== 2 || typeof line[0] !== 'string' || typeof line[1] !== 'string') {
      fault(`${path}[${i}]`, 'expected a [name, value] pair of strings');
    }
  }
}

const ENDPOINT = new Set(['address', 'port']);
const TLS = new Set(['sni', 'alpn', 'version']);
const ERROR = new Set(['code', 'message']);

function endpoint(v: unknown, path: string): void {
  const o = object(v, path);
  strict(o, ENDPOINT, path);
  str(o.address, `${path}.address`);
  int(o.port, `${path}.port`, 0, 65535);
}

function tls(v: unknown, path: string): void {
  if (v === null) return;
  const o = object(v, path);
  strict(o, TLS, path);
  strOrNull(o.sni, `${path}.sni`);
  strOrNull(o.alpn, `${path}.alpn`);
  strOrNull(o.version, `${path}.version`);
}

function recordError(v: unknown, path: string): void {
  if (v === null) return;
  const o = object(v, path);
  strict(o, ERROR, path);
  str(o.code, `${path}.code`);
  str(o.message, `${path}.message`);
}

function strings(v: unknown, path: string): void {
  const a = array(v, path);
  for (let i = 0; i < a.length; i++) str(a[i], `${path}[${i}]`);
}

const COMMON = ['v', 'id', 'node_id', 'started_at', 'duration_ms', 'client', 'tls', 'downstream', 'error', 'redacted', 'protocol'];

function common(o: Obj, path: string): void {
  if (o.v !== RECORD_FORMAT_VERSION) fault(`${path}.v`, `expected ${RECORD_FORMAT_VERSION}`);
  if (typeof o.id !== 'string' || !UUID.test(o.id)) fault(`${path}.id`, 'expected a lower-case UUID');
  if (typeof o.node_id !== 'string' || !NODE_ID.test(o.node_id)) fault(`${path}.node_id`, 'expected a node id of 1-128 printable characters');
  finite(o.started_at, `${path}.started_at`);
  finite(o.duration_ms, `${path}.duration_ms`);
  endpoint(o.client, `${path}.client`);
  tls(o.tls, `${path}.tls`);
  strOrNull(o.downstream, `${path}.downstream`);
  recordError(o.error, `${path}.error`);
  strings(o.redacted, `${path}.redacted`);
}

const BODY_REFS = new Set(['data', 'size', 'truncated']);
const BODY_NONE = new Set(['size', 'truncated']);

function body(v: unknown, path: string, payloads: PayloadMode): void {
  const o = object(v, path);
  strict(o, payloads === 'refs' ? BODY_REFS : BODY_NONE, path);
  if (payloads === 'refs') blobRef(o.data, `${path}.data`);
  count(o.size, `${path}.size`);
  bool(o.truncated, `${path}.truncated`);
}

const REQUEST = new Set(['method', 'url', 'http_version', 'headers', 'body', 'trailers']);
const RESPONSE = new Set(['status', 'status_message', 'http_version', 'headers', 'body', 'trailers']);
const TIMINGS = new Set(['request_end', 'response_start', 'response_end']);
const HTTP = new Set([...COMMON, 'request', 'response', 'status', 'timings', 'websocket']);

function request(v: unknown, path: string, payloads: PayloadMode): void {
  const o = object(v, path);
  strict(o, REQUEST, path);
  str(o.method, `${path}.method`);
  str(o.url, `${path}.url`);
  str(o.http_version, `${path}.http_version`);
  headers(o.headers, `${path}.headers`);
  body(o.body, `${path}.body`, payloads);
  headers(o.trailers, `${path}.trailers`);
}

function response(v: unknown, path: string, payloads: PayloadMode): void {
  if (v === null) return;
  const o = object(v, path);
  strict(o, RESPONSE, path);
  int(o.status, `${path}.status`);
  str(o.status_message, `${path}.status_message`);
  str(o.http_version, `${path}.http_version`);
  headers(o.headers, `${path}.headers`);
  body(o.body, `${path}.body`, payloads);
  headers(o.trailers, `${path}.trailers`);
}

const WEBSOCKET = new Set(['deflate', 'messages', 'dropped', 'stopped']);
const WS_MESSAGE_REFS = new Set(['dir', 't_us', 'opcode', 'data', 'size', 'truncated', 'close_code', 'close_reason']);
const WS_MESSAGE_NONE = new Set(['dir', 't_us', 'opcode', 'size', 'truncated', 'close_code', 'close_reason']);
const WS_STOPPED = new Set(['dir', 't_us', 'reason']);

function websocket(v: unknown, path: string, payloads: PayloadMode): void {
  const o = object(v, path);
  strict(o, WEBSOCKET, path);
  bool(o.deflate, `${path}.deflate`);
  const messages = array(o.messages, `${path}.messages`);
  const allowed = payloads === 'refs' ? WS_MESSAGE_REFS : WS_MESSAGE_NONE;
  for (let i = 0; i < messages.length; i++) {
    const at = `${path}.messages[${i}]`;
    const m = object(messages[i], at);
    strict(m, allowed, at);
    direction(m.dir, `${at}.dir`);
    finite(m.t_us, `${at}.t_us`);
    oneOf(m.opcode, OPCODES, `${at}.opcode`);
    if (payloads === 'refs') blobRef(m.data, `${at}.data`);
    count(m.size, `${at}.size`);
    bool(m.truncated, `${at}.truncated`);
    if (m.close_code !== undefined) int(m.close_code, `${at}.close_code`, 0, 65535);
    if (m.close_reason !== undefined) str(m.close_reason, `${at}.close_reason`);
  }
  count(o.dropped, `${path}.dropped`);
  if (o.stopped !== null) {
    const s = object(o.stopped, `${path}.stopped`);
    strict(s, WS_STOPPED, `${path}.stopped`);
    direction(s.dir, `${path}.stopped.dir`);
    finite(s.t_us, `${path}.stopped.t_us`);
    str(s.reason, `${path}.stopped.reason`);
  }
}

function httpRecord(o: Obj, path: string, payloads: PayloadMode): void {
  strict(o, HTTP, path);
  common(o, path);
  request(o.request, `${path}.request`, payloads);
  response(o.response, `${path}.response`, payloads);
  if (o.status !== null) int(o.status, `${path}.status`);
  const t = object(o.timings, `${path}.timings`);
  strict(t, TIMINGS, `${path}.timings`);
  finiteOrNull(t.request_end, `${path}.timings.request_end`);
  finiteOrNull(t.response_start, `${path}.timings.response_start`);
  finiteOrNull(t.response_end, `${path}.timings.response_end`);
  if (o.websocket !== undefined) websocket(o.websocket, `${path}.websocket`, payloads);
}

const TCP_SHARED = [...COMMON, 'downstream_tls', 'app_protocol', 'bytes_in', 'bytes_out', 'truncated', 'state', 'close_reason'];
const TCP_REFS = new Set([...TCP_SHARED, 'chunks']);
const TCP_NONE = new Set(TCP_SHARED);
const CHUNK = new Set(['dir', 't_us', 'data']);

function tcpRecord(o: Obj, path: string, payloads: PayloadMode): void {
  strict(o, payloads === 'refs' ? TCP_REFS : TCP_NONE, path);
  common(o, path);
  bool(o.downstream_tls, `${path}.downstream_tls`);
  if (o.app_protocol !== undefined) oneOf(o.app_protocol, APPS, `${path}.app_protocol`);
  count(o.bytes_in, `${path}.bytes_in`);
  count(o.bytes_out, `${path}.bytes_out`);
  if (payloads === 'refs') {
    const chunks = array(o.chunks, `${path}.chunks`);
    for (let i = 0; i < chunks.length; i++) {
      const at = `${path}.chunks[${i}]`;
      const c = object(chunks[i], at);
      strict(c, CHUNK, at);
      direction(c.dir, `${at}.dir`);
      finite(c.t_us, `${at}.t_us`);
      blobRef(c.data, `${at}.data`);
    }
  }
  bool(o.truncated, `${path}.truncated`);
  if (o.state !== 'open' && o.state !== 'closed') fault(`${path}.state`, 'expected "open" or "closed"');
  if (o.close_reason !== null) oneOf(o.close_reason, CLOSE_REASONS, `${path}.close_reason`);
  if (o.state === 'closed' && o.close_reason === null) fault(path, 'a closed TCP session needs a close_reason');
}

/**
 * Checks that `v` is a record of the model (with its payloads as `payloads` says) and returns its
 * protocol. Throws {@link RecordFault}.
 */
export function checkRecord(v: unknown, path: string, payloads: PayloadMode): 'http' | 'tcp' {
  const o = object(v, path);
  if (o.protocol === 'http') {
    httpRecord(o, path, payloads);
    return 'http';
  }
  if (o.protocol === 'tcp') {
    tcpRecord(o, path, payloads);
    return 'tcp';
  }
  return fault(`${path}.protocol`, 'expected "http" or "tcp"');
}
