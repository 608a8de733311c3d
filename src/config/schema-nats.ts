/**
 * The `nats` section: NATS JetStream as the sync transport instead of the built-in HTTP/2 peer link.
 * Its presence selects the backend on both modes (a Record node publishes to the stream, a Playback
 * node consumes from it); without it everything works exactly as before.
 */
import { z } from 'zod';
import { count, filePath, nonEmpty, secret } from './fields.js';
import type { RuleInput, RuleIssue } from './rules.js';
import { MAX_TIMER_MS, duration, size } from './units.js';

/** A NATS subject token or stream/consumer name: no dots, wildcards, spaces or path separators. */
const NAME_RE = /^[A-Za-z0-9_-]{1,64}$/;
/** A subject prefix: one or more tokens joined by dots. */
const PREFIX_RE = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;

function natsName(what: string, example: string) {
  const error = `expected ${what} of 1-64 letters, digits, "_" or "-", like "${example}"`;
  return z.string({ error }).regex(NAME_RE, { error });
}

/** `host:port`, `nats://host:port` or `tls://host:port` (no credentials in the URL). */
export function natsServerProblem(value: string): string | undefined {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? value : `nats://${value}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    return 'not a URL or host:port';
  }
  if (!['nats:', 'tls:'].includes(url.protocol)) return `scheme ${url.protocol.slice(0, -1)} is not nats:// or tls://`;
  if (url.username !== '' || url.password !== '') return 'credentials in the URL: use nats.user/nats.password or nats.token instead';
  if (url.hostname === '') return 'no host';
  if (url.pathname !== '' && url.pathname !== '/') return 'a path is not allowed';
  return undefined;
}

function natsServers() {
  const each = 'expected "host:port", "nats://host:port" or "tls://host:port"';
  const one = z.string({ error: each }).superRefine((value, ctx) => {
    const problem = natsServerProblem(value);
    if (problem !== undefined) ctx.addIssue({ code: 'custom', message: `${each} (${problem})`, input: value });
  });
  const error = 'expected a NATS server URL or a non-empty list of them';
  return z.union([one, z.array(one, { error }).min(1, { error })], { error }).transform((v) => (typeof v === 'string' ? [v] : v));
}

function timer(def: string, what: string, min = 1) {
  return duration({ example: def, min, max: MAX_TIMER_MS })
    .prefault(def)
    .describe(`${what} Default "${def}".`);
}

const natsTlsSchema = z.union(
  [
    z.boolean(),
    z.strictObject({
      ca: filePath('a PEM CA bundle').optional().describe('CA bundle (PEM) to trust for the servers\' certificates.'),
      cert: filePath('a PEM certificate file').optional().describe('Client certificate (PEM), when the servers verify clients. Needs key.'),
      key: filePath('a PEM private key file').optional().describe('Private key (PEM) for cert. Needs cert.'),
    }),
  ],
  { error: 'expected true, false or an object with ca, cert, key' },
);

const streamSettingsSchema = z
  .strictObject({
    replicas: count(1, 5).default(1).describe('Copies of the stream in a NATS cluster (1, 3 or 5 are usual). Default 1.'),
    storage: z.enum(['file', 'memory'], { error: 'expected "file" or "memory"' }).default('file').describe('Where the server keeps the stream. Default "file".'),
    max_age: duration({ example: '72h', min: 0 })
      .prefault('72h')
      .describe('Messages older than this are removed by the server (record messages and the parts of large ones alike). 0 = no age limit. Default "72h".'),
    max_bytes: size({ example: '10GiB' }).prefault(0).describe('Largest size of the stream; the oldest messages go first. 0 = no limit (default).'),
    duplicate_window: duration({ example: '2m', min: 1000 })
      .prefault('2m')
      .describe('How long the server remembers message ids to drop re-sent records. Default "2m"; must exceed the longest NATS outage a publish retry spans.'),
  })
  .prefault({})
  .describe('Settings used when QProxy creates the stream (nats.create_stream). An existing stream is only checked.');

const mirrorSchema = z
  .strictObject({
    stream: natsName('a stream name', 'QPROXY').optional().describe('Name of the stream mirrored. Default: nats.stream.'),
    domain: natsName('a JetStream domain', 'zone-a').describe('JetStream domain of the zone holding the stream (its nats-server jetstream.domain). Required.'),
  })
  .describe('Playback only: this zone\'s stream is a mirror of the stream in another JetStream domain (zone A), reached over a leafnode connection.');

const sourceSchema = z.strictObject({
  stream: natsName('a stream name', 'QPROXY').optional().describe('Name of the stream sourced. Default: nats.stream.'),
  domain: natsName('a JetStream domain', 'zone-a1').describe('JetStream domain of the zone holding it (its nats-server jetstream.domain). Required.'),
});

const sourcesSchema = z
  .array(sourceSchema, { error: 'expected a list of { stream, domain }' })
  .min(1, { error: 'expected at least one { stream, domain } (or leave sources out)' })
  .max(64, { error: 'expected at most 64 sources' })
  .superRefine((list, ctx) => {
    const seen = new Set<string>();
    list.forEach((s, i) => {
      const key = `${s.stream ?? ''}\u0000${s.domain}`;
      if (seen.has(key)) ctx.addIssue({ code: 'custom', path: [i], message: `names stream "${s.stream ?? '(nats.stream)'}" in domain "${s.domain}" twice; list each source once`, input: s });
      seen.add(key);
    });
  })
  .describe(
    'Playback only: this zone\'s stream gathers the streams of several other JetStream domains (zone A sites), each reached over a leafnode connection. Not with mirror.',
  );

/** The `nats` section. */
export const natsSchema = z
  .strictObject({
    enabled: z.boolean({ error: 'expected true or false' }).default(true).describe('Use NATS JetStream for sync. Default true when the section is present.'),
    servers: natsServers().describe('NATS servers: "host:port", "nats://host:port" or "tls://host:port", one or a list (required).'),
    stream: natsName('a stream name', 'QPROXY').default('QPROXY').describe('JetStream stream holding the records. Default "QPROXY".'),
    subject_prefix: z
      .string({ error: 'expected subject tokens joined by dots, like "qproxy" or "acme.qproxy"' })
      .regex(PREFIX_RE, { error: 'expected subject tokens joined by dots, like "qproxy" or "acme.qproxy"' })
      .default('qproxy')
      .describe('Subjects used: <prefix>.rec.<node_id>.<http|tcp> for records, <prefix>.part.… for pieces of large ones. Default "qproxy".'),
    token: secret('a token').optional().describe('Token authentication. Overridden by QPROXY_NATS_TOKEN.'),
    user: nonEmpty('a user name').optional().describe('User for user/password authentication. Needs password.'),
    password: secret('a password').optional().describe('Password for user. Overridden by QPROXY_NATS_PASSWORD.'),
    creds: filePath('a NATS .creds file').optional().describe('Credentials file (JWT and NKey seed) for decentralised authentication.'),
    tls: natsTlsSchema
      .default(false)
      .describe('TLS to the servers: true (system CAs), or { ca, cert, key }. tls:// server URLs imply TLS. Default false.'),
    create_stream: z
      .boolean({ error: 'expected true or false' })
      .default(true)
      .describe('Create the stream (and the Playback consumer) when missing. false: they must exist and are only checked. Default true.'),
    stream_settings: streamSettingsSchema,
    mirror: mirrorSchema.optional(),
    sources: sourcesSchema.optional(),
    durable: natsName('a consumer name', 'qproxy-zone-b-1')
      .optional()
      .describe('Playback: durable consumer name. Default "qproxy-<node_id>" (each node gets every record). Not with group.'),
    group: natsName('a group name', 'replayers')
      .optional()
      .describe('Playback: nodes with the same group share one durable consumer named after it and split the records (and the live replay) between them.'),
    max_in_flight: count(1, 4096).default(256).describe('Record: publishes awaiting the server\'s acknowledgement at once. Default 256.'),
    publish_timeout: timer('10s', 'Record: time for the server to acknowledge a publish before it is retried.', 100),
    compression: z
      .enum(['br', 'gzip', 'none'], { error: 'expected "br", "gzip" or "none"' })
      .default('br')
      .describe('Record: compression of record messages of compress_min_bytes or more. Default "br".'),
    compress_min_bytes: size({ example: '4KiB', min: 0 })
      .prefault('4KiB')
      .describe('Record: smaller messages are sent as they are (compressing them costs more CPU than it saves). Default "4KiB".'),
    poll_interval: duration({ example: '100ms', min: 10, max: 10_000 })
      .prefault('100ms')
      .describe('Record: how often the store is checked for new records once everything is published. Default "100ms".'),
    batch: count(1, 10_000).default(256).describe('Playback: messages pulled and stored per batch. Default 256.'),
    ack_wait: timer('30s', 'Playback: a message not acknowledged this long is delivered again (to any group member).', 1000),
    max_ack_pending: count(1, 1_000_000).default(4096).describe('Playback: messages delivered but not yet acknowledged, at most. Default 4096.'),
    connect_timeout: timer('10s', 'Time to connect to a server and finish the handshake.', 100),
    backoff_initial: timer('250ms', 'First wait before retrying after a failure; doubles on each further failure (with jitter).', 10),
    backoff_max: timer('30s', 'Longest wait between retries; also the wait after a definite misconfiguration.', 10),
  })
  .describe(
    'Sync through NATS JetStream instead of the HTTP/2 peer link: Record nodes publish, Playback nodes consume with a durable pull consumer. Replaces peer (Record) and the sync listener (Playback).',
  );

/** Cross-field rules of the `nats` section. */
export function natsRules(config: RuleInput & { nats?: unknown }): RuleIssue[] {
  const nats = config.nats as Record<string, unknown> | undefined;
  if (typeof nats !== 'object' || nats === null || nats.enabled === false) return [];
  const issues: RuleIssue[] = [];
  if (config.mode === 'Record' && config.peer !== undefined) {
    issues.push({ path: ['nats'], message: 'and peer are both set — a Record node sends its records through one of them; remove peer or nats', plain: true });
  }
  if (config.mode === 'Record' && nats.mirror !== undefined) {
    issues.push({ path: ['nats', 'mirror'], message: 'is for Playback nodes — a Record node publishes into the stream, and a mirror cannot be written to', plain: true });
  }
  if (config.mode === 'Record' && nats.sources !== undefined) {
    issues.push({ path: ['nats', 'sources'], message: 'is for Playback nodes — a Record node publishes into the stream, and a sourced stream takes no publishes of its own', plain: true });
  }
  if (nats.mirror !== undefined && nats.sources !== undefined) {
    issues.push({ path: ['nats', 'sources'], message: 'and nats.mirror are both set — a stream either mirrors one stream or gathers several; keep one', plain: true });
  }
  if (nats.durable !== undefined && nats.group !== undefined) {
    issues.push({ path: ['nats', 'group'], message: 'and nats.durable are both set — a group shares the durable named after it; keep one', plain: true });
  }
  if (nats.user !== undefined && nats.password === undefined) {
    issues.push({ path: ['nats', 'password'], message: 'expected a password for nats.user (or set QPROXY_NATS_PASSWORD)', plain: false });
  }
  if (nats.password !== undefined && nats.user === undefined) {
    issues.push({ path: ['nats', 'user'], message: 'expected a user name for nats.password', plain: false });
  }
  const auth = (['token', 'user', 'creds'] as const).filter((k) => nats[k] !== undefined);
  if (auth.length > 1) {
    issues.push({ path: ['nats', auth[1]!], message: `and nats.${auth[0]} are both set — choose one way to authenticate`, plain: true });
  }
  const tls = nats.tls as Record<string, unknown> | undefined;
  if (typeof tls === 'object' && tls !== null && (tls.cert === undefined) !== (tls.key === undefined)) {
    issues.push({ path: ['nats', 'tls', tls.cert === undefined ? 'cert' : 'key'], message: 'expected both cert and key for a client certificate', plain: false });
  }
  const timeout = nats.publish_timeout;
  const settings = nats.stream_settings as Record<string, unknown> | undefined;
  if (typeof settings?.duplicate_window === 'number' && typeof timeout === 'number' && settings.duplicate_window < timeout * 2) {
    issues.push({
      path: ['nats', 'stream_settings', 'duplicate_window'],
      message: 'is shorter than twice nats.publish_timeout — a publish retried after a lost acknowledgement could be stored twice; raise it',
      plain: true,
    });
  }
  if (typeof nats.backoff_initial === 'number' && typeof nats.backoff_max === 'number' && nats.backoff_max < nats.backoff_initial) {
    issues.push({ path: ['nats', 'backoff_max'], message: 'is shorter than nats.backoff_initial — raise it or lower backoff_initial', plain: true });
  }
  return issues;
}
