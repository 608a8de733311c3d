/**
 * @module The serving TCP listener of a Playback node: a client whose bytes follow a recorded
 * session's client stream gets that session's server bytes, chunk by chunk as recorded (each as
 * soon as the client has sent what preceded it in the recording). A client that leaves every
 * recorded stream is a miss: the connection is closed, counted (status, metrics) and logged at info
 * with the closest recording and where the client left it — a TCP client gets no error to read.
 */
import { createServer as createNetServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import type { Logger } from '../../core/log.js';
import type { TcpRecord } from '../../recording/model.js';
import { diffBodies } from '../compare/text-diff.js';
import type { PlaybackObserver } from '../observer.js';
import { StoreFollower } from '../serve/stub-feed.js';
import type { PlaybackStore } from '../source/store-port.js';
import { TcpStubIndex, clientStream, commonPrefix, type TcpEntry } from './tcp-stub-index.js';

export interface TcpStubOptions {
  host: string;
  port: number;
  tls?: { cert: string | Buffer; key: string | Buffer; ca?: string | Buffer };
  store: Pick<PlaybackStore, 'get' | 'readAfter'>;
  /** A connection with no byte in either direction for this long is closed. */
  idleMs: number;
  maxConnections: number;
  observer: PlaybackObserver;
  logger: Pick<Logger, 'info' | 'warn'>;
  pollMs: number;
}

/** Sessions loaded per connection to choose from. */
const MAX_CANDIDATES = 64;
/** Miss lines logged per second at most; a client hammering the port must not flood the log. */
const MISS_LOGS_PER_SECOND = 10;

interface Loaded {
  entry: TcpEntry;
  record: TcpRecord;
  client: Buffer;
  server: Buffer;
  /** Server chunks with the client bytes that preceded each in the recording. */
  replies: Array<{ data: Buffer; after: number }>;
}

function load(entry: TcpEntry, record: TcpRecord): Loaded {
  const replies: Loaded['replies'] = [];
  let client = 0;
  for (const c of record.chunks) {
    if (c.dir === 'c2s') client += c.data.length;
    else replies.push({ data: c.data, after: client });
  }
  const server = Buffer.concat(replies.map((r) => r.data));
  return { entry, record, client: clientStream(record), server, replies };
}

/** One client connection being served. */
class StubConnection {
  private received = Buffer.alloc(0);
  private candidates: Loaded[] | null = null;
  private chosen: Loaded | null = null;
  /** Server bytes written so far (a prefix of the chosen session's server stream). */
  private sentBytes = 0;
  private over = false;
  /** Taken now: a socket that is gone has no address left to log. */
  private readonly client: string;

  constructor(
    private readonly socket: Socket,
    private readonly host: TcpStubServer,
  ) {
    this.client = `${socket.remoteAddress ?? 'unknown'}:${socket.remotePort ?? '?'}`;
    socket.on('data', (d: Buffer) => this.onData(d));
    socket.on('end', () => this.onEnd());
    socket.on('error', () => socket.destroy());
    socket.on('close', () => this.finish());
    const greeting = host.pick(Buffer.alloc(0));
    if (greeting.length > 0) this.follow(greeting);
  }

  private onData(d: Buffer): void {
    if (this.over) return;
    this.received = Buffer.concat([this.received, d]);
    let next = (this.candidates ?? this.host.pick(this.received)).filter((c) => this.agrees(c));
    // Nothing sent yet (no greeting, or one the client ignored): every session may still fit.
    if (next.length === 0 && this.sentBytes === 0 && this.candidates !== null) next = this.host.pick(this.received).filter((c) => this.agrees(c));
    if (next.length === 0) return this.miss(this.candidates);
    this.follow(next);
  }

  private onEnd(): void {
    if (this.over) return;
    this.flush(true);
    this.socket.end();
  }

  /** The client bytes so far begin the candidate's client stream, and what was sent begins its server stream. */
  private agrees(c: Loaded): boolean {
    if (this.received.length > c.client.length) return false;
    if (!c.client.subarray(0, this.received.length).equals(this.received)) return false;
    return this.chosen === null || c.server.subarray(0, this.sentBytes).equals(this.chosen.server.subarray(0, this.sentBytes));
  }

  private follow(candidates: Loaded[]): void {
    this.candidates = candidates;
    this.chosen = candidates[0]!;
    this.flush(false);
  }

  /** Sends every reply whose preceding client bytes have arrived; ends like the recording did. */
  private flush(clientDone: boolean): void {
    const c = this.chosen;
    if (c === null || this.over) return;
    let end = 0;
    for (const reply of c.replies) {
      if (reply.after > this.received.length) break;
      const start = end;
      end += reply.data.length;
      if (end <= this.sentBytes) continue;
      this.socket.write(c.server.subarray(Math.max(start, this.sentBytes), end));
      this.sentBytes = end;
    }
    const complete = this.received.length === c.client.length && this.sentBytes === c.server.length;
    if (complete && (c.record.close_reason === 'server_close' || clientDone)) this.socket.end();
  }

  /** `followed`: the sessions the client agreed with until its last bytes (null: none yet). */
  private miss(followed: Loaded[] | null): void {
    this.over = true;
    this.host.missed(this.client, this.received, followed);
    this.socket.end();
    this.socket.destroySoon();
  }

  private finish(): void {
    if (this.over) return;
    this.over = true;
    const c = this.chosen;
    if (c === null) {
      if (this.received.length > 0) this.host.missed(this.client, this.received, this.candidates);
      return;
    }
    this.host.count('hit');
    this.host.served(c.entry.digest);
  }
}

export class TcpStubServer {
  readonly index = new TcpStubIndex();
  private readonly server: Server;
  private readonly follower: StoreFollower;
  private readonly counts = { hits: 0, misses: 0 };
  private missLog = { since: 0, logged: 0, suppressed: 0 };
  private readonly sockets = new Set<Socket>();
  private closing: Promise<void> | null = null;

  constructor(private readonly o: TcpStubOptions) {
    this.follower = new StoreFollower(o.store, (r) => r.protocol === 'tcp' && this.index.add(r), o.pollMs, o.logger);
    const onSocket = (socket: Socket): void => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
      socket.setTimeout(o.idleMs, () => socket.destroy());
      new StubConnection(socket, this);
    };
    this.server = o.tls
      ? createTlsServer({ cert: o.tls.cert, key: o.tls.key, ...(o.tls.ca !== undefined && { ca: o.tls.ca, requestCert: true }) }, onSocket)
      : createNetServer({ allowHalfOpen: true }, onSocket);
    if (o.maxConnections > 0) this.server.maxConnections = o.maxConnections;
  }

  async listen(): Promise<AddressInfo> {
    const address = await this.follower.startServing(this.server, this.o.host, this.o.port, 'tcp');
    this.o.logger.info({ address: address.address, port: address.port, sessions: this.index.size }, 'serving recorded TCP sessions');
    return address;
  }

  status(): { sessions: number; hits: number; misses: number } {
    return { sessions: this.index.size, ...this.counts };
  }

  refresh(): void {
    this.follower.catchUp();
  }

  /** @internal The sessions a connection may follow, loaded from the store. */
  pick(received: Buffer): Loaded[] {
    const out: Loaded[] = [];
    for (const e of this.index.candidates(received, MAX_CANDIDATES)) {
      const r = this.o.store.get(e.id);
      if (r?.protocol !== 'tcp') this.index.forget(e.id);
      else out.push(load(e, r));
    }
    return out;
  }

  /** @internal A client left every recorded stream: counted, and logged with the closest recording. */
  missed(client: string, received: Buffer, followed: Loaded[] | null): void {
    this.count('miss');
    const now = Date.now();
    if (now - this.missLog.since >= 1000) this.missLog = { since: now, logged: 0, suppressed: this.missLog.suppressed };
    if (this.missLog.logged >= MISS_LOGS_PER_SECOND) {
      this.missLog.suppressed++;
      return;
    }
    this.missLog.logged++;
    const suppressed = this.missLog.suppressed;
    this.missLog.suppressed = 0;
    this.o.logger.info(
      {
        client,
        received_bytes: received.length,
        closest: this.closest(received, followed),
        ...(suppressed > 0 && { misses_not_logged: suppressed }),
      },
      'tcp serve miss: no recorded session goes on like this client; connection closed',
    );
  }

  /** The recording the client came closest to, and where it left it. */
  private closest(received: Buffer, followed: Loaded[] | null): { id: string; matched_bytes: number; difference: string } | null {
    let best: { record: TcpRecord; client: Buffer } | null = null;
    let common = -1;
    for (const c of followed ?? []) {
      const n = commonPrefix(c.client, received);
      if (n > common) [best, common] = [{ record: c.record, client: c.client }, n];
    }
    if (best === null) {
      const found = this.index.closest(received);
      const record = found && this.o.store.get(found.entry.id);
      if (record?.protocol !== 'tcp') return null;
      const client = clientStream(record);
      [best, common] = [{ record, client }, commonPrefix(client, received)];
    }
    const diff = diffBodies(best.client.subarray(0, received.length), received, [], false);
    return { id: best.record.id, matched_bytes: common, difference: (diff?.line ?? 'the recording ends here').replace(/^body/, 'client bytes') };
  }

  /** @internal */
  count(outcome: 'hit' | 'miss'): void {
    if (outcome === 'hit') this.counts.hits++;
    else this.counts.misses++;
    this.o.observer.served('tcp', outcome);
  }

  /** @internal A conversation that followed `digest`'s sequence ended: the sequence moves on. */
  served(digest: string): void {
    this.index.served(digest);
  }

  close(deadlineMs: number): Promise<void> {
    this.closing ??= (async () => {
      this.follower.stop();
      if (!this.server.listening) return;
      const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
      const force = setTimeout(() => {
        for (const s of this.sockets) s.destroy();
      }, Math.max(0, deadlineMs));
      force.unref();
      await closed;
      clearTimeout(force);
    })();
    return this.closing;
  }
}
