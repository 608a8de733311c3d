/** Building NATS publishers and consumers for tests (fast back-off, short ack wait). */
import type { TestContext } from 'node:test';
import type { Store } from '../../src/store/index.js';
import { NatsConsumer, type NatsConsumerOptions } from '../../src/sync/nats/consumer.js';
import { NatsPublisher, type NatsPublisherOptions } from '../../src/sync/nats/publisher.js';
import type { StreamPlan } from '../../src/sync/nats/stream-setup.js';
import { Subjects } from '../../src/sync/nats/subjects.js';
import { MemoryLog } from './helpers.js';

export function plan(over: Partial<StreamPlan> = {}): StreamPlan {
  return {
    name: 'QPROXY',
    subjects: new Subjects('qproxy'),
    create: true,
    replicas: 1,
    storage: 'file',
    maxAgeMs: 0,
    maxBytes: 0,
    duplicateWindowMs: 120_000,
    ...over,
  };
}

export function publisherOptions(store: Store, url: string, over: Partial<NatsPublisherOptions> = {}): NatsPublisherOptions {
  const stream = over.stream ?? plan();
  return {
    nodeId: 'az-a-1',
    server: { servers: [url], connectTimeoutMs: 2000 },
    stream,
    subjects: stream.subjects,
    maxInFlight: 64,
    publishTimeoutMs: 2000,
    compression: 'br',
    compressMinBytes: 4096,
    pollIntervalMs: 20,
    backoffInitialMs: 20,
    backoffMaxMs: 300,
    store,
    logger: new MemoryLog(),
    ...over,
  };
}

export function consumerOptions(store: Store, url: string, over: Partial<NatsConsumerOptions> = {}): NatsConsumerOptions {
  const stream = over.stream ?? plan();
  return {
    nodeId: 'az-b-1',
    server: { servers: [url], connectTimeoutMs: 2000 },
    stream,
    subjects: stream.subjects,
    durable: 'qproxy-az-b-1',
    group: null,
    batch: 64,
    ackWaitMs: 2000,
    maxAckPending: 1000,
    backoffInitialMs: 20,
    backoffMaxMs: 300,
    store,
    logger: new MemoryLog(),
    ...over,
  };
}

export async function startPublisher(t: TestContext, opts: NatsPublisherOptions): Promise<NatsPublisher> {
  const p = new NatsPublisher(opts);
  t.after(() => p.close(500));
  await p.start();
  return p;
}

export async function startConsumer(t: TestContext, opts: NatsConsumerOptions): Promise<NatsConsumer> {
  const c = new NatsConsumer(opts);
  t.after(() => c.close(500));
  await c.start();
  return c;
}

/** A record as canonical JSON (keys sorted, Buffers as base64), for byte-for-byte comparison. */
export function recordJson(r: unknown): string {
  return JSON.stringify(r, function (this: unknown, _key: string, value: unknown) {
    if (value && typeof value === 'object' && (value as { type?: unknown }).type === 'Buffer' && Array.isArray((value as { data?: unknown }).data)) {
      return `base64:${Buffer.from((value as { data: number[] }).data).toString('base64')}`;
    }
    if (value && typeof value === 'object' && !Array.isArray(value)) {
      return Object.fromEntries(Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    }
    return value;
  });
}
