/**
 * The demo's sample services, one pair per zone: a small shop API over HTTP and a Redis-like
 * key/value line protocol over TCP, both plain Node on loopback. Zone B is a copy of zone A except
 * for ONE deliberate difference ({@link DIFFERING_ENDPOINT}), so the replay comparison has something
 * real to show.
 */
import { createHash, randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Server as NetServer, type Socket } from 'node:net';
import { QProxyError, errorMessage } from '../core/errors.js';

export type Zone = 'A' | 'B';

/** The endpoint whose answer zone B changes on purpose: it rounds prices to whole units. */
export const DIFFERING_ENDPOINT = 'GET /api/products/:id';

/** Fields that change on every answer; the Playback node's comparison ignores them by config. */
export const VOLATILE_JSON_PATHS: readonly string[] = ['$.served_at', '$.request_id'];

/** Running sample services of one zone. */
export interface SampleServices {
  zone: Zone;
  /** Base URL of the HTTP API, e.g. `http://127.0.0.1:40123`. */
  httpUrl: string;
  /** `host:port` of the key/value service. */
  tcpTarget: string;
  /** Closes both listeners and every open connection. Idempotent. */
  close(): Promise<void>;
}

/** Ports to bind (0 = any free port). */
export interface ServicePorts {
  http: number;
  tcp: number;
}

interface Product {
  id: number;
  name: string;
  category: string;
  price: number;
  stock: number;
}

/** The catalogue both zones serve; every price has cents so zone B's rounding shows. */
export const PRODUCTS: readonly Product[] = [
  { id: 1, name: 'Espresso beans 1kg', category: 'coffee', price: 24.9, stock: 120 },
  { id: 2, name: 'Pour-over kettle', category: 'equipment', price: 59.95, stock: 14 },
  { id: 3, name: 'Ceramic dripper', category: 'equipment', price: 21.49, stock: 40 },
  { id: 4, name: 'Paper filters (100)', category: 'supplies', price: 5.75, stock: 900 },
  { id: 5, name: 'Decaf beans 500g', category: 'coffee', price: 13.35, stock: 65 },
  { id: 6, name: 'Hand grinder', category: 'equipment', price: 89.99, stock: 8 },
];

/** User ids the service knows. */
export const USER_IDS: readonly number[] = [101, 102, 103, 104];

const USERS: Record<number, { name: string; tier: string }> = {
  101: { name: 'Ada', tier: 'gold' },
  102: { name: 'Grace', tier: 'silver' },
  103: { name: 'Linus', tier: 'bronze' },
  104: { name: 'Barbara', tier: 'gold' },
};

/** Starts zone `zone`'s HTTP and TCP services on loopback. */
export async function startSampleServices(zone: Zone, ports: ServicePorts): Promise<SampleServices> {
  const http = createHttpServer((req, res) => readBody(req, res, zone));
  const kv = createKeyValueServer();
  try {
    const httpAddr = await listen(http, ports.http, `zone ${zone} HTTP service`);
    const tcpAddr = await listen(kv.server, ports.tcp, `zone ${zone} TCP service`);
    let closing: Promise<void> | null = null;
    return {
      zone,
      httpUrl: `http://127.0.0.1:${httpAddr.port}`,
      tcpTarget: `127.0.0.1:${tcpAddr.port}`,
      close: () => (closing ??= Promise.all([closeHttp(http), kv.close()]).then(() => undefined)),
    };
  } catch (err) {
    await Promise.all([closeHttp(http), kv.close()]);
    throw err;
  }
}

async function listen(server: NetServer, port: number, what: string): Promise<AddressInfo> {
  server.listen(port, '127.0.0.1');
  try {
    await once(server, 'listening');
  } catch (err) {
    throw new QProxyError(
      'QP_ERR_DEMO_LISTEN',
      `the demo's ${what} cannot listen on 127.0.0.1:${port} (${errorMessage(err)}) — pick another --port-base, or leave it out to use free ports`,
      { cause: err },
    );
  }
  return server.address() as AddressInfo;
}

function closeHttp(server: ReturnType<typeof createHttpServer>): Promise<void> {
  if (!server.listening) return Promise.resolve();
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  // Keep-alive connections from the Record node would otherwise hold close() open.
  server.closeAllConnections();
  return closed;
}

function readBody(req: IncomingMessage, res: ServerResponse, zone: Zone): void {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('error', () => res.destroy());
  req.on('end', () => {
    const { status, body } = route(zone, req.method ?? 'GET', req.url ?? '/', Buffer.concat(chunks));
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
    res.end(JSON.stringify(body));
  });
}

type Answer = { status: number; body: unknown };

/** The shop API. Everything is deterministic except the volatile fields listed in VOLATILE_JSON_PATHS. */
export function route(zone: Zone, method: string, url: string, body: Buffer): Answer {
  const { pathname, searchParams } = new URL(url, 'http://demo.invalid');
  const segments = pathname.split('/').filter(Boolean);
  if (method === 'GET' && pathname === '/healthz') return { status: 200, body: { status: 'ok' } };
  if (method === 'GET' && pathname === '/api/products') {
    const category = searchParams.get('category');
    const items = PRODUCTS.filter((p) => category === null || p.category === category);
    return { status: 200, body: { items: items.map(({ id, name, price }) => ({ id, name, price })), count: items.length } };
  }
  if (method === 'GET' && segments.length === 3 && segments[0] === 'api' && segments[1] === 'products') {
    const product = PRODUCTS.find((p) => String(p.id) === segments[2]);
    if (!product) return notFound(`product ${segments[2]}`);
    // The deliberate difference: zone B's "new release" rounds prices to whole units.
    const price = zone === 'B' ? Math.round(product.price) : product.price;
    return { status: 200, body: { ...product, price, currency: 'EUR' } };
  }
  if (method === 'GET' && segments.length === 3 && segments[0] === 'api' && segments[1] === 'users') {
    const user = USERS[Number(segments[2])];
    if (!user) return notFound(`user ${segments[2]}`);
    return { status: 200, body: { id: Number(segments[2]), ...user, served_at: new Date().toISOString(), request_id: randomUUID() } };
  }
  if (method === 'POST' && pathname === '/api/orders') return createOrder(body);
  return notFound(`${method} ${pathname}`);
}

function notFound(what: string): Answer {
  return { status: 404, body: { error: `${what} not found` } };
}

function createOrder(body: Buffer): Answer {
  let order: { user_id?: unknown; items?: Array<{ product_id?: unknown; qty?: unknown }> };
  try {
    order = JSON.parse(body.toString('utf8')) as typeof order;
  } catch {
    return { status: 400, body: { error: 'the order must be JSON' } };
  }
  const lines = (Array.isArray(order.items) ? order.items : []).map((i) => ({ product: PRODUCTS.find((p) => p.id === i.product_id), qty: Number(i.qty) }));
  if (lines.length === 0 || lines.some((l) => !l.product || !Number.isInteger(l.qty) || l.qty < 1)) {
    return { status: 422, body: { error: 'items must list known product_id values with a whole qty ≥ 1' } };
  }
  const total = Math.round(lines.reduce((sum, l) => sum + l.product!.price * l.qty, 0) * 100) / 100;
  // Derived from the content, so the same order gets the same id in both zones.
  const id = `ord_${createHash('sha256').update(body).digest('hex').slice(0, 12)}`;
  return { status: 201, body: { id, user_id: order.user_id, total, currency: 'EUR', status: 'accepted', served_at: new Date().toISOString() } };
}

/**
 * A tiny Redis-like key/value service, one command per line: `PING` → `+PONG`, `SET k v` → `+OK`,
 * `GET k` → `$v` or `$-1`, `DEL k` → `:1`/`:0`, `QUIT` → `+BYE` and close.
 */
function createKeyValueServer(): { server: NetServer; close(): Promise<void> } {
  const data = new Map<string, string>();
  const sockets = new Set<Socket>();
  const server = createNetServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    let pending = '';
    socket.on('data', (chunk: Buffer) => {
      pending += chunk.toString('utf8');
      let nl: number;
      while ((nl = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, nl).replace(/\r$/, '');
        pending = pending.slice(nl + 1);
        const reply = kvCommand(data, line);
        socket.write(`${reply}\r\n`);
        if (reply === '+BYE') socket.end();
      }
    });
  });
  const close = (): Promise<void> => {
    if (!server.listening) return Promise.resolve();
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const s of sockets) s.destroy();
    return closed;
  };
  return { server, close };
}

function kvCommand(data: Map<string, string>, line: string): string {
  const [cmd = '', key, ...rest] = line.trim().split(/\s+/);
  switch (cmd.toUpperCase()) {
    case 'PING':
      return '+PONG';
    case 'SET':
      if (key === undefined || rest.length === 0) return '-ERR usage: SET key value';
      data.set(key, rest.join(' '));
      return '+OK';
    case 'GET': {
      const v = key === undefined ? undefined : data.get(key);
      return v === undefined ? '$-1' : `$${v}`;
    }
    case 'DEL':
      return key !== undefined && data.delete(key) ? ':1' : ':0';
    case 'QUIT':
      return '+BYE';
    default:
      return `-ERR unknown command ${JSON.stringify(cmd.slice(0, 16))}`;
  }
}
