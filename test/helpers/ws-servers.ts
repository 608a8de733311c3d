import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocket, WebSocketServer, type PerMessageDeflateOptions } from 'ws';

/**
 * Real WebSocket servers (`ws`) for the frame-recording, replay and serve tests:
 * - echo: every message back as it came (text stays text, binary stays binary);
 * - chat: a JSON chat room — a welcome with a changing connection id and time, then for each
 *   `{"say": text}` an `{"from", "text", "seq", "at"}` answer and an `{"ack": seq}`; `{"bye": true}`
 *   is answered and the server closes with 4000 "bye".
 */
export interface WsServer {
  origin: string;
  port: number;
  /** Connections accepted so far. */
  readonly connections: number;
  close(): Promise<void>;
}

export type WsHandler = (ws: WebSocket, req: IncomingMessage) => void;

export async function startWsServer(handler: WsHandler, opts: { perMessageDeflate?: boolean | PerMessageDeflateOptions } = {}): Promise<WsServer> {
  const server: Server = createServer((_req, res) => {
    res.writeHead(426, { 'Content-Type': 'text/plain' });
    res.end('upgrade required');
  });
  const wss = new WebSocketServer({ server, perMessageDeflate: opts.perMessageDeflate ?? false });
  let connections = 0;
  wss.on('connection', (ws, req) => {
    connections++;
    ws.on('error', () => ws.terminate());
    handler(ws, req);
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
    close: async () => {
      for (const c of wss.clients) c.terminate();
      wss.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export const echoHandler: WsHandler = (ws) => {
  ws.on('message', (data, isBinary) => ws.send(data as Buffer, { binary: isBinary }));
};

/** `variant` (read at each answer) changes one field of the answers, for a replay that must report the difference. */
export function chatHandler(variant: { textSuffix?: string } = {}): WsHandler {
  let connection = 0;
  return (ws) => {
    const id = ++connection;
    let seq = 0;
    ws.send(JSON.stringify({ welcome: 'room-1', connection: id, at: Date.now() }));
    ws.on('message', (data) => {
      let msg: { say?: string; bye?: boolean };
      try {
        msg = JSON.parse((data as Buffer).toString('utf8')) as typeof msg;
      } catch {
        ws.close(1003, 'not JSON');
        return;
      }
      if (msg.bye) {
        ws.send(JSON.stringify({ bye: true, messages: seq }));
        ws.close(4000, 'bye');
        return;
      }
      seq++;
      ws.send(JSON.stringify({ from: 'alice', text: `${msg.say ?? ''}${variant.textSuffix ?? ''}`, seq, at: Date.now() }));
      ws.send(JSON.stringify({ ack: seq }));
    });
  };
}

interface Inbox {
  items: Array<string | Buffer>;
  wake: (() => void) | null;
}

const inboxes = new WeakMap<WebSocket, Inbox>();

/** Keeps every message from the start: one may come in the same read as the 101. */
function inboxOf(ws: WebSocket): Inbox {
  let inbox = inboxes.get(ws);
  if (inbox === undefined) {
    const box: Inbox = { items: [], wake: null };
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      box.items.push(isBinary ? data : data.toString('utf8'));
      box.wake?.();
    });
    ws.on('close', () => box.wake?.());
    inboxes.set(ws, box);
    inbox = box;
  }
  return inbox;
}

/** Opens a client and waits for it (rejects on an error or an unexpected response). */
export async function openClient(url: string, opts: ConstructorParameters<typeof WebSocket>[2] = {}): Promise<WebSocket> {
  const ws = new WebSocket(url, opts);
  inboxOf(ws);
  await new Promise<void>((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => reject(new Error(`unexpected response ${res.statusCode}: ${Buffer.concat(chunks).toString()}`)));
    });
  });
  return ws;
}

/** The next `n` messages (text as strings, binary as Buffers), in order. */
export async function nextMessages(ws: WebSocket, n: number): Promise<Array<string | Buffer>> {
  const box = inboxOf(ws);
  while (box.items.length < n) {
    if (ws.readyState === WebSocket.CLOSED) throw new Error(`the connection closed with ${box.items.length} of ${n} messages`);
    await new Promise<void>((resolve) => (box.wake = resolve));
    box.wake = null;
  }
  return box.items.splice(0, n);
}

/** Closes and waits for the close handshake; resolves with the code the peer answered. */
export async function closeClient(ws: WebSocket, code = 1000, reason = ''): Promise<number> {
  const closed = once(ws, 'close') as Promise<[number, Buffer]>;
  ws.close(code, reason);
  return (await closed)[0];
}
