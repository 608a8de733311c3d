/**
 * @module The serving HTTP listener of a Playback node: it answers each request with a recorded
 * answer (SPEC §6 "serve"), found through the StubIndex. A miss gets 404 with a JSON body naming
 * the closest recording, or (forward_on_miss) the downstream's answer, which is recorded.
 */
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { ListenError, errorMessage } from '../../errors.js';
import { httpServerTimeouts } from '../../net/http-server-timeouts.js';
import type { HeaderLine, HttpRecord } from '../../recording/model.js';
import type { PlaybackObserver } from '../observer.js';
import type { PlaybackStore } from '../source/store-port.js';
import type { Forwarder } from './forwarder.js';
import { HOP_BY_HOP } from './forwarder.js';
import type { MatchRules, RequestParts } from './request-key.js';
import { StoreFollower } from './stub-feed.js';
import { StubIndex, type Closest } from './stub-index.js';

export interface HttpStubOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  tls?: { cert: string | Buffer; key: string | Buffer; ca?: string | Buffer };
  store: Pick<PlaybackStore, 'get' | 'readAfter'>;
  match: MatchRules;
  limits: { maxHeaderSize: number; maxBodyBytes: number; maxConnections: number };
  timeouts: { headerReadMs: number; requestMs: number; idleMs: number };
  /** Forward-on-miss, or null for 404. */
  forwarder: Forwarder | null;
  observer: PlaybackObserver;
  logger: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void };
  /** How often new recordings are picked up from the store. */
  pollMs: number;
}

export interface StubStatus {
  recordings: number;
  hits: number;
  misses: number;
  forwarded: number;
}

function flat(lines: readonly HeaderLine[], extra: Array<[string, string]>): string[] {
  const out: string[] = [];
  for (const [name, value] of lines) if (!name.startsWith(':') && !HOP_BY_HOP.has(name.toLowerCase())) out.push(name, value);
  for (const [name, value] of extra) out.push(name, value);
  return out;
}

function pairs(raw: readonly string[]): HeaderLine[] {
  const out: HeaderLine[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) out.push([raw[i]!, raw[i + 1]!]);
  return out;
}

export class HttpStubServer {
  readonly index: StubIndex;
  private readonly server: Server;
  private readonly follower: StoreFollower;
  private readonly counts = { hits: 0, misses: 0, forwarded: 0 };
  private closing: Promise<void> | null = null;

  constructor(private readonly o: HttpStubOptions) {
    this.index = new StubIndex(o.match, (id) => {
      const r = o.store.get(id);
      return r?.protocol === 'http' ? r : null;
    });
    this.follower = new StoreFollower(o.store, (r) => r.protocol === 'http' && this.index.add(r), o.pollMs, o.logger);
    const handler = (req: IncomingMessage, res: ServerResponse): void => {
      this.handle(req, res).catch((err: unknown) => {
        this.o.logger.warn({ err: errorMessage(err) }, 'serving a recorded answer failed');
        if (!res.headersSent) this.reply(res, 500, { error: `serving failed: ${errorMessage(err)}`, code: 'QP_ERR_SERVE_INTERNAL' });
        else res.destroy();
      });
    };
    const deadlines = httpServerTimeouts(o.timeouts.headerReadMs, o.timeouts.requestMs);
    const common = { maxHeaderSize: o.limits.maxHeaderSize, ...deadlines, keepAliveTimeout: o.timeouts.idleMs };
    this.server = o.tls
      ? createHttpsServer(
          {
            ...common,
            cert: o.tls.cert,
            key: o.tls.key,
            ...(o.tls.ca !== undefined && { ca: o.tls.ca, requestCert: true }),
            // The head deadline starts once the handshake is done; the handshake gets the same time (Node's default: 120 s).
            handshakeTimeout: deadlines.headersTimeout,
          },
          handler,
        )
      : createServer(common, handler);
    if (o.limits.maxConnections > 0) this.server.maxConnections = o.limits.maxConnections;
  }

  /** Indexes every stored recording, then listens. */
  async listen(): Promise<AddressInfo> {
    await this.follower.start();
    this.server.listen({ host: this.o.host, port: this.o.port });
    try {
      await once(this.server, 'listening');
    } catch (err) {
      this.follower.stop();
      throw new ListenError(
        `the serving http listener could not listen on ${this.o.host}:${this.o.port} (${(err as NodeJS.ErrnoException).code ?? errorMessage(err)}); free the port or change http.port`,
        { cause: err },
      );
    }
    const address = this.server.address() as AddressInfo;
    this.o.logger.info({ address: address.address, port: address.port, recordings: this.index.size }, 'serving recorded HTTP answers');
    return address;
  }

  status(): StubStatus {
    return { recordings: this.index.size, ...this.counts };
  }

  /** Picks up recordings stored since the last poll (forwarded misses, sync). */
  refresh(): void {
    this.follower.catchUp();
  }

  /** Stops accepting; requests being answered get until the deadline. Idempotent. */
  close(deadlineMs: number): Promise<void> {
    this.closing ??= (async () => {
      this.follower.stop();
      if (!this.server.listening) return;
      const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
      this.server.closeIdleConnections();
      const force = setTimeout(() => this.server.closeAllConnections(), Math.max(0, deadlineMs));
      force.unref();
      await closed;
      clearTimeout(force);
      await this.o.forwarder?.close();
    })();
    return this.closing;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await this.readBody(req, res);
    if (body === null) return;
    const parts: RequestParts = { method: req.method ?? 'GET', url: req.url ?? '/', headers: pairs(req.rawHeaders), body };
    for (let attempt = 0; attempt < 3; attempt++) {
      const found = this.index.lookup(parts);
      if ('miss' in found) return this.miss(req, res, parts, found.miss);
      const record = this.o.store.get(found.hit.id);
      if (record?.protocol !== 'http') {
        this.index.forget(found.hit.id); // deleted or purged since it was indexed
        continue;
      }
      this.counts.hits++;
      this.o.observer.served('http', 'hit');
      return this.answer(req, res, record);
    }
    return this.miss(req, res, parts, null);
  }

  private answer(req: IncomingMessage, res: ServerResponse, r: HttpRecord): void {
    const tag: Array<[string, string]> = [['x-qproxy-record-id', r.id]];
    if (r.response === null) {
      const error = r.error ? `${r.error.code}: ${r.error.message}` : 'no response was recorded';
      this.reply(res, r.status ?? 502, { error: `the recorded exchange failed (${error})`, code: 'QP_ERR_SERVE_RECORDED_FAILURE', record: r.id });
      return;
    }
    const data = r.response.body.data;
    if (r.response.body.truncated) tag.push(['x-qproxy-truncated', `${data.length}/${r.response.body.size}`]);
    const headers = flat(r.response.headers, [...tag, ['content-length', String(req.method === 'HEAD' ? r.response.body.size : data.length)]]);
    res.writeHead(r.response.status, headers);
    res.end(req.method === 'HEAD' ? undefined : data);
  }

  private async miss(req: IncomingMessage, res: ServerResponse, parts: RequestParts, closest: Closest | null): Promise<void> {
    if (this.o.forwarder) {
      try {
        const client = { address: req.socket.remoteAddress ?? '', port: req.socket.remotePort ?? 0 };
        const out = await this.o.forwarder.forward(parts, client, req.httpVersion);
        this.counts.forwarded++;
        this.o.observer.served('http', 'forwarded');
        res.writeHead(out.status, flat(out.headers, [['content-length', String(out.body.length)]]));
        res.end(req.method === 'HEAD' ? undefined : out.body);
        return;
      } catch (err) {
        this.counts.misses++;
        this.o.observer.served('http', 'miss');
        this.reply(res, 502, { error: `no recording matched and forwarding to the downstream failed: ${errorMessage(err)}`, code: 'QP_ERR_SERVE_FORWARD' });
        return;
      }
    }
    this.counts.misses++;
    this.o.observer.served('http', 'miss');
    this.reply(res, 404, {
      error: `no recording matched ${parts.method} ${parts.url}`,
      code: 'QP_ERR_SERVE_NO_MATCH',
      closest: closest && {
        id: closest.entry.id,
        method: closest.entry.method,
        url: closest.entry.url,
        differs: closest.differs,
      },
    });
  }

  /** The whole body, or null after answering 413 (too large to match) or when the client went away. */
  private async readBody(req: IncomingMessage, res: ServerResponse): Promise<Buffer | null> {
    const chunks: Buffer[] = [];
    let size = 0;
    try {
      for await (const chunk of req) {
        size += (chunk as Buffer).length;
        if (size > this.o.limits.maxBodyBytes) {
          this.reply(res, 413, { error: `request body is larger than ${this.o.limits.maxBodyBytes} bytes, the most serving matches`, code: 'QP_ERR_SERVE_BODY_TOO_LARGE' }, true);
          return null;
        }
        chunks.push(chunk as Buffer);
      }
    } catch {
      return null;
    }
    return Buffer.concat(chunks);
  }

  private reply(res: ServerResponse, status: number, body: object, close = false): void {
    const text = JSON.stringify(body);
    res.writeHead(status, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': String(Buffer.byteLength(text)),
      'cache-control': 'no-store',
      ...(close && { connection: 'close' }),
    });
    res.end(text);
  }
}
