/**
 * Drives a realistic mix of traffic through the Record node at a steady rate: catalogue browsing,
 * product pages, user profiles, some orders (writes) and health checks over HTTP, and every eighth
 * tick a short key/value session over TCP. The mix is drawn from a seeded generator, so two runs
 * send the same sequence.
 */
import { connect } from 'node:net';
import { Agent, request } from 'undici';
import { PRODUCTS, USER_IDS } from './services.js';

/** Where the traffic goes (the Record node's listeners). */
export interface TrafficTargets {
  /** Base URL of the Record node's HTTP listener. */
  httpUrl: string;
  tcp: { host: string; port: number };
}

export interface TrafficOptions extends TrafficTargets {
  /** HTTP requests per second. */
  rate: number;
  /** Stop by itself after this long; null = until `stop()`. */
  durationMs: number | null;
  /** Seed of the request mix. */
  seed?: number;
}

/** What was sent so far. */
export interface TrafficCounts {
  http: number;
  tcp: number;
  /** Requests or sessions that got no answer (connection refused, reset, timeout). */
  errors: number;
  /** HTTP answers by status class, e.g. { "2xx": 120, "4xx": 6 }. */
  byClass: Record<string, number>;
}

/** Requests (and sessions) in flight at most; ticks beyond it are skipped and counted as not sent. */
const MAX_IN_FLIGHT = 64;
const TCP_EVERY = 8;
const REQUEST_TIMEOUT_MS = 10_000;

export class TrafficDriver {
  readonly counts: TrafficCounts = { http: 0, tcp: 0, errors: 0, byClass: {} };
  private readonly agent = new Agent({ connections: 16, headersTimeout: REQUEST_TIMEOUT_MS, bodyTimeout: REQUEST_TIMEOUT_MS });
  private readonly inFlight = new Set<Promise<void>>();
  private readonly random: () => number;
  private timer: NodeJS.Timeout | null = null;
  private endTimer: NodeJS.Timeout | null = null;
  private ticks = 0;
  private session = 0;
  private stopping: Promise<void> | null = null;
  private resolveDone!: () => void;
  /** Resolves when traffic ended (duration reached or `stop()`) and every request finished. */
  readonly done = new Promise<void>((resolve) => (this.resolveDone = resolve));

  constructor(private readonly o: TrafficOptions) {
    this.random = mulberry32(o.seed ?? 7);
  }

  /** True while requests are still being sent. */
  get running(): boolean {
    return this.timer !== null;
  }

  start(): void {
    this.timer = setInterval(() => this.tick(), Math.max(2, Math.round(1000 / this.o.rate)));
    if (this.o.durationMs !== null) this.endTimer = setTimeout(() => void this.stop(), this.o.durationMs);
  }

  /** Stops sending and waits for requests in flight. Idempotent. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      if (this.timer) clearInterval(this.timer);
      if (this.endTimer) clearTimeout(this.endTimer);
      this.timer = null;
      await Promise.all([...this.inFlight]);
      await this.agent.close();
      this.resolveDone();
    })();
    return this.stopping;
  }

  private tick(): void {
    if (this.inFlight.size >= MAX_IN_FLIGHT) return;
    this.ticks++;
    this.track(this.ticks % TCP_EVERY === 0 ? this.tcpSession() : this.httpRequest());
  }

  private track(p: Promise<void>): void {
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p));
  }

  private pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.random() * items.length)]!;
  }

  /** One request of the mix; never rejects (failures are counted). */
  private async httpRequest(): Promise<void> {
    const { method, path, body } = this.nextRequest();
    try {
      const res = await request(`${this.o.httpUrl}${path}`, {
        method,
        dispatcher: this.agent,
        headers: {
          accept: 'application/json',
          // Recorded redacted (a keyed digest), replayed in zone B with playback.rewrite's test token.
          authorization: 'Bearer demo-user-secret-token',
          ...(body !== undefined && { 'content-type': 'application/json' }),
        },
        ...(body !== undefined && { body }),
      });
      await res.body.dump();
      const cls = `${Math.floor(res.statusCode / 100)}xx`;
      this.counts.byClass[cls] = (this.counts.byClass[cls] ?? 0) + 1;
      this.counts.http++;
    } catch {
      this.counts.errors++;
    }
  }

  private nextRequest(): { method: 'GET' | 'POST'; path: string; body?: string } {
    const r = this.random();
    if (r < 0.2) return { method: 'GET', path: '/api/products' };
    if (r < 0.3) return { method: 'GET', path: `/api/products?category=${this.pick(['coffee', 'equipment', 'supplies'])}` };
    if (r < 0.55) return { method: 'GET', path: `/api/products/${this.pick(PRODUCTS).id}` };
    if (r < 0.6) return { method: 'GET', path: `/api/products/${this.pick([404, 999])}` };
    if (r < 0.8) return { method: 'GET', path: `/api/users/${this.pick(USER_IDS)}` };
    if (r < 0.93) {
      const items = [{ product_id: this.pick(PRODUCTS).id, qty: 1 + Math.floor(this.random() * 3) }];
      return { method: 'POST', path: '/api/orders', body: JSON.stringify({ user_id: this.pick(USER_IDS), items }) };
    }
    return { method: 'GET', path: '/healthz' };
  }

  /** A short key/value conversation: one command, wait for its reply, next command, then QUIT. */
  private tcpSession(): Promise<void> {
    const n = ++this.session;
    const commands = ['PING', `SET cart:${n} ${this.pick(PRODUCTS).id}`, `GET cart:${n}`, `DEL cart:${n}`, 'QUIT'];
    return new Promise<void>((resolve) => {
      const socket = connect(this.o.tcp);
      let buffered = '';
      let next = 0;
      let failed = false;
      const send = (): void => {
        socket.write(`${commands[next++]}\r\n`);
      };
      const fail = (): void => {
        if (failed) return;
        failed = true;
        this.counts.errors++;
        socket.destroy();
        resolve();
      };
      socket.setTimeout(REQUEST_TIMEOUT_MS, fail);
      socket.on('error', fail);
      socket.on('connect', send);
      socket.on('data', (chunk: Buffer) => {
        buffered += chunk.toString('utf8');
        while (buffered.includes('\n')) {
          buffered = buffered.slice(buffered.indexOf('\n') + 1);
          if (next < commands.length) send();
        }
      });
      socket.on('end', () => socket.end());
      socket.on('close', () => {
        if (!failed) {
          if (next === commands.length) this.counts.tcp++;
          else this.counts.errors++;
        }
        resolve();
      });
    });
  }
}

/** A tiny seeded PRNG (mulberry32): enough for a repeatable request mix. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
