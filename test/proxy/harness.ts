import { request as httpRequest } from 'node:http';
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import { connect as netConnect } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { pino } from 'pino';
import { Discovery, parseHttpTarget } from '../../src/discovery/index.js';
import type { DiscoveryOptions } from '../../src/discovery/index.js';
import { HttpProxyServer } from '../../src/proxy/http/index.js';
import type { HttpDownstreams, HttpProxyOptions } from '../../src/proxy/http/index.js';
import type { ExchangeEvent, HttpProxyObserver, WebSocketEvent } from '../../src/proxy/http/observer.js';
import type { HttpRequestHead } from '../../src/recording/selector.js';
import type { HttpExchangeRecorder, HttpRecordDraft } from '../../src/recording/sink.js';

/**
 * Shared set-up for the proxy tests: a real HttpProxyServer on 127.0.0.1:0 in front of a real
 * Discovery, with a recorder that keeps drafts in an array and an observer that keeps every event.
 */

export class CollectingRecorder implements HttpExchangeRecorder {
  readonly drafts: HttpRecordDraft[] = [];
  constructor(
    readonly enabled = true,
    readonly maxBody = 64 * 1024,
    readonly websocket = { frames: true, maxBytes: 0 },
  ) {}
  admit(_head: HttpRequestHead): boolean {
    return this.enabled;
  }
  commit(draft: HttpRecordDraft): void {
    this.drafts.push(draft);
  }
}

export class CollectingObserver implements HttpProxyObserver {
  readonly exchanges: ExchangeEvent[] = [];
  readonly rejections: string[] = [];
  readonly upgrades: string[] = [];
  retries = 0;
  readonly websockets: WebSocketEvent[] = [];
  websocket(e: WebSocketEvent): void {
    this.websockets.push(e);
  }
  exchange(e: ExchangeEvent): void {
    this.exchanges.push(e);
  }
  rejected(reason: string): void {
    this.rejections.push(reason);
  }
  upgrade(event: 'open' | 'close' | 'error'): void {
    this.upgrades.push(event);
  }
  retry(): void {
    this.retries++;
  }
}

/** Discovery settings the tests start from: no DNS re-resolution, no active checks, lenient ejection. */
export function discoveryOptions(origins: readonly string[], overrides: Partial<DiscoveryOptions> = {}): DiscoveryOptions {
  return {
    targets: origins.map((o) => parseHttpTarget(o)),
    policy: 'round_robin',
    resolveIntervalMs: 0,
    healthCheck: null,
    passive: { consecutiveFailures: 5, baseEjectionMs: 30_000, maxEjectionMs: 300_000 },
    ...overrides,
  };
}

/** A started Discovery over `origins` (http:// or https:// URLs). */
export async function startDiscovery(origins: readonly string[], overrides: Partial<DiscoveryOptions> = {}): Promise<Discovery> {
  const discovery = new Discovery(discoveryOptions(origins, overrides));
  try {
    await discovery.start();
  } catch (err) {
    await discovery.close();
    throw err;
  }
  return discovery;
}

export interface ProxyHarness {
  proxy: HttpProxyServer;
  /** What the proxy balances over: the given one, or a Discovery built from the origins. */
  downstreams: HttpDownstreams;
  port: number;
  origin: string;
  recorder: CollectingRecorder;
  observer: CollectingObserver;
  close(): Promise<void>;
}

export type ProxyOverrides = Partial<Omit<HttpProxyOptions, 'limits' | 'timeouts' | 'recorder' | 'observer'>> & {
  limits?: Partial<HttpProxyOptions['limits']>;
  timeouts?: Partial<HttpProxyOptions['timeouts']>;
  recorder?: CollectingRecorder;
};

/**
 * A proxy in front of `downstream` (one origin or several). Unless `overrides.downstreams` is
 * given, a Discovery is built over them and closed with the proxy.
 */
export async function startProxy(downstream: string | readonly string[], overrides: ProxyOverrides = {}): Promise<ProxyHarness> {
  const recorder = overrides.recorder ?? new CollectingRecorder();
  const observer = new CollectingObserver();
  const owned = overrides.downstreams === undefined ? await startDiscovery(typeof downstream === 'string' ? [downstream] : downstream) : null;
  const downstreams = overrides.downstreams ?? owned!;
  const proxy = new HttpProxyServer({
    host: '127.0.0.1',
    port: 0,
    downstreamTls: { rejectUnauthorized: true },
    trustedProxies: [],
    logger: pino({ level: 'silent' }),
    ...overrides,
    downstreams,
    limits: { maxHeaderSize: 16 * 1024, maxHeadersCount: 100, maxBodySize: 0, maxConnections: 0, ...overrides.limits },
    timeouts: {
      headerReadMs: 5_000,
      requestMs: 30_000,
      idleMs: 5_000,
      downstreamConnectMs: 2_000,
      downstreamResponseMs: 10_000,
      downstreamIdleMs: 10_000,
      ...overrides.timeouts,
    },
    recorder,
    observer,
  });
  const { port } = await proxy.listen();
  let closing: Promise<void> | null = null;
  return {
    proxy,
    downstreams,
    port,
    origin: `http://127.0.0.1:${port}`,
    recorder,
    observer,
    close: () =>
      (closing ??= (async () => {
        await proxy.close(1_000);
        await owned?.close();
      })()),
  };
}

/** Polls `cond` (bounded: about 5 s) instead of sleeping a fixed time. */
export async function waitFor(cond: () => boolean, what: string, attempts = 500): Promise<void> {
  for (let i = 0; i < attempts; i++) {
    if (cond()) return;
    await delay(10);
  }
  throw new Error(`timed out waiting for ${what}`);
}

export interface SimpleResponse {
  status: number;
  statusMessage: string;
  headers: IncomingHttpHeaders;
  rawHeaders: string[];
  trailers: NodeJS.Dict<string>;
  body: Buffer;
}

/** One request over a fresh connection (no agent), body fully read. */
export function send(
  port: number,
  opts: { method?: string; path?: string; headers?: OutgoingHttpHeaders | string[]; body?: Buffer | string | Iterable<Buffer> | AsyncIterable<Buffer> } = {},
): Promise<SimpleResponse> {
  // Node's client adds Host only for object headers; a raw header list must carry its own.
  const headers = Array.isArray(opts.headers) && !opts.headers.some((h, i) => i % 2 === 0 && h.toLowerCase() === 'host') ? [...opts.headers, 'Host', `127.0.0.1:${port}`] : opts.headers;
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, method: opts.method ?? 'GET', path: opts.path ?? '/', headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          statusMessage: res.statusMessage ?? '',
          headers: res.headers,
          rawHeaders: res.rawHeaders,
          trailers: res.trailers,
          body: Buffer.concat(chunks),
        }),
      );
    });
    req.on('error', reject);
    const body = opts.body;
    if (body === undefined || typeof body === 'string' || Buffer.isBuffer(body)) {
      req.end(body);
      return;
    }
    void (async () => {
      try {
        for await (const chunk of body as AsyncIterable<Buffer>) {
          if (!req.write(chunk)) await new Promise((r) => req.once('drain', r));
        }
        req.end();
      } catch (err) {
        req.destroy(err as Error);
      }
    })();
  });
}

/** Sends raw bytes on a fresh TCP connection and returns everything received until the server closes it. */
export function rawExchange(port: number, bytes: string | Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = netConnect({ host: '127.0.0.1', port });
    const chunks: Buffer[] = [];
    socket.on('connect', () => socket.write(bytes));
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', (err: NodeJS.ErrnoException) => {
      // A reset after the answer arrived still counts as an answer.
      if (err.code === 'ECONNRESET' && chunks.length > 0) resolve(Buffer.concat(chunks));
      else reject(err);
    });
    socket.on('close', () => resolve(Buffer.concat(chunks)));
  });
}

/** The status code of a raw HTTP/1.x answer; 0 when there is none. */
export function rawStatus(raw: Buffer): number {
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(raw.toString('latin1'));
  return m ? Number(m[1]) : 0;
}

/** The JSON body of a raw HTTP/1.x answer (one that carries no chunked framing). */
export function rawBodyJson<T>(raw: Buffer): T {
  const text = raw.toString('latin1');
  return JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4)) as T;
}

/** Header value(s) of a draft's header lines, matched case-insensitively. */
export function headerValues(lines: readonly [string, string][], name: string): string[] {
  const lower = name.toLowerCase();
  return lines.filter(([n]) => n.toLowerCase() === lower).map(([, v]) => v);
}
