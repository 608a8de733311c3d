import { randomBytes } from 'node:crypto';
import type { ClientHttp2Session, Http2Server, ServerHttp2Session } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { Registry } from 'prom-client';
import { SyncMetrics } from '../../src/metrics/sync-metrics.js';
import type { HttpRecord, QRecord, TcpRecord } from '../../src/recording/model.js';
import { uuidv7 } from '../../src/core/uuidv7.js';
import { Store, type StoreOptions } from '../../src/store/index.js';
import { SyncReceiver, type SyncReceiverOptions } from '../../src/sync/peer/receiver.js';
import { SyncSender, type SyncSenderOptions } from '../../src/sync/peer/sender.js';

/** Collects log lines; `has(text)` looks for a message containing `text`. */
export class MemoryLog {
  readonly lines: Array<{ level: string; obj: object; msg: string }> = [];
  info(obj: object, msg: string): void {
    this.lines.push({ level: 'info', obj, msg });
  }
  warn(obj: object, msg: string): void {
    this.lines.push({ level: 'warn', obj, msg });
  }
  error(obj: object, msg: string): void {
    this.lines.push({ level: 'error', obj, msg });
  }
  count(level: string, text: string): number {
    return this.lines.filter((l) => l.level === level && l.msg.includes(text)).length;
  }
  has(text: string): boolean {
    return this.lines.some((l) => l.msg.includes(text));
  }
}

/** A fresh temp folder removed after the test. */
export async function tempDir(t: TestContext, prefix = 'qproxy-sync-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

export function storeOptions(path: string, over: Partial<StoreOptions> = {}): StoreOptions {
  return {
    path,
    retentionMs: 0,
    maxSizeBytes: 0,
    flushIntervalMs: 20,
    synchronous: 'normal',
    queueMaxRecords: 100_000,
    queueMaxBytes: 512 * 1024 * 1024,
    purgeIntervalMs: 60_000,
    ...over,
  };
}

/** Opens a store at `path` and closes it after the test (closing twice is harmless). */
export async function openStore(t: TestContext, path: string, over: Partial<StoreOptions> = {}): Promise<Store> {
  const store = await Store.open(storeOptions(path, over));
  t.after(() => store.close());
  return store;
}

const JSON_BODY = (i: number): Buffer =>
  Buffer.from(
    JSON.stringify({
      order_id: 100_000 + i,
      customer: { id: `c-${i % 97}`, name: `Customer ${i % 97}`, tier: i % 3 === 0 ? 'gold' : 'standard' },
      items: Array.from({ length: 1 + (i % 4) }, (_, k) => ({ sku: `SKU-${(i * 7 + k) % 500}`, qty: 1 + (k % 3), price_cents: 199 + ((i + k) % 50) * 100 })),
      created_at: new Date(1_760_000_000_000 + i * 1000).toISOString(),
    }),
  );

/** A realistic HTTP record; `i` varies content, `over` replaces top-level fields. */
export function httpRecord(i: number, over: Partial<HttpRecord> = {}): HttpRecord {
  const startedAt = over.started_at ?? Date.now() - 1000 + (i % 1000);
  const req = i % 5 === 0 ? JSON_BODY(i) : Buffer.alloc(0);
  const res = i % 7 === 0 ? randomBytes(300 + (i % 200)) : JSON_BODY(i + 1);
  return {
    v: 1,
    id: uuidv7(startedAt),
    protocol: 'http',
    node_id: 'az-a-1',
    started_at: startedAt,
    duration_ms: 3.25 + (i % 10),
    client: { address: '10.1.2.3', port: 40_000 + (i % 20_000) },
    tls: i % 2 === 0 ? { sni: 'shop.example', alpn: 'h2', version: 'TLSv1.3' } : null,
    downstream: 'http://10.0.0.5:8081',
    request: {
      method: i % 5 === 0 ? 'POST' : 'GET',
      url: `/api/v1/orders/${100_000 + i}?expand=items&trace=${i}`,
      http_version: '1.1',
      headers: [
        ['Host', 'shop.example'],
        ['User-Agent', 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36'],
        ['Accept', 'application/json'],
        ['X-Request-Id', uuidv7()],
        ['authorization', 'REDACTED:hmac-sha256:3f2a9c1b0d4e5f60'],
      ],
      body: { data: req, size: req.byteLength, truncated: false },
      trailers: [],
    },
    response: {
      status: 200,
      status_message: 'OK',
      http_version: '1.1',
      headers: [
        ['Content-Type', i % 7 === 0 ? 'application/octet-stream' : 'application/json; charset=utf-8'],
        ['Content-Length', String(res.byteLength)],
        ['Date', new Date(startedAt).toUTCString()],
        ['Cache-Control', 'no-store'],
      ],
      body: { data: res, size: res.byteLength, truncated: false },
      trailers: [],
    },
    status: 200,
    timings: { request_end: 0.5, response_start: 2.75, response_end: 3.25 },
    error: null,
    redacted: ['request.headers.authorization'],
    ...over,
  };
}

/** A TCP session segment with `n` chunks of `size` bytes alternating direction, chunk offsets from `firstChunk`. */
export function tcpSegment(id: string, firstChunk: number, n: number, state: 'open' | 'closed', size = 64): TcpRecord {
  const chunks = Array.from({ length: n }, (_, k) => {
    const idx = firstChunk + k;
    return { dir: idx % 2 === 0 ? ('c2s' as const) : ('s2c' as const), t_us: idx * 1000, data: Buffer.from(`${idx}:`.padEnd(size, String.fromCharCode(97 + (idx % 26)))) };
  });
  const total = firstChunk + n;
  return {
    v: 1,
    id,
    protocol: 'tcp',
    node_id: 'az-a-1',
    started_at: Date.now() - 5000,
    duration_ms: total,
    client: { address: '10.1.2.3', port: 5555 },
    tls: null,
    downstream: '10.0.0.9:6379',
    downstream_tls: false,
    bytes_in: Math.ceil(total / 2) * size,
    bytes_out: Math.floor(total / 2) * size,
    chunks,
    truncated: false,
    state,
    close_reason: state === 'closed' ? 'client_close' : null,
    error: null,
    redacted: [],
  };
}

/** Offers records and waits until they are committed. */
export async function fill(store: Store, records: readonly QRecord[]): Promise<void> {
  for (const r of records) {
    if (!store.offer(r)) throw new Error(`the store dropped record ${r.id}`);
  }
  await store.flush();
}

/** Every record in a store, by id. */
export function allRecords(store: Store): Map<string, QRecord> {
  const out = new Map<string, QRecord>();
  let seq = 0;
  for (;;) {
    const page = store.readAfter(seq, 500);
    if (page.length === 0) return out;
    for (const { seq: s, record } of page) {
      out.set(record.id, record);
      seq = s;
    }
  }
}

/** Polls `check` every 20 ms until it is true; fails after `timeoutMs` with `what`. */
export async function waitFor(check: () => boolean, what: string | (() => string), timeoutMs = 20_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (check()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`gave up waiting for ${typeof what === 'string' ? what : what()}`);
}

/** Metrics on a private registry, for observer assertions. */
export function syncMetrics(): { metrics: SyncMetrics; registry: Registry } {
  const registry = new Registry();
  return { metrics: new SyncMetrics(registry), registry };
}

/** The receiver's connection limits at their configuration defaults (sync.max_connections, …). */
export const RECEIVER_LIMITS = { maxConnections: 256, maxConnectionsPerAddress: 16, authTimeoutMs: 10_000 };

/** Starts a receiver on 127.0.0.1:0 and closes it after the test. */
export async function startReceiver(
  t: TestContext,
  opts: Partial<SyncReceiverOptions> & Pick<SyncReceiverOptions, 'store'>,
): Promise<{ receiver: SyncReceiver; port: number; log: MemoryLog }> {
  const log = new MemoryLog();
  const receiver = new SyncReceiver({ host: '127.0.0.1', port: 0, allowedClients: [], maxBatchBytes: 64 * 1024 * 1024, limits: RECEIVER_LIMITS, logger: log, ...opts });
  const addr = await receiver.listen();
  t.after(() => receiver.close(1000));
  return { receiver, port: addr.port, log };
}

/** Sender options with timers fit for tests (fast PING and back-off). */
export function senderOptions(store: Store, port: number, over: Partial<SyncSenderOptions> = {}): SyncSenderOptions {
  return {
    nodeId: 'az-a-1',
    peer: { host: '127.0.0.1', port, tls: false },
    timers: { connectTimeoutMs: 2000, pingIntervalMs: 500, pingTimeoutMs: 1000, ackTimeoutMs: 10_000 },
    batch: { maxRecords: 100, maxBytes: 512 * 1024 },
    compression: 'gzip',
    streams: 4,
    backoffInitialMs: 20,
    backoffMaxMs: 300,
    pollIntervalMs: 20,
    store,
    logger: new MemoryLog(),
    ...over,
  };
}

/** Starts a sender and closes it after the test. */
export async function startSender(t: TestContext, opts: SyncSenderOptions): Promise<SyncSender> {
  const sender = new SyncSender(opts);
  t.after(() => sender.close(500));
  await sender.start();
  return sender;
}

/**
 * Listens on an ephemeral loopback port and returns it; after the test, open sessions are destroyed
 * first (close() waits for every session, and the sender's may still be open), then the server closes.
 */
export async function listenH2(t: TestContext, server: Http2Server): Promise<number> {
  const sessions = new Set<ServerHttp2Session>();
  server.on('session', (s) => {
    sessions.add(s);
    s.on('close', () => sessions.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    for (const s of sessions) s.destroy();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return (server.address() as AddressInfo).port;
}

/** POSTs a batch on an open h2c session as sender `node`; the status and the error code and message of the answer. */
export function postBatch(session: ClientHttp2Session, body: Buffer, records: number, node = 'az-a-1'): Promise<{ status: number; code?: string; error?: string }> {
  return new Promise((resolve, reject) => {
    const req = session.request({
      ':method': 'POST',
      ':path': '/sync/v1/batches',
      'content-type': 'application/x-qproxy-batch',
      'x-qproxy-node': node,
      'x-qproxy-records': String(records),
    });
    let status = 0;
    const parts: Buffer[] = [];
    req.on('response', (h) => (status = Number(h[':status'])));
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => resolve({ status, ...(JSON.parse(Buffer.concat(parts).toString() || '{}') as { code?: string; error?: string }) }));
    req.on('error', reject);
    req.end(body);
  });
}
