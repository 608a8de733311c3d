import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createServer as createHttpServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createNetServer } from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import { WebSocketServer } from 'ws';
import type { CertPair } from './tls.js';

/**
 * Small real backends for proxy tests, all on 127.0.0.1 with an ephemeral port:
 *
 * - `startEchoBackend`: answers every request with a JSON echo of what it received, plus a few
 *   special paths (sized bodies, hanging and slow answers, stalls and resets mid-body);
 * - `startRawBackend`: a TCP server that records every byte it receives (smuggling tests);
 * - `startWsEchoBackend`: a WebSocket echo server (`ws`).
 */

/** What the echo backend saw, as returned in its JSON body. */
export interface Echo {
  method: string;
  url: string;
  httpVersion: string;
  /** Raw header lines in order and case. */
  headers: [string, string][];
  trailers: [string, string][];
  bodyLength: number;
  sha256: string;
  /** The first 64 KiB of the body as UTF-8. */
  body: string;
  /** Per-connection request number (1 = first request on that TCP connection). */
  connectionRequest: number;
}

export interface EchoBackend {
  origin: string;
  port: number;
  /** TCP connections accepted so far. */
  readonly connections: number;
  /** Requests seen so far (also those whose answer never completed). */
  readonly requests: number;
  /** Request targets seen, in arrival order. */
  readonly paths: readonly string[];
  close(): Promise<void>;
}

/** Lets a test take over a request before the built-in routes; return true when handled. */
export type CustomRoute = (req: IncomingMessage, res: ServerResponse) => boolean;

export interface EchoBackendOptions {
  tls?: CertPair;
  route?: CustomRoute;
}

const PATTERN = Buffer.from('0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-_'.repeat(1024)); // 64 KiB

/** The bytes `/bytes/N` serves: a repeating printable pattern. */
export function patternBytes(n: number): Buffer {
  const out = Buffer.allocUnsafe(n);
  for (let off = 0; off < n; off += PATTERN.length) PATTERN.copy(out, off, 0, Math.min(PATTERN.length, n - off));
  return out;
}

/** sha256 of `patternBytes(n)` without holding them all. */
export function patternSha256(n: number): string {
  const h = createHash('sha256');
  for (let off = 0; off < n; off += PATTERN.length) h.update(PATTERN.subarray(0, Math.min(PATTERN.length, n - off)));
  return h.digest('hex');
}

/** Writes n pattern bytes with backpressure, then calls done (unless the response died). */
function writePattern(res: ServerResponse, n: number, done: () => void): void {
  let off = 0;
  const pump = (): void => {
    while (off < n) {
      const len = Math.min(PATTERN.length, n - off);
      off += len;
      if (!res.write(PATTERN.subarray(0, len))) {
        res.once('drain', pump);
        return;
      }
    }
    done();
  };
  pump();
}

function pairs(flat: string[]): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) out.push([flat[i]!, flat[i + 1]!]);
  return out;
}

function echo(req: IncomingMessage, res: ServerResponse, connectionRequest: number): void {
  const hash = createHash('sha256');
  const head: Buffer[] = [];
  let kept = 0;
  let length = 0;
  req.on('data', (chunk: Buffer) => {
    hash.update(chunk);
    length += chunk.length;
    if (kept < 64 * 1024) {
      head.push(chunk);
      kept += chunk.length;
    }
  });
  req.on('end', () => {
    const body: Echo = {
      method: req.method ?? '',
      url: req.url ?? '',
      httpVersion: req.httpVersion,
      headers: pairs(req.rawHeaders),
      trailers: pairs(req.rawTrailers),
      bodyLength: length,
      sha256: hash.digest('hex'),
      body: Buffer.concat(head).subarray(0, 64 * 1024).toString('utf8'),
      connectionRequest,
    };
    const json = JSON.stringify(body);
    res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(json), 'X-Backend': 'echo' });
    res.end(json);
  });
}

function builtInRoute(req: IncomingMessage, res: ServerResponse, connectionRequest: number): void {
  const url = new URL(req.url ?? '/', 'http://backend');
  const parts = url.pathname.split('/');
  const n = Number(parts[2] ?? '0');
  switch (parts[1]) {
    case 'bytes': {
      // /bytes/N[?chunked=1][&trailer=1]
      req.resume();
      const chunked = url.searchParams.has('chunked') || url.searchParams.has('trailer');
      const head: Record<string, string | number> = { 'Content-Type': 'application/octet-stream' };
      if (!chunked) head['Content-Length'] = n;
      if (url.searchParams.has('trailer')) head['Trailer'] = 'X-Checksum';
      res.writeHead(200, head);
      writePattern(res, n, () => {
        if (url.searchParams.has('trailer')) res.addTrailers({ 'X-Checksum': patternSha256(n) });
        res.end();
      });
      return;
    }
    case 'hang':
      // Never answers; the connection is destroyed when the backend closes.
      req.resume();
      return;
    case 'stall-after':
      // Sends N body bytes of a longer body, then goes silent.
      req.resume();
      res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': n * 2 });
      writePattern(res, n, () => undefined);
      return;
    case 'reset-after':
      // Sends N body bytes of a chunked body, then resets the connection.
      req.resume();
      res.writeHead(200, { 'Content-Type': 'application/octet-stream' });
      writePattern(res, n, () => setImmediate(() => res.socket?.destroy()));
      return;
    case 'hop':
      // Hop-by-hop fields in a response, nominated and fixed.
      req.resume();
      res.writeHead(200, [
        'Connection', 'keep-alive, X-Bar',
        'X-Bar', 'nominated',
        'Keep-Alive', 'timeout=5',
        'Proxy-Connection', 'keep-alive',
        'X-Kept', 'yes',
        'Content-Length', '2',
      ]);
      res.end('ok');
      return;
    case 'status':
      req.resume();
      res.writeHead(n, { 'Content-Type': 'text/plain' });
      res.end(`status ${n}`);
      return;
    default:
      echo(req, res, connectionRequest);
  }
}

/** An HTTP or HTTPS backend that echoes requests as JSON (see {@link Echo}) and serves test routes. */
export async function startEchoBackend(opts: EchoBackendOptions = {}): Promise<EchoBackend> {
  const server: Server = opts.tls ? createHttpsServer({ cert: opts.tls.cert, key: opts.tls.key }) : createHttpServer();
  let connections = 0;
  let requests = 0;
  const paths: string[] = [];
  const perSocket = new WeakMap<Socket, number>();
  server.on(opts.tls ? 'secureConnection' : 'connection', () => connections++);
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    requests++;
    paths.push(req.url ?? '');
    const seq = (perSocket.get(req.socket) ?? 0) + 1;
    perSocket.set(req.socket, seq);
    if (opts.route?.(req, res)) return;
    builtInRoute(req, res, seq);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    origin: `${opts.tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    port,
    get connections() {
      return connections;
    },
    get requests() {
      return requests;
    },
    paths,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A TCP server that records what it receives and answers any complete request head with 200. */
export interface RawBackend {
  origin: string;
  port: number;
  readonly connections: number;
  /** Every byte received, all connections concatenated. */
  received(): Buffer;
  close(): Promise<void>;
}

export async function startRawBackend(): Promise<RawBackend> {
  const chunks: Buffer[] = [];
  const sockets = new Set<Socket>();
  let connections = 0;
  const server = createNetServer((socket) => {
    connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    let pending = '';
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      pending += chunk.toString('latin1');
      while (pending.includes('\r\n\r\n')) {
        pending = pending.slice(pending.indexOf('\r\n\r\n') + 4);
        socket.write('HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nraw');
      }
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    port,
    get connections() {
      return connections;
    },
    received: () => Buffer.concat(chunks),
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export interface WsBackend {
  origin: string;
  port: number;
  /** Raw handshake headers of every upgrade request received. */
  readonly handshakes: [string, string][][];
  close(): Promise<void>;
}

/** A WebSocket echo server: every message is sent back as received (text stays text). */
export async function startWsEchoBackend(opts: { tls?: CertPair } = {}): Promise<WsBackend> {
  const server: Server = opts.tls ? createHttpsServer({ cert: opts.tls.cert, key: opts.tls.key }) : createHttpServer();
  server.on('request', (_req: IncomingMessage, res: ServerResponse) => {
    res.writeHead(426, { 'Content-Type': 'text/plain', Upgrade: 'websocket' });
    res.end('upgrade required');
  });
  const handshakes: [string, string][][] = [];
  const wss = new WebSocketServer({ server });
  wss.on('connection', (ws, req) => {
    handshakes.push(pairs(req.rawHeaders));
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
    ws.on('error', () => ws.terminate());
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    origin: `${opts.tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    port,
    handshakes,
    close: async () => {
      for (const client of wss.clients) client.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
