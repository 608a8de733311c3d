import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer as createNetServer, connect as netConnect } from 'node:net';
import type { AddressInfo, Server, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { createServer as createTlsServer, connect as tlsConnect } from 'node:tls';
import type { ConnectionOptions, TLSSocket } from 'node:tls';
import { pino } from 'pino';
import { Discovery, parseTcpTarget } from '../../src/discovery/index.js';
import type { PolicyName } from '../../src/discovery/index.js';
import { TcpProxyServer } from '../../src/proxy/tcp/index.js';
import type { TcpDownstreamTls, TcpListenerTls, TcpProxyObserver, TcpRejectReason } from '../../src/proxy/tcp/index.js';
import type { QRecord, TcpCloseReason, TcpDirection, TcpRecord } from '../../src/recording/model.js';
import type { RecordSink } from '../../src/recording/sink.js';
import { TcpRecorder } from '../../src/recording/tcp-recorder.js';
import type { TcpRecorderOptions } from '../../src/recording/tcp-recorder.js';
import { Store } from '../../src/store/index.js';
import type { StoreOptions } from '../../src/store/index.js';
import type { CertPair } from '../helpers/tls.js';

/**
 * Shared set-up for the TCP proxy tests: small real backends on 127.0.0.1:0, a TcpProxyServer
 * with a real Discovery and TcpRecorder, real clients, and a deterministic bulk byte stream.
 */

export const silentLogger = pino({ level: 'silent' });

/** Polls `check` until it returns true; fails after `tries` turns of 10 ms. */
export async function waitFor(check: () => boolean, what: string, tries = 500): Promise<void> {
  for (let i = 0; i < tries; i++) {
    if (check()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`gave up waiting for ${what}`);
}

/** A TCP port nothing listens on (bound once, then released). */
export async function refusedPort(): Promise<number> {
  const s = createNetServer();
  s.listen(0, '127.0.0.1');
  await once(s, 'listening');
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

export interface Backend {
  port: number;
  target: string;
  server: Server;
  /** Connections accepted so far. */
  readonly accepted: number;
  /** Sockets still open on the backend side. */
  readonly sockets: Set<Socket>;
}

/**
 * A backend (plain or TLS) whose sockets allow half-open; `onSocket` does the talking. Every
 * socket gets an error listener at once; the server is closed after the test.
 */
export async function startBackend(t: TestContext, onSocket: (s: Socket) => void, tls?: CertPair & { alpn?: string[] }): Promise<Backend> {
  const sockets = new Set<Socket>();
  let accepted = 0;
  const handle = (s: Socket): void => {
    accepted++;
    sockets.add(s);
    s.on('error', () => undefined);
    s.once('close', () => sockets.delete(s));
    onSocket(s);
  };
  const server: Server = tls
    ? createTlsServer({ cert: tls.cert, key: tls.key, allowHalfOpen: true, ...(tls.alpn ? { ALPNProtocols: tls.alpn } : {}) }, handle)
    : createNetServer({ allowHalfOpen: true }, handle);
  server.on('tlsClientError', (_err: Error, s: Socket) => s.destroy());
  // Every TCP connection, TLS handshake finished or not: a half-open one would keep close() waiting.
  const raw = new Set<Socket>();
  server.on('connection', (s: Socket) => {
    raw.add(s);
    s.on('error', () => undefined);
    s.once('close', () => raw.delete(s));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => {
    for (const s of [...sockets, ...raw]) s.destroy();
    return new Promise<void>((r) => server.close(() => r()));
  });
  const { port } = server.address() as AddressInfo;
  return {
    port,
    target: `127.0.0.1:${port}`,
    server,
    get accepted() {
      return accepted;
    },
    sockets,
  };
}

/** Echoes every byte back, and ends its side once the client has ended its own. */
export function echo(s: Socket): void {
  s.pipe(s);
}

export function startEcho(t: TestContext, tls?: CertPair): Promise<Backend> {
  return startBackend(t, echo, tls);
}

/** Observer that keeps every event. */
export class CollectingObserver implements TcpProxyObserver {
  opened = 0;
  readonly closed: Array<{ reason: TcpCloseReason | undefined; durationSec: number | undefined }> = [];
  readonly rejections: TcpRejectReason[] = [];
  readonly bytesBy: Record<TcpDirection, number> = { c2s: 0, s2c: 0 };
  session(event: 'open' | 'close', reason?: TcpCloseReason, durationSec?: number): void {
    if (event === 'open') this.opened++;
    else this.closed.push({ reason, durationSec });
  }
  bytes(direction: TcpDirection, n: number): void {
    this.bytesBy[direction] += n;
  }
  rejected(reason: TcpRejectReason): void {
    this.rejections.push(reason);
  }
}

/** A sink that keeps every segment it is offered, in order. */
export class ListSink implements RecordSink {
  readonly segments: TcpRecord[] = [];
  offer(record: QRecord): boolean {
    if (record.protocol !== 'tcp') throw new Error('the TCP recorder offered a non-TCP record');
    this.segments.push(record);
    return true;
  }
  /** Final segments (state "closed"), one per session. */
  get closed(): TcpRecord[] {
    return this.segments.filter((s) => s.state === 'closed');
  }
}

export interface ProxyOptions {
  targets: string[];
  sink?: RecordSink;
  recording?: Partial<Omit<TcpRecorderOptions, 'sink'>>;
  tls?: TcpListenerTls;
  downstreamTls?: TcpDownstreamTls;
  connectMs?: number;
  idleMs?: number;
  maxConnections?: number;
  policy?: PolicyName;
  passiveFailures?: number;
}

export interface ProxyHarness {
  proxy: TcpProxyServer;
  port: number;
  discovery: Discovery;
  observer: CollectingObserver;
  recorder: TcpRecorder;
  sink: RecordSink;
  close(): Promise<void>;
}

/** A TcpProxyServer on 127.0.0.1:0 in front of `targets`, closed after the test. */
export async function startProxy(t: TestContext, o: ProxyOptions): Promise<ProxyHarness> {
  const discovery = new Discovery({
    targets: o.targets.map((hostPort) => parseTcpTarget(hostPort)),
    policy: o.policy ?? 'round_robin',
    resolveIntervalMs: 0,
    healthCheck: null,
    passive: { consecutiveFailures: o.passiveFailures ?? 5, baseEjectionMs: 30_000, maxEjectionMs: 300_000 },
  });
  await discovery.start();
  const sink = o.sink ?? new ListSink();
  const recorder = new TcpRecorder({
    enabled: true,
    nodeId: 'az-a-1',
    maxSessionBytes: 16 * 1024 * 1024,
    segmentIntervalMs: 1000,
    segmentBytes: 256 * 1024,
    ...o.recording,
    sink,
  });
  const observer = new CollectingObserver();
  const idleMs = o.idleMs ?? 30_000;
  const proxy = new TcpProxyServer({
    host: '127.0.0.1',
    port: 0,
    ...(o.tls ? { tls: o.tls } : {}),
    ...(o.downstreamTls ? { downstreamTls: o.downstreamTls } : {}),
    downstreams: discovery,
    timeouts: { connectMs: o.connectMs ?? 2_000, idleMs, handshakeMs: Math.min(idleMs, 5_000) },
    maxConnections: o.maxConnections ?? 0,
    recorder,
    observer,
    logger: silentLogger,
  });
  const { port } = await proxy.listen();
  let closed: Promise<void> | null = null;
  const close = (): Promise<void> => {
    closed ??= (async () => {
      await proxy.close(2_000);
      await discovery.close();
    })();
    return closed;
  };
  t.after(close);
  return { proxy, port, discovery, observer, recorder, sink, close };
}

/** Opens a store in a fresh temp folder (`over` replaces options), closed (and removed) after the test. */
export async function openStore(t: TestContext, over: Partial<StoreOptions> = {}): Promise<Store> {
  const dir = await mkdtemp(join(tmpdir(), 'qproxy-tcp-'));
  const store = await Store.open({
    path: join(dir, 'qproxy.db'),
    retentionMs: 0,
    maxSizeBytes: 0,
    flushIntervalMs: 20,
    synchronous: 'normal',
    queueMaxRecords: 10_000,
    queueMaxBytes: 256 * 1024 * 1024,
    purgeIntervalMs: 60_000,
    ...over,
  });
  t.after(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });
  return store;
}

/**
 * A plain client, connected; errors are kept rather than thrown. `halfOpen`: keep writing after
 * the proxy's FIN (otherwise the client closes its side too, as most clients do).
 */
export async function connectClient(port: number, halfOpen = false): Promise<Socket & { lastError?: NodeJS.ErrnoException }> {
  const s: Socket & { lastError?: NodeJS.ErrnoException } = netConnect({ host: '127.0.0.1', port, allowHalfOpen: halfOpen });
  s.on('error', (err) => {
    s.lastError = err;
  });
  await once(s, 'connect');
  return s;
}

/** A TLS client, handshaken; `halfOpen` as for {@link connectClient}. */
export async function connectTlsClient(port: number, opts: ConnectionOptions, halfOpen = false): Promise<TLSSocket & { lastError?: NodeJS.ErrnoException }> {
  // Node reads allowHalfOpen from tls.connect's options; @types/node does not list it.
  const full: ConnectionOptions & { allowHalfOpen: boolean } = { host: '127.0.0.1', port, ...opts, allowHalfOpen: halfOpen };
  const s: TLSSocket & { lastError?: NodeJS.ErrnoException } = tlsConnect(full);
  s.on('error', (err: NodeJS.ErrnoException) => {
    s.lastError = err;
  });
  await once(s, 'secureConnect');
  return s;
}

/** Everything the socket sends until it ends or closes. */
export function readAll(s: Socket): Promise<Buffer> {
  return new Promise((resolve) => {
    const parts: Buffer[] = [];
    s.on('data', (d: Buffer) => parts.push(d));
    const done = (): void => resolve(Buffer.concat(parts));
    s.once('end', done);
    s.once('close', done);
  });
}

/** Reads until `n` bytes have arrived (or the socket ends). */
export function readBytes(s: Socket, n: number): Promise<Buffer> {
  return new Promise((resolve) => {
    const parts: Buffer[] = [];
    let got = 0;
    const onData = (d: Buffer): void => {
      parts.push(d);
      got += d.length;
      if (got >= n) finish();
    };
    const finish = (): void => {
      s.off('data', onData);
      s.off('end', finish);
      s.off('close', finish);
      resolve(Buffer.concat(parts));
    };
    s.on('data', onData);
    s.once('end', finish);
    s.once('close', finish);
  });
}

/** Resolves once the socket has closed, whether or not it failed (events.once would reject on 'error'). */
export function closed(s: Socket): Promise<void> {
  return s.closed ? Promise.resolve() : new Promise((resolve) => s.once('close', () => resolve()));
}

const PIECE = 64 * 1024;

/**
 * A deterministic stream of `total` bytes for bulk tests: random 64 KiB blocks (one per seed) with
 * the piece number stamped in, so a lost, repeated or reordered piece changes the hash.
 */
export class BulkPattern {
  private readonly base: Buffer;
  constructor(readonly total: number, seed = randomBytes(PIECE)) {
    this.base = seed;
  }

  piece(i: number): Buffer {
    const len = Math.min(PIECE, this.total - i * PIECE);
    const p = Buffer.from(this.base.subarray(0, len));
    if (len >= 4) p.writeUInt32BE(i, 0);
    return p;
  }

  get pieces(): number {
    return Math.ceil(this.total / PIECE);
  }

  sha256(): string {
    const h = createHash('sha256');
    for (let i = 0; i < this.pieces; i++) h.update(this.piece(i));
    return h.digest('hex');
  }
}

/** Resolves on the socket's next 'drain' or 'close', whichever comes first. */
function drainOrClose(s: Socket): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      s.off('drain', done);
      s.off('close', done);
      resolve();
    };
    s.on('drain', done);
    s.on('close', done);
  });
}

/** Writes the pattern with backpressure, then ends the socket's side if `end`. */
export async function sendPattern(s: Socket, pattern: BulkPattern, end: boolean): Promise<void> {
  for (let i = 0; i < pattern.pieces; i++) {
    if (!s.write(pattern.piece(i))) {
      await drainOrClose(s);
      if (s.destroyed || !s.writable) throw new Error(`socket closed after ${i} of ${pattern.pieces} pieces`);
    }
  }
  if (end) s.end();
}

/** Hashes everything the socket sends until it ends. */
export function hashUntilEnd(s: Socket): Promise<{ bytes: number; sha256: string }> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    let bytes = 0;
    s.on('data', (d: Buffer) => {
      h.update(d);
      bytes += d.length;
    });
    s.once('end', () => resolve({ bytes, sha256: h.digest('hex') }));
    s.once('close', () => reject(new Error(`socket closed before its end, after ${bytes} bytes`)));
  });
}

/** The chunks of one direction, joined. */
export function joined(record: TcpRecord, dir: TcpDirection): Buffer {
  return Buffer.concat(record.chunks.filter((c) => c.dir === dir).map((c) => c.data));
}
