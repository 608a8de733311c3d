/**
 * Shared set-up for the playback tests: real stores in temp folders, real HTTP backends on
 * 127.0.0.1:0, records built the way the recorder builds them, and the playback engine with test
 * defaults.
 */
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import type { TestContext } from 'node:test';
import { PlaybackEngine, type EngineOptions } from '../../src/playback/engine.js';
import type { CompareOptions } from '../../src/playback/compare/types.js';
import { nullObserver } from '../../src/playback/observer.js';
import type { HttpStubOptions } from '../../src/playback/serve/http-stub-server.js';
import type { ReplayParams } from '../../src/playback/replay-params.js';
import { resultsPathFor } from '../../src/playback/results/schema.js';
import type { SafetyOptions } from '../../src/playback/safety.js';
import { RECORD_FORMAT_VERSION, type HeaderLine, type HttpRecord } from '../../src/recording/model.js';
import { uuidv7 } from '../../src/core/uuidv7.js';
import { Store } from '../../src/store/index.js';

export const silentLog = { info() {}, warn() {}, error() {}, debug() {} };

const cleanups = new WeakMap<TestContext, Array<() => unknown>>();

/**
 * Registers a clean-up that runs after the test, last registered first (node:test runs `t.after`
 * hooks in registration order): servers and engines close before the store they read.
 */
export function defer(t: TestContext, fn: () => unknown): void {
  let list = cleanups.get(t);
  if (list === undefined) {
    const fns: Array<() => unknown> = [];
    cleanups.set(t, fns);
    t.after(async () => {
      for (const f of fns.reverse()) await f();
    });
    list = fns;
  }
  list.push(fn);
}

/** A fresh temp folder, removed after the test. */
export async function tempDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'qproxy-playback-'));
  defer(t, () => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** A store in a fresh temp folder, closed after the test. */
export async function openStore(t: TestContext): Promise<{ store: Store; path: string; dir: string }> {
  const dir = await tempDir(t);
  const path = join(dir, 'qproxy.db');
  const store = await Store.open({
    path,
    retentionMs: 0,
    maxSizeBytes: 0,
    flushIntervalMs: 10,
    synchronous: 'normal',
    queueMaxRecords: 100_000,
    queueMaxBytes: 256 * 1024 * 1024,
    purgeIntervalMs: 60_000,
  });
  defer(t, () => store.close());
  return { store, path, dir };
}

/** Offers records and waits until they are committed. */
export async function putRecords(store: Store, records: readonly HttpRecord[] | readonly import('../../src/recording/model.js').QRecord[]): Promise<void> {
  for (const r of records) if (!store.offer(r)) throw new Error(`store dropped record ${r.id}`);
  await store.flush();
}

export interface RecordParts {
  method?: string;
  url?: string;
  reqHeaders?: HeaderLine[];
  reqBody?: Buffer | string;
  reqTruncated?: boolean;
  status?: number;
  resHeaders?: HeaderLine[];
  resBody?: Buffer | string;
  resTruncated?: boolean;
  startedAt?: number;
  client?: { address: string; port: number };
  httpVersion?: string;
  noResponse?: boolean;
}

function body(data: Buffer | string | undefined, truncated = false): HttpRecord['request']['body'] {
  const buf = data === undefined ? Buffer.alloc(0) : Buffer.isBuffer(data) ? data : Buffer.from(data);
  return { data: buf, size: buf.length + (truncated ? 1000 : 0), truncated };
}

/** An HTTP record as the recorder would store it. */
export function httpRecord(p: RecordParts = {}): HttpRecord {
  const startedAt = p.startedAt ?? Date.now();
  const status = p.status ?? 200;
  return {
    v: RECORD_FORMAT_VERSION,
    id: uuidv7(startedAt),
    protocol: 'http',
    node_id: 'az-a-1',
    started_at: startedAt,
    duration_ms: 2,
    client: p.client ?? { address: '10.0.0.9', port: 40_000 + Math.floor(Math.random() * 20_000) },
    tls: null,
    downstream: 'http://10.0.0.5:8081',
    request: {
      method: p.method ?? 'GET',
      url: p.url ?? '/',
      http_version: p.httpVersion ?? '1.1',
      headers: p.reqHeaders ?? [['Host', 'shop.example']],
      body: body(p.reqBody, p.reqTruncated),
      trailers: [],
    },
    response: p.noResponse
      ? null
      : {
          status,
          status_message: 'OK',
          http_version: '1.1',
          headers: p.resHeaders ?? [['Content-Type', 'application/json']],
          body: body(p.resBody, p.resTruncated),
          trailers: [],
        },
    status: p.noResponse ? 502 : status,
    timings: { request_end: 0.1, response_start: 1.5, response_end: 2 },
    error: p.noResponse ? { code: 'QP_ERR_DOWNSTREAM_CONNECT', message: 'refused' } : null,
    redacted: [],
  };
}

/** What a test backend saw of one request. */
export interface Seen {
  method: string;
  url: string;
  headers: Record<string, string | string[] | undefined>;
  rawHeaders: string[];
  body: Buffer;
  /** performance.now() when the request head arrived. */
  at: number;
}

export interface Backend {
  origin: string;
  port: number;
  seen: Seen[];
  /** Most requests being handled at once. */
  readonly maxInFlight: number;
  close(): Promise<void>;
}

export type Handler = (req: IncomingMessage, body: Buffer, res: ServerResponse) => void | Promise<void>;

/** A real HTTP server on 127.0.0.1:0 that reads each body and hands it to `handler`; closed after the test. */
export async function startBackend(t: TestContext, handler: Handler): Promise<Backend> {
  const seen: Seen[] = [];
  let inFlight = 0;
  let max = 0;
  const server = createServer((req, res) => {
    const at = performance.now();
    inFlight++;
    max = Math.max(max, inFlight);
    res.on('close', () => inFlight--);
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const b = Buffer.concat(chunks);
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, rawHeaders: req.rawHeaders, body: b, at });
      Promise.resolve(handler(req, b, res)).catch((err: unknown) => {
        res.statusCode = 500;
        res.end(String(err));
      });
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  const close = (): Promise<void> =>
    new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  defer(t, close);
  return {
    origin: `http://127.0.0.1:${port}`,
    port,
    seen,
    get maxInFlight() {
      return max;
    },
    close,
  };
}

export const compareDefaults: CompareOptions = {
  status: true,
  headers: ['content-type'],
  body: true,
  ignore: { headers: [], json_paths: [], patterns: [] },
  truncated: 'prefix',
};

/** Replays every method: the tests' backends are throwaway. */
export const replayAll: SafetyOptions = { rules: [], safe_methods: 'replay', unsafe_methods: 'replay' };

/** On-demand replay parameters: everything, as fast as possible. */
export function params(over: Partial<ReplayParams> = {}): ReplayParams {
  return {
    filter: {},
    speed: 0,
    rate: 0,
    maxGapMs: 10_000,
    concurrency: 8,
    limit: Infinity,
    compare: compareDefaults,
    safety: replayAll,
    ...over,
  };
}

/** A playback engine replaying HTTP to `origins`; closed after the test. */
export async function openEngine(
  t: TestContext,
  store: Store,
  storePath: string,
  origins: string[],
  over: Partial<EngineOptions> = {},
): Promise<PlaybackEngine> {
  const engine = await PlaybackEngine.open({
    store,
    resultsPath: resultsPathFor(storePath),
    http: {
      origins,
      tls: { rejectUnauthorized: true },
      rewrite: { keep_host: false, headers: {}, query: {}, set_headers: {} },
    },
    tcp: null,
    timeoutMs: 5_000,
    compareMaxBody: 1024 * 1024,
    live: { enabled: false, delayMs: 100, concurrency: 8, compare: compareDefaults, safety: replayAll },
    defaults: { speed: 0, rate: 0, maxGapMs: 10_000, concurrency: 8, compare: compareDefaults, safety: replayAll },
    retentionMs: 0,
    maxReplays: 100,
    observer: nullObserver,
    logger: silentLog,
    pollMs: 20,
    flushIntervalMs: 10,
    ...over,
  });
  defer(t, () => engine.close(1_000));
  engine.start();
  return engine;
}

/** The replay document, as the API shows it. */
export interface Doc {
  id: string;
  state: string;
  error: string | null;
  progress: { read: number; queued: number; in_flight: number; max_in_flight: number };
  summary: {
    counts: Record<string, number>;
    replayed: number;
    success_rate: number | null;
    truncated: number;
    top_differences: Array<{ kind: string; count: number }>;
    top_errors: Array<{ error: string; count: number }>;
    lateness_ms: { p50: number | null; p99: number | null; max: number | null };
    endpoints: Array<{ endpoint: string; results: number; match: number; mismatch: number; failed: number; mismatch_rate: number | null }>;
  };
}

/** Polls until the replay is no longer running (about 10 s at most); returns its document. */
export async function finished(engine: PlaybackEngine, id: string): Promise<Doc> {
  for (let i = 0; i < 1000; i++) {
    const doc = engine.manager.get(id) as Doc | null;
    if (doc && doc.state !== 'running') {
      await engine.flush();
      return doc;
    }
    await delay(10);
  }
  throw new Error(`replay ${id} did not finish`);
}

/** Polls `check` (bounded, about 10 s) instead of sleeping a fixed time. */
export async function waitFor(check: () => boolean, what: string, tries = 1000): Promise<void> {
  for (let i = 0; i < tries; i++) {
    if (check()) return;
    await delay(10);
  }
  throw new Error(`gave up waiting for ${what}`);
}

export function json(res: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(text);
}

/** Options of a serving listener on 127.0.0.1:0 over `store`: exact matching, 404 on a miss. */
export function stubOptions(store: HttpStubOptions['store'], over: Partial<HttpStubOptions> = {}): HttpStubOptions {
  return {
    host: '127.0.0.1',
    port: 0,
    store,
    match: { method: true, query: true, body: true, headers: [], ignoreQuery: new Set(), ignoreJson: [] },
    limits: { maxHeaderSize: 16 * 1024, maxBodyBytes: 1024 * 1024, maxConnections: 0 },
    timeouts: { headerReadMs: 5_000, requestMs: 10_000, idleMs: 5_000 },
    forwarder: null,
    observer: nullObserver,
    logger: silentLog,
    pollMs: 20,
    ...over,
  };
}
