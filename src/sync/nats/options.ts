/**
 * Turns the validated `nats` config section into publisher and consumer options (reading the creds
 * and TLS files), so the wiring in src/node/sync.ts stays a few lines.
 */
import { readConfigFile } from '../../config/files.js';
import type { QProxyConfig } from '../../config/schema.js';
import type { NatsServerOptions } from './connection.js';
import type { StreamPlan } from './stream-setup.js';
import { Subjects, defaultDurable } from './subjects.js';

/** The validated `nats` section. */
export type NatsConfig = NonNullable<QProxyConfig['nats']>;

function readText(path: string, key: string): string {
  return readConfigFile(path, key).toString('utf8');
}

/** Connection options; throws ConfigError for unreadable creds or TLS files. */
export function serverOptions(n: NatsConfig): NatsServerOptions {
  const tls = n.tls === true ? true : n.tls === false ? undefined : {
    ...(n.tls.ca !== undefined && { ca: readText(n.tls.ca, 'nats.tls.ca') }),
    ...(n.tls.cert !== undefined && { cert: readText(n.tls.cert, 'nats.tls.cert') }),
    ...(n.tls.key !== undefined && { key: readText(n.tls.key, 'nats.tls.key') }),
  };
  return {
    servers: n.servers,
    connectTimeoutMs: n.connect_timeout,
    ...(n.token !== undefined && { token: n.token }),
    ...(n.user !== undefined && { user: n.user, password: n.password ?? '' }),
    ...(n.creds !== undefined && { creds: Buffer.from(readText(n.creds, 'nats.creds')) }),
    ...(tls !== undefined && { tls }),
  };
}

/** The stream plan of the section. */
export function streamPlan(n: NatsConfig): StreamPlan {
  const s = n.stream_settings;
  return {
    name: n.stream,
    subjects: new Subjects(n.subject_prefix),
    create: n.create_stream,
    replicas: s.replicas,
    storage: s.storage,
    maxAgeMs: s.max_age,
    maxBytes: s.max_bytes,
    duplicateWindowMs: s.duplicate_window,
    ...(n.mirror && { mirror: { stream: n.mirror.stream ?? n.stream, domain: n.mirror.domain } }),
    ...(n.sources && { sources: n.sources.map((src) => ({ stream: src.stream ?? n.stream, domain: src.domain })) }),
  };
}

/** The durable consumer a Playback node uses: the group's (shared), the configured one, or its own. */
export function durableName(n: NatsConfig, nodeId: string): string {
  return n.group ?? n.durable ?? defaultDurable(nodeId);
}
