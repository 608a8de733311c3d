/**
 * The `playback` section: how a Playback node replays recorded traffic against its downstreams
 * (live and on demand), how answers are compared with the recordings, which routes may be replayed
 * at all, and how its listeners serve recordings. Every key has a default, so the whole section may
 * be left out. The per-replay overrides of the API (`POST /api/replays`) reuse the pieces exported
 * here, so a replay request is validated exactly like the file.
 */
import { z } from 'zod';
import { count, headerName, jsonPath, nonEmpty, regexSource } from './fields.js';
import { MAX_TIMER_MS, duration, size } from './units.js';

const bool = () => z.boolean({ error: 'expected true or false' });

const ACTIONS = ['replay', 'skip', 'dry_run'] as const;
const actionError = 'expected "replay", "skip" or "dry_run"';

/** What the safety policy does with a request. */
export function safetyAction() {
  return z.enum(ACTIONS, { error: actionError });
}

const methodError = 'expected an HTTP method like "POST", "*" for any, or a list of methods';
const oneMethod = z
  .string({ error: methodError })
  .regex(/^(\*|[!#$%&'*+.^_`|~0-9A-Za-z-]+)$/, { error: methodError })
  .transform((m) => m.toUpperCase());

/** A method, "*", or a list of methods; outputs the list. */
export function methodList() {
  return z
    .union([oneMethod, z.array(oneMethod, { error: methodError }).min(1, { error: methodError })], { error: methodError })
    .transform((v) => (typeof v === 'string' ? [v] : v));
}

const globError = 'expected a path pattern starting with "/", like "/orders/*" ("*" = one segment, "**" = any depth)';

/** A path glob: `*` matches within one segment, `**` across segments. */
export function pathGlob() {
  return z.string({ error: globError }).regex(/^\/[\x21-\x7e]*$/, { error: globError });
}

/** One safety rule: requests whose method and path match get `action`. */
export const safetyRuleSchema = z
  .strictObject({
    method: methodList().prefault('*').describe('Method(s) the rule applies to: "POST", ["PUT", "PATCH"] or "*" (default).'),
    path: pathGlob().prefault('/**').describe('Path pattern, query excluded: "*" matches within one segment, "**" any depth. Default "/**".'),
    action: safetyAction().describe('"replay" sends it, "skip" leaves it out, "dry_run" only counts what would be sent.'),
  })
  .describe('A safety rule; the first rule that matches a request decides.');

export const safetySchema = z
  .strictObject({
    rules: z
      .array(safetyRuleSchema, { error: 'expected a list of rules like {"method": "POST", "path": "/orders/**", "action": "skip"}' })
      .default([])
      .describe('Per-route decisions, checked in order before the method defaults. Default [].'),
    safe_methods: safetyAction()
      .default('replay')
      .describe('What happens to GET, HEAD, OPTIONS and TRACE requests no rule matched. Default "replay".'),
    unsafe_methods: safetyAction()
      .default('dry_run')
      .describe(
        'What happens to every other method (POST, PUT, PATCH, DELETE, …) no rule matched. Default "dry_run": writes into another zone must be opted into.',
      ),
  })
  .prefault({})
  .describe('Safety policy: replaying writes into another zone can do harm, so each request is replayed, skipped or only counted (dry run).');

/** Ignore rules for volatile fields; shared by the config and replay requests. */
export const compareIgnoreSchema = z
  .strictObject({
    headers: z
      .array(headerName(), { error: 'expected a list of header names' })
      .default([])
      .describe('Response header names never compared (useful with headers: ["*"]). Default [].'),
    json_paths: z
      .array(jsonPath(), { error: 'expected a list of JSON paths' })
      .default([])
      .describe('JSON paths left out of JSON body comparison, like "$.timestamp" or "$..id". Default [].'),
    patterns: z
      .array(regexSource(), { error: 'expected a list of regular expressions' })
      .default([])
      .describe('Regular expressions; text they match in bodies (in JSON: in string values) and compared header values is ignored. Default [].'),
  })
  .prefault({})
  .describe('Volatile fields left out of the comparison.');

export const compareSchema = z
  .strictObject({
    status: bool().default(true).describe('Compare the status code. Default true.'),
    headers: z
      .array(z.union([z.literal('*'), headerName()], { error: 'expected a header name or "*"' }), { error: 'expected a list of header names' })
      .default(['content-type'])
      .describe(
        'Response headers compared; "*" compares all of them except hop-by-hop and framing headers. Default ["content-type"]: volatile headers such as Date or request ids do not count unless named.',
      ),
    body: bool().default(true).describe('Compare bodies (decoded first when compressed; JSON structurally, key order ignored). Default true.'),
    ignore: compareIgnoreSchema,
    truncated: z
      .enum(['prefix', 'skip'], { error: 'expected "prefix" or "skip"' })
      .default('prefix')
      .describe('Bodies truncated at record time: "prefix" compares the bytes that were kept (default), "skip" leaves the body out. Either way the result is marked truncated.'),
    max_body: size({ example: '1MiB', min: 1024, max: 256 * 1024 * 1024 })
      .prefault('1MiB')
      .describe('Bytes of each replayed response body kept for comparison; longer bodies are compared by prefix and marked truncated. Default "1MiB".'),
  })
  .prefault({})
  .describe('How each replayed answer is compared with the recorded one.');

const rewriteSchema = z
  .strictObject({
    keep_host: bool()
      .default(false)
      .describe('Send the recorded Host header instead of the downstream\'s host. Default false.'),
    headers: z
      .record(headerName(), z.string({ error: 'expected a header value' }), { error: 'expected an object of header name → value' })
      .default({})
      .describe('Values for headers that were redacted at record time, e.g. {"authorization": "Bearer test-token"}. Redacted headers without one are sent as recorded. Default {}.'),
    query: z
      .record(nonEmpty('a query parameter name'), z.string({ error: 'expected a parameter value' }), { error: 'expected an object of parameter name → value' })
      .default({})
      .describe('Values for query parameters that were redacted at record time, e.g. {"token": "test"}. Default {}.'),
    set_headers: z
      .record(headerName(), z.string({ error: 'expected a header value' }), { error: 'expected an object of header name → value' })
      .default({})
      .describe('Headers set on every replayed request, e.g. {"x-qproxy-replay": "1"} so zone B can tell replays apart. Default {}.'),
  })
  .prefault({})
  .describe('Request rewriting. Hop-by-hop headers are always dropped and Content-Length recomputed from the body.');

const liveSchema = z
  .strictObject({
    enabled: bool()
      .optional()
      .describe('Replay records as sync stores them. Default: on when http.downstream (or tcp.downstream) is set and serve.forward_on_miss is off.'),
    delay: duration({ example: '5s', max: MAX_TIMER_MS })
      .prefault('5s')
      .describe('How far behind the incoming records live replay runs; records arriving within it are put back in recorded order. Default "5s".'),
  })
  .prefault({})
  .describe('Live replay (shadowing) of records as they arrive, with their recorded spacing.');

const serveSchema = z
  .strictObject({
    enabled: bool()
      .default(true)
      .describe('On a Playback node the http (and tcp) listener answers from recordings. Default true; false opens no listener.'),
    match: z
      .strictObject({
        method: bool().default(true).describe('The method must match. Default true.'),
        query: bool().default(true).describe('The query must match (parameter order ignored). Default true.'),
        body: bool().default(true).describe('The body must match (JSON structurally). Default true.'),
        headers: z
          .array(headerName(), { error: 'expected a list of header names' })
          .default([])
          .describe('Request headers that must match too. Default [] (none).'),
      })
      .prefault({})
      .describe('Which parts of a request must match a recording; the path always does.'),
    ignore: z
      .strictObject({
        query_params: z
          .array(nonEmpty('a query parameter name'), { error: 'expected a list of query parameter names' })
          .default([])
          .describe('Query parameters left out of matching (cache busters, timestamps). Default [].'),
        json_paths: z
          .array(jsonPath(), { error: 'expected a list of JSON paths' })
          .default([])
          .describe('JSON paths left out of body matching, like "$.requestId". Default [].'),
      })
      .prefault({})
      .describe('Volatile request fields left out of matching. Values redacted at record time never count.'),
    forward_on_miss: bool()
      .default(false)
      .describe('A request no recording matches is forwarded to http.downstream, answered from there and recorded, so the stub fills itself in. Default false (404).'),
  })
  .prefault({})
  .describe('Serving recorded answers (a traffic-driven stub).');

const tcpAuthSchema = z
  .strictObject({
    user: nonEmpty('a user name').describe('User the replay logs in as (PostgreSQL, MySQL; Redis ACL user, optional there).'),
    password: nonEmpty('a password')
      .optional()
      .describe('Password for user. Keep it out of the file: QPROXY_TCP_AUTH_PASSWORD overrides it (when the auth section exists).'),
    database: nonEmpty('a database name')
      .optional()
      .describe('Database to open (PostgreSQL, MySQL). Default: the one the recorded session opened.'),
  })
  .describe(
    'Zone B\'s credentials for replaying postgres, mysql and redis sessions: the replay runs its own handshake with them (SCRAM-SHA-256, md5 or cleartext for PostgreSQL; caching_sha2_password or mysql_native_password for MySQL/MariaDB; AUTH/HELLO for Redis) instead of the recorded one. Optional: without it the recorded user name is sent and a server that asks for a password fails the session.',
  );

const messageSelectorError = 'expected a message name like "BackendKeyData", or "ParameterStatus:TimeZone" for one parameter';

const tcpIgnoreSchema = z
  .strictObject({
    defaults: bool()
      .default(true)
      .describe(
        'Apply the built-in rules for volatile parts: PostgreSQL BackendKeyData, ParameterStatus server_version/TimeZone/session_authorization/is_superuser/in_hot_standby, the process id of notifications; MySQL SELECT CONNECTION_ID() answers; Redis INFO, TIME, CLIENT ID/INFO/LIST, HELLO, LASTSAVE and auto-id XADD answers. Default true.',
      ),
    messages: z
      .array(z.string({ error: messageSelectorError }).regex(/^[A-Za-z][A-Za-z0-9_]*(?::\S+)?$/, { error: messageSelectorError }), { error: 'expected a list of message names' })
      .default([])
      .describe('Server messages never compared, by name ("NoticeResponse", "ParameterStatus", "ParameterStatus:application_name", "OK:info"). Default [].'),
    requests: z
      .array(regexSource(), { error: 'expected a list of regular expressions' })
      .default([])
      .describe('Regular expressions matched against a request as the API shows it (Query "SELECT now()", COM_QUERY SELECT …, GET k); the answers to matching requests are not compared. Default [].'),
    patterns: z
      .array(regexSource(), { error: 'expected a list of regular expressions' })
      .default([])
      .describe('Regular expressions; text they match in compared values (columns, replies, messages) is ignored. Default [].'),
  })
  .prefault({})
  .describe('Volatile parts left out of the per-message comparison of postgres, mysql and redis sessions (like compare.ignore for HTTP).');

const tcpPlaybackSchema = z
  .strictObject({
    reply_timeout: duration({ example: '5s', min: 1, max: MAX_TIMER_MS })
      .prefault('5s')
      .describe('Replay: how long to wait for the server bytes (or, with a protocol, the answers) the recording had before the next client chunk (request). Default "5s".'),
    compare: z
      .enum(['exact', 'length'], { error: 'expected "exact" or "length"' })
      .default('exact')
      .describe('Replay of raw sessions: compare the server\'s byte stream with the recorded one byte for byte ("exact", default) or by length only ("length"). Sessions with a protocol are compared message by message.'),
    auth: tcpAuthSchema.optional(),
    ignore: tcpIgnoreSchema,
  })
  .prefault({})
  .describe('TCP replay and serving.');

const resultsSchema = z
  .strictObject({
    retention: duration({ example: '72h', max: 365 * 24 * 3_600_000 })
      .prefault('72h')
      .describe('Per-record results and finished replays older than this are deleted. 0 keeps them. Default "72h".'),
    max_replays: count(1, 100_000).default(100).describe('Finished on-demand replays kept; the oldest go first. Default 100.'),
  })
  .prefault({})
  .describe('Replay results, kept in an SQLite file next to storage.path (<name>.playback.db).');

/** The `playback` section (Playback mode only; ignored in Record mode). */
export const playbackSchema = z
  .strictObject({
    live: liveSchema,
    speed: z
      .number({ error: 'expected a number ≥ 0' })
      .min(0, { error: 'expected a number ≥ 0' })
      .max(1000, { error: 'expected a speed of at most 1000' })
      .default(1)
      .describe('Speed of on-demand replays: 1 = recorded timing, 2 = twice as fast, 0 = as fast as possible. Default 1.'),
    rate: z
      .number({ error: 'expected a number of requests per second ≥ 0' })
      .min(0, { error: 'expected a number of requests per second ≥ 0' })
      .max(1_000_000, { error: 'expected at most 1000000 requests per second' })
      .default(0)
      .describe('Fixed rate in requests (sessions) per second instead of the recorded timing; 0 = off (default).'),
    max_gap: duration({ example: '10s', max: MAX_TIMER_MS })
      .prefault('10s')
      .describe('Longest idle gap kept between two recorded requests; longer ones are shortened to it. 0 = no cap. Default "10s".'),
    concurrency: count(1, 10_000)
      .default(64)
      .describe('Most requests (sessions) of one replay in flight at once; never exceeded. Default 64.'),
    timeout: duration({ example: '30s', min: 1, max: MAX_TIMER_MS })
      .prefault('30s')
      .describe('Time a replayed request may take to connect and get its response head, and its body may stay idle. No retries. Default "30s".'),
    rewrite: rewriteSchema,
    safety: safetySchema,
    compare: compareSchema,
    serve: serveSchema,
    tcp: tcpPlaybackSchema,
    results: resultsSchema,
  })
  .prefault({})
  .describe('Playback mode: replay (live and on demand), comparison, safety policy and serving. Defaults apply when absent.');

/** The parsed `playback` section. */
export type PlaybackConfig = z.output<typeof playbackSchema>;
