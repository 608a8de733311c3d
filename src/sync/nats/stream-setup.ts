/**
 * Creates or checks the stream (and a Playback node's durable consumer) on every new connection.
 * nats-server 2.9 silently drops stream settings it does not know, so a created stream is read back
 * and compared with what was asked; an existing one is checked for what QProxy relies on.
 */
import {
  AckPolicy,
  DeliverPolicy,
  StorageType,
  JetStreamApiCodes,
  JetStreamApiError,
  type ConsumerConfig,
  type JetStreamManager,
  type StreamConfig,
  type StreamInfo,
  type StreamSource,
} from '@nats-io/jetstream';
import type { SyncLogger } from '../store-port.js';
import { NatsError } from './nats-error.js';
import { Subjects } from './subjects.js';

const NS_PER_MS = 1_000_000;

/** The stream as the config describes it. */
export interface StreamPlan {
  name: string;
  subjects: Subjects;
  /** Create it when missing (else: missing is an error). */
  create: boolean;
  replicas: number;
  storage: 'file' | 'memory';
  maxAgeMs: number;
  maxBytes: number;
  duplicateWindowMs: number;
  /** Playback: this stream mirrors `stream` in JetStream domain `domain`. */
  mirror?: Origin;
  /** Playback: this stream gathers these streams of other domains (not with mirror). */
  sources?: Origin[];
}

/** A stream in another JetStream domain (zone), reached over a leafnode connection. */
export interface Origin {
  stream: string;
  domain: string;
}

/** What the publisher learns from the stream. */
export interface StreamFacts {
  /** Largest message the stream accepts (-1 or 0: no limit of its own). */
  maxMsgSize: number;
  mirror: boolean;
}

function conflict(plan: StreamPlan, what: string): NatsError {
  return new NatsError('QP_ERR_NATS_STREAM_CONFLICT', `the JetStream stream "${plan.name}" ${what}`);
}

function isApiError(err: unknown, code: number): boolean {
  return err instanceof JetStreamApiError && err.code === code;
}

function sourceOf(o: Origin): StreamSource {
  return { name: o.stream, domain: o.domain };
}

/** The client turns a domain into this API prefix; the server stores and reports the prefix. */
function apiOf(domain: string): string {
  return `$JS.${domain}.API`;
}

/** The domain of an API prefix (`$JS.A.API` → `A`); the prefix itself when it is not of that form. */
export function domainOfApi(api: string): string {
  return /^\$JS\.([^.]+)\.API$/.exec(api)?.[1] ?? api;
}

/** Whether a mirror or source of a stream's config is `o` (the API prefix is absent on a same-domain link). */
function isOrigin(link: StreamSource | undefined, o: Origin): boolean {
  const api = link?.external?.api;
  return link !== undefined && link.name === o.stream && (api === undefined || api === apiOf(o.domain));
}

/** Whether the stream's config already sources `o`. */
function sources(cfg: StreamConfig, o: Origin): boolean {
  return (cfg.sources ?? []).some((s) => isOrigin(s, o));
}

function describe(o: Origin): string {
  return `"${o.stream}" in domain "${o.domain}"`;
}

function desired(plan: StreamPlan): Partial<StreamConfig> & { name: string } {
  const base: Partial<StreamConfig> & { name: string } = {
    name: plan.name,
    num_replicas: plan.replicas,
    storage: plan.storage === 'memory' ? StorageType.Memory : StorageType.File,
    max_age: plan.maxAgeMs * NS_PER_MS,
    max_bytes: plan.maxBytes === 0 ? -1 : plan.maxBytes,
  };
  if (plan.mirror) return { ...base, mirror: { name: plan.mirror.stream, domain: plan.mirror.domain } };
  if (plan.sources) return { ...base, sources: plan.sources.map(sourceOf) };
  return { ...base, subjects: [`${plan.subjects.prefix}.>`], duplicate_window: plan.duplicateWindowMs * NS_PER_MS };
}

/** Settings the server must have kept exactly as asked when QProxy created the stream. */
function checkCreated(plan: StreamPlan, got: StreamConfig): void {
  const want = desired(plan);
  const diffs: string[] = [];
  for (const key of ['num_replicas', 'storage', 'max_age', 'max_bytes', 'duplicate_window'] as const) {
    if (want[key] !== undefined && got[key] !== want[key]) diffs.push(`${key} is ${String(got[key])}, asked ${String(want[key])}`);
  }
  if (plan.mirror && !got.mirror) diffs.push('mirror was dropped');
  const dropped = (plan.sources ?? []).filter((o) => !sources(got, o));
  if (dropped.length > 0) diffs.push(`sources ${dropped.map(describe).join(', ')} were dropped`);
  if (diffs.length > 0) throw conflict(plan, `was created, but the server did not keep its settings (${diffs.join('; ')}); check the server version and its JetStream limits`);
}

/** What QProxy relies on in any stream it uses, created by it or not. */
function checkUsable(plan: StreamPlan, cfg: StreamConfig, role: 'publisher' | 'consumer'): void {
  const subjects = cfg.subjects ?? [];
  const covers = (s: string): boolean => subjects.some((p) => Subjects.covers(p, s));
  const rec = plan.subjects.record('node', 'http');
  const part = plan.subjects.part('id', 0);
  if (plan.mirror) {
    if (!isOrigin(cfg.mirror, plan.mirror)) {
      throw conflict(plan, `is not a mirror of ${describe(plan.mirror)} (nats.mirror); delete it or fix nats.mirror`);
    }
    return;
  }
  if (plan.sources) {
    if (cfg.mirror) throw conflict(plan, `is a mirror of "${cfg.mirror.name}", not a stream with sources (nats.sources); delete it or use nats.mirror`);
    const missing = plan.sources.filter((o) => !sources(cfg, o));
    if (missing.length > 0) {
      throw conflict(plan, `does not source ${missing.map(describe).join(', ')} (nats.sources); add them to the stream's sources, or set nats.create_stream to true so QProxy adds them`);
    }
    return;
  }
  if (role === 'publisher') {
    if (cfg.mirror) throw conflict(plan, 'is a mirror and cannot be published to; point Record nodes at the origin stream (zone A)');
    if (!covers(rec) && (cfg.sources?.length ?? 0) > 0) throw conflict(plan, 'gathers other streams (sources) and takes no publishes of its own; point Record nodes at an origin stream (zone A)');
    if (!covers(rec) || !covers(part)) {
      throw conflict(plan, `has subjects ${JSON.stringify(subjects)}, which do not cover "${plan.subjects.prefix}.rec.>" and "${plan.subjects.prefix}.part.>"; add "${plan.subjects.prefix}.>" to its subjects or change nats.subject_prefix`);
    }
    if (!(cfg.duplicate_window > 0)) {
      throw conflict(plan, 'has no duplicate window, so re-sent records would be stored twice; set duplicate_window (e.g. 2m) on the stream');
    }
    if (cfg.sealed) throw conflict(plan, 'is sealed and takes no new messages; unseal it or use another stream');
    return;
  }
  if (!cfg.mirror && (cfg.sources?.length ?? 0) === 0 && !covers(rec)) {
    throw conflict(plan, `has subjects ${JSON.stringify(subjects)}, which do not cover "${plan.subjects.recordFilter}"; change nats.subject_prefix or the stream's subjects`);
  }
}

/** Creates or checks the stream; throws NatsError (missing, conflict) or the server's error. */
export async function ensureStream(jsm: JetStreamManager, plan: StreamPlan, role: 'publisher' | 'consumer', logger: SyncLogger): Promise<StreamFacts> {
  let info: StreamInfo;
  try {
    info = await jsm.streams.info(plan.name);
  } catch (err) {
    if (!isApiError(err, JetStreamApiCodes.StreamNotFound)) throw err;
    if (!plan.create) {
      throw new NatsError(
        'QP_ERR_NATS_STREAM_MISSING',
        `the JetStream stream "${plan.name}" does not exist and nats.create_stream is false; create it (subjects "${plan.subjects.prefix}.>") or set create_stream to true`,
      );
    }
    info = await jsm.streams.add(desired(plan));
    checkCreated(plan, info.config);
    logger.info({ stream: plan.name, subjects: info.config.subjects, mirror: info.config.mirror?.name, sources: plan.sources?.map(describe) }, 'NATS sync: created the stream');
  }
  info = await addSources(jsm, plan, info, logger);
  checkUsable(plan, info.config, role);
  return { maxMsgSize: info.config.max_msg_size, mirror: Boolean(info.config.mirror) };
}

/**
 * A zone A site added to nats.sources is added to an existing sourced stream (when QProxy may
 * create streams): the stream then copies that site's records too, from its first message. Sources
 * the stream has beyond the config are left alone (an operator may have added them).
 */
async function addSources(jsm: JetStreamManager, plan: StreamPlan, info: StreamInfo, logger: SyncLogger): Promise<StreamInfo> {
  const cfg = info.config;
  const missing = (plan.sources ?? []).filter((o) => !sources(cfg, o));
  if (!plan.create || missing.length === 0 || cfg.mirror || (cfg.subjects?.length ?? 0) > 0) return info;
  const updated = await jsm.streams.update(plan.name, { sources: [...(cfg.sources ?? []), ...missing.map(sourceOf)] });
  logger.info({ stream: plan.name, added: missing.map(describe) }, 'NATS sync: added sources to the stream');
  return updated;
}

/** The durable pull consumer as the config describes it. */
export interface ConsumerPlan {
  stream: string;
  durable: string;
  filter: string;
  ackWaitMs: number;
  maxAckPending: number;
}

/**
 * Creates the durable consumer or checks (and updates the tunable settings of) an existing one.
 * Consumers are QProxy's own state, so they are created even when nats.create_stream is false.
 */
export async function ensureConsumer(jsm: JetStreamManager, plan: ConsumerPlan, logger: SyncLogger): Promise<void> {
  const want: Partial<ConsumerConfig> = {
    durable_name: plan.durable,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    filter_subject: plan.filter,
    ack_wait: plan.ackWaitMs * NS_PER_MS,
    max_ack_pending: plan.maxAckPending,
    max_deliver: -1,
  };
  let cfg: ConsumerConfig;
  try {
    cfg = (await jsm.consumers.info(plan.stream, plan.durable)).config;
  } catch (err) {
    if (!isApiError(err, JetStreamApiCodes.ConsumerNotFound)) throw err;
    await jsm.consumers.add(plan.stream, want);
    logger.info({ stream: plan.stream, durable: plan.durable, filter: plan.filter }, 'NATS sync: created the durable consumer');
    return;
  }
  const problems: string[] = [];
  if (cfg.deliver_subject) problems.push('it is a push consumer');
  if (cfg.ack_policy !== AckPolicy.Explicit) problems.push(`its ack_policy is ${cfg.ack_policy}`);
  if ((cfg.filter_subject ?? '') !== plan.filter) problems.push(`its filter is "${cfg.filter_subject ?? ''}"`);
  if (problems.length > 0) {
    throw new NatsError(
      'QP_ERR_NATS_CONSUMER_CONFLICT',
      `the consumer "${plan.durable}" on stream "${plan.stream}" cannot be used: ${problems.join(', ')} (QProxy needs a pull consumer, explicit acks, filter "${plan.filter}"); delete it or choose another nats.durable / nats.group`,
    );
  }
  if (cfg.ack_wait !== want.ack_wait || cfg.max_ack_pending !== want.max_ack_pending) {
    await jsm.consumers.update(plan.stream, plan.durable, { ack_wait: want.ack_wait!, max_ack_pending: want.max_ack_pending! });
  }
}
