/**
 * The whole config file (SPEC §3). Every object is strict, so a misspelt key is an error rather than
 * a silently ignored setting. Sections that have defaults are filled in when absent, so consumers
 * read `config.storage.max_body` without checking for undefined. `config.schema.json` is generated
 * from this schema (input side) by scripts/gen-schema.ts.
 */
import { hostname } from 'node:os';
import { z } from 'zod';
import { crossFieldIssues } from './rules.js';
import { apiSchema, peerSchema, syncSchema } from './schema-services.js';
import { httpSchema, tcpSchema } from './schema-listeners.js';
import { forwardSchema } from './schema-forward.js';
import { recordingSchema, storageSchema } from './schema-data.js';
import { playbackSchema } from './schema-playback.js';
import { natsSchema } from './schema-nats.js';
import { MAX_TIMER_MS, duration } from './units.js';

const shutdownSchema = z
  .strictObject({
    drain_timeout: duration({ example: '30s', max: MAX_TIMER_MS })
      .prefault('30s')
      .describe('On SIGTERM/SIGINT, how long in-flight exchanges may finish before connections are closed. Default "30s".'),
  })
  .prefault({})
  .describe('Graceful shutdown. Defaults apply when absent.');

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'] as const;

const logSchema = z
  .strictObject({
    level: z
      .enum(LOG_LEVELS, { error: `expected one of ${LOG_LEVELS.map((l) => `"${l}"`).join(', ')}` })
      .default('info')
      .describe('Least severe level written (JSON lines on stdout). Default "info". Overridden by QPROXY_LOG_LEVEL.'),
  })
  .prefault({})
  .describe('Logging. Defaults apply when absent.');

const nodeIdError = 'expected a node id of 1-128 characters without spaces, like "az-a-1"';

/** The config file. Parse with `configSchema.safeParse(json)`; the loader adds paths and env. */
export const configSchema = z
  .strictObject({
    $schema: z
      .string({ error: 'expected a URI or path to config.schema.json' })
      .optional()
      .describe('Where editors find this schema, e.g. "./config.schema.json". Ignored by QProxy.'),
    mode: z
      .enum(['Record', 'Playback'], { error: 'expected "Record" or "Playback"' })
      .describe('"Record": proxy live traffic and record it. "Playback": receive records and replay or serve them. Required.'),
    node_id: z
      .string({ error: nodeIdError })
      .regex(/^[\x21-\x7e]{1,128}$/, { error: nodeIdError })
      .optional()
      .transform((id) => id ?? hostname())
      .describe('Name of this node, stored in every record. Default: the host name.'),
    http: httpSchema.optional(),
    tcp: tcpSchema.optional(),
    forward: forwardSchema.optional(),
    peer: peerSchema.optional(),
    sync: syncSchema,
    nats: natsSchema.optional(),
    api: apiSchema,
    storage: storageSchema,
    recording: recordingSchema,
    playback: playbackSchema,
    shutdown: shutdownSchema,
    log: logSchema,
  })
  .superRefine(
    (config, ctx) => {
      for (const issue of crossFieldIssues(config)) {
        ctx.addIssue({ code: 'custom', path: issue.path, message: issue.message, params: { plain: issue.plain } });
      }
    },
    // Run even when fields failed, so one pass reports everything; the rules check types themselves.
    { when: (payload) => typeof payload.value === 'object' && payload.value !== null },
  )
  .describe('QProxy configuration: a traffic record-and-replay proxy. Unknown keys are errors.');

/** The validated config with every default applied (sizes in bytes, durations in milliseconds). */
export type QProxyConfig = z.output<typeof configSchema>;

/** What may be written in the file (sizes and durations also as strings; sections optional). */
export type QProxyConfigInput = z.input<typeof configSchema>;
