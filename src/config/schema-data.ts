/**
 * What is kept and how: `storage` (payload segments with an SQLite index, its write queue and purging) and `recording`
 * (whether traffic is recorded, and redaction of secrets before a record is queued).
 */
import { z } from 'zod';
import { count, filePath, headerName, ipOrCidr, jsonPath, nonEmpty, regexSource, secret } from './fields.js';
import { methodList, pathGlob } from './schema-playback.js';
import { MAX_TIMER_MS, duration, size } from './units.js';

const bool = () => z.boolean({ error: 'expected true or false' });

/** The embedded store. */
export const storageSchema = z
  .strictObject({
    path: filePath('the SQLite database file')
      .default('data/qproxy.db')
      .describe(
        'SQLite index file; payloads go to segment files in the folder "<path>.segments". Its folder is created. Relative paths are resolved against the config file\'s folder. Default "data/qproxy.db".',
      ),
    retention: duration({ example: '72h' })
      .prefault('72h')
      .describe('Segments whose records are all older than this (and, on a Record node, all sent by sync) are dropped. 0 = no age limit. Default "72h".'),
    max_size: size({ example: '10GiB' })
      .prefault('10GiB')
      .describe('When payload segments plus the index grow past this size, the oldest segments are dropped with their records. 0 = no size limit. Default "10GiB".'),
    segment_size: size({ example: '64MiB', min: 64 * 1024 })
      .prefault('64MiB')
      .describe('Payload segment files are rolled at this size; retention drops whole segments, so it is also the granularity of purging. Default "64MiB", at least "64KiB".'),
    max_body: size({ example: '1MiB' })
      .prefault('1MiB')
      .describe('Bytes of each body kept in a record; longer bodies are truncated and marked. 0 keeps no body bytes. Default "1MiB".'),
    flush_interval: duration({ example: '100ms', min: 1, max: 10_000 })
      .prefault('100ms')
      .describe('Queued records are written at least this often; a crash loses at most this much. Default "100ms", at most "10s".'),
    synchronous: z
      .enum(['normal', 'full'], { error: 'expected "normal" or "full"' })
      .default('normal')
      .describe('SQLite synchronous mode of the index: "normal" (default; WAL, safe against process crashes) or "full" (also against power loss, slower). Payload segments are always fdatasync\'d before the index commit that references them.'),
    queue_max_records: count(1)
      .default(10_000)
      .describe('Records waiting to be written before new ones are dropped (and counted). Default 10000.'),
    queue_max_bytes: size({ example: '64MiB', min: 1 })
      .prefault('64MiB')
      .describe('Bytes waiting to be written before new records are dropped (and counted). Default "64MiB".'),
    purge_interval: duration({ example: '60s', min: 1_000, max: MAX_TIMER_MS })
      .prefault('60s')
      .describe('How often expired records are purged. Default "60s", at least "1s".'),
  })
  .prefault({})
  .describe('The embedded store: payload segment files and an SQLite index. Defaults apply when absent.');

const redactionSchema = z
  .strictObject({
    enabled: bool().default(true).describe('Redact secrets before records are stored. Default true.'),
    headers: z
      .array(headerName(), { error: 'expected a list of header names' })
      .default([])
      .describe(
        'Extra header names to redact (case-insensitive), besides the defaults (authorization, proxy-authorization, cookie, set-cookie, x-api-key, x-auth-token, …). Default [].',
      ),
    query_params: z
      .array(nonEmpty('a query parameter name'), { error: 'expected a list of query parameter names' })
      .default([])
      .describe('Extra query (and form) parameter names to redact, besides the defaults (token, api_key, password, …). Default [].'),
    json_paths: z
      .array(jsonPath(), { error: 'expected a list of JSON paths' })
      .default([])
      .describe('JSON paths redacted in JSON bodies, like "$.password", "$..token", "$.user.ssn". Default [].'),
    body_patterns: z
      .array(regexSource(), { error: 'expected a list of regular expressions' })
      .default([])
      .describe('Regular expressions run over text bodies; the match (or group 1, if present) is redacted. Default [].'),
    key: secret('a key')
      .optional()
      .describe(
        'HMAC secret for redaction digests; use the same key on every node so digests compare. When absent one is generated and kept in the store. Overridden by QPROXY_REDACTION_KEY.',
      ),
    replace_defaults: bool()
      .default(false)
      .describe('true = redact only the lists given here; false (default) = the built-in lists plus these.'),
  })
  .prefault({})
  .describe('Redaction of secrets in recordings: values become keyed digests, so equal values stay equal.');

const patternError = 'expected a pattern of visible characters like "*.example.com" ("*" = any characters)';
/** A host name or SNI pattern. */
const namePattern = () => z.string({ error: patternError }).regex(/^[\x21-\x7e]+$/, { error: patternError });
const nameList = (what: string) => z.array(namePattern(), { error: `expected a list of ${what} patterns` }).min(1, { error: `expected at least one ${what} pattern` });

const HTTP_ONLY = ['methods', 'hosts', 'paths', 'headers'] as const;
const CONDITIONS = ['protocol', ...HTTP_ONLY, 'clients', 'sni'] as const;

/** One include / exclude rule: every condition given must hold. */
const selectionRuleSchema = z
  .strictObject({
    protocol: z
      .enum(['http', 'tcp'], { error: 'expected "http" or "tcp"' })
      .optional()
      .describe('Only exchanges of the HTTP listener ("http") or sessions of the TCP listener ("tcp").'),
    methods: methodList().optional().describe('HTTP methods, e.g. ["POST", "PUT"] ("*" = any). HTTP only.'),
    hosts: nameList('host')
      .optional()
      .describe('Host name patterns ("*" = any characters), matched against Host / :authority without the port, case-insensitively. HTTP only.'),
    paths: z
      .array(pathGlob(), { error: 'expected a list of path patterns like ["/api/**"]' })
      .min(1, { error: 'expected at least one path pattern' })
      .optional()
      .describe('Path patterns, query excluded ("*" = one segment, "**" = any depth), e.g. ["/healthz", "/api/**"]. HTTP only.'),
    headers: z
      .record(
        z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z:-]+$/, { error: 'expected an HTTP header name like "x-debug"' }),
        z.union([z.literal(true), z.string()], { error: 'expected true (the header is present) or a value pattern like "canary-*"' }),
        { error: 'expected an object of header names, like {"x-debug": true, "x-env": "canary*"}' },
      )
      .optional()
      .describe('Header name → true (present, any value) or a value pattern ("*" = any characters); all must hold. HTTP only.'),
    clients: z
      .array(ipOrCidr(), { error: 'expected a list of IP addresses or CIDR ranges' })
      .min(1, { error: 'expected at least one IP address or CIDR range' })
      .optional()
      .describe('Client addresses: IPs or CIDR ranges like "10.0.0.0/8". HTTP and TCP.'),
    sni: nameList('server name')
      .optional()
      .describe('Patterns over the TLS server name (SNI) the client asked for on a TLS listener; a connection without SNI does not match. HTTP and TCP.'),
  })
  .superRefine((rule, ctx) => {
    if (CONDITIONS.every((key) => rule[key] === undefined)) {
      ctx.addIssue({ code: 'custom', message: `an empty rule would match everything: give at least one of ${CONDITIONS.join(', ')}` });
    }
    const httpOnly = HTTP_ONLY.filter((key) => rule[key] !== undefined);
    if (rule.protocol === 'tcp' && httpOnly.length > 0) {
      ctx.addIssue({ code: 'custom', message: `protocol "tcp" with ${httpOnly.join(', ')} never matches: ${httpOnly.join(', ')} only apply to HTTP` });
    }
  })
  .describe('A rule; every condition given must hold. Conditions that only HTTP has (methods, hosts, paths, headers) never match a TCP session.');

const ruleList = (what: string) =>
  z
    .array(selectionRuleSchema, { error: `expected a list of rules like {"paths": ["/healthz"]}` })
    .default([])
    .describe(what);

const rateError = 'expected a fraction from 0 to 1, like 0.25';
const rate = () => z.number({ error: rateError }).min(0, { error: rateError }).max(1, { error: rateError });
const cookieError = 'expected a cookie name like "session"';

const sampleObjectSchema = z
  .strictObject({
    rate: rate().describe('Fraction recorded, 0 to 1.'),
    header: headerName()
      .optional()
      .describe('Key: a request header, e.g. "x-user-id". Every exchange with the same value is recorded, or skipped, together; exchanges without it are drawn at random. TCP sessions are drawn at random.'),
    cookie: z
      .string({ error: cookieError })
      .regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, { error: cookieError })
      .optional()
      .describe('Key: a cookie (name case-sensitive), e.g. "session", so one browser session is recorded whole. As with header, requests without it and TCP sessions are drawn at random.'),
    client_address: bool()
      .optional()
      .describe('true: key by the client IP address, for HTTP exchanges and TCP sessions alike.'),
  })
  .superRefine((v, ctx) => {
    const keys = [v.header !== undefined && 'header', v.cookie !== undefined && 'cookie', v.client_address === true && 'client_address'].filter(Boolean);
    if (keys.length > 1) ctx.addIssue({ code: 'custom', message: `give one sampling key, not ${keys.join(' and ')}` });
  });

const sampleSchema = z
  .union([rate(), sampleObjectSchema], { error: 'expected a fraction from 0 to 1, or {"rate": 0.1, "header": "x-user-id"}' })
  .transform((v) => (typeof v === 'number' ? { rate: v } : v))
  .prefault(1)
  .describe(
    'Fraction of exchanges and TCP sessions recorded: a number from 0 to 1 (each drawn at random), or {"rate", and one key: "header", "cookie" or "client_address": true} so that all traffic with one key value is recorded or skipped together (deterministic hash of the value). Default 1 (everything).',
  );

const websocketSchema = z
  .strictObject({
    frames: bool()
      .default(true)
      .describe('Record the messages of WebSocket connections the HTTP proxy relays (in the upgrade\'s record). Default true; false records the handshake only.'),
    max_bytes: size({ example: '16MiB' })
      .prefault('16MiB')
      .describe(
        'Payload bytes of WebSocket messages kept per connection (each message is also cut at storage.max_body); later messages are counted, not kept. 0 = no limit. Default "16MiB".',
      ),
  })
  .prefault({})
  .describe('WebSocket frame recording. Defaults apply when absent.');

/** What is recorded. */
export const recordingSchema = z
  .strictObject({
    enabled: bool().default(true).describe('Record traffic. Default true; false proxies without recording.'),
    include: ruleList(
      'When not empty, only exchanges and sessions that one of these rules matches are recorded; the rest are skipped ("not_included"). Default [].',
    ),
    exclude: ruleList('Exchanges and sessions that one of these rules matches are not recorded ("excluded"). Default [].'),
    sample: sampleSchema,
    redaction: redactionSchema,
    websocket: websocketSchema,
  })
  .prefault({})
  .describe('Recording options. Defaults apply when absent.');
