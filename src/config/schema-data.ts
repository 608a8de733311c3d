/**
 * What is kept and how: `storage` (payload segments with an SQLite index, its write queue and purging) and `recording`
 * (whether traffic is recorded, and redaction of secrets before a record is queued).
 */
import { z } from 'zod';
import { count, filePath, headerName, jsonPath, nonEmpty, regexSource, secret } from './fields.js';
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

/** What is recorded. */
export const recordingSchema = z
  .strictObject({
    enabled: bool().default(true).describe('Record traffic. Default true; false proxies without recording.'),
    redaction: redactionSchema,
  })
  .prefault({})
  .describe('Recording options. Defaults apply when absent.');
