/**
 * @module Serving a recorded WebSocket connection: the handshake is answered by `ws` (with
 * permessage-deflate when the recording negotiated it, and the recorded subprotocol), then the
 * server's recorded messages are sent — those before the client's first message at once, and
 * after each client message the ones that followed it in the recording. A client message is
 * matched to the next recorded one with the same payload; when none has it, to the next recorded
 * one in order. Pings and pongs are answered by `ws` itself; a close the server started in the
 * recording is sent where it was.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { HttpRecord, WsMessage } from '../../recording/model.js';

function headerOf(r: HttpRecord, name: string): string | undefined {
  return r.response?.headers.find(([n]) => n.toLowerCase() === name)?.[1];
}

export class WsStub {
  /** One server per permessage-deflate setting: `ws` offers it per server, not per connection. */
  private readonly servers: Record<'plain' | 'deflate', WebSocketServer>;
  private readonly recordOf = new WeakMap<IncomingMessage, HttpRecord>();

  constructor(maxPayload: number) {
    const handleProtocols = (offered: Set<string>, req: IncomingMessage): string | false => {
      const r = this.recordOf.get(req);
      const chosen = r && headerOf(r, 'sec-websocket-protocol')?.trim();
      return chosen !== undefined && offered.has(chosen) ? chosen : false;
    };
    const common = { noServer: true, maxPayload, handleProtocols, clientTracking: true };
    this.servers = {
      plain: new WebSocketServer({ ...common, perMessageDeflate: false }),
      deflate: new WebSocketServer({ ...common, perMessageDeflate: { threshold: 0 } }),
    };
  }

  /** Answers the handshake and plays the recorded server side of `r` (a record with `websocket`). */
  accept(req: IncomingMessage, socket: Duplex, head: Buffer, r: HttpRecord): void {
    this.recordOf.set(req, r);
    const server = r.websocket!.deflate ? this.servers.deflate : this.servers.plain;
    server.handleUpgrade(req, socket, head, (ws) => play(ws, r.websocket!.messages));
  }

  /** Ends the connections being served. */
  close(): void {
    for (const server of Object.values(this.servers)) {
      for (const ws of server.clients) ws.terminate();
      server.close();
    }
  }
}

function isData(m: WsMessage): boolean {
  return m.opcode === 'text' || m.opcode === 'binary';
}

function play(ws: WebSocket, messages: readonly WsMessage[]): void {
  ws.on('error', () => ws.terminate());
  let clientClosed = false;
  /** Sends the server's messages from `from` up to the next client data message; returns that one's index. */
  const run = (from: number): number => {
    let i = from;
    for (; i < messages.length; i++) {
      const m = messages[i]!;
      if (m.dir === 'c2s') {
        if (isData(m)) return i;
        if (m.opcode === 'close') clientClosed = true;
        continue;
      }
      if (isData(m)) ws.send(m.data, { binary: m.opcode === 'binary' });
      else if (m.opcode === 'ping') ws.ping(m.data);
      else if (m.opcode === 'close' && !clientClosed) {
        closeAs(ws, m);
        return messages.length;
      }
    }
    return i;
  };
  let cursor = run(0);
  ws.on('message', (data: Buffer) => {
    if (cursor >= messages.length) return;
    let j = -1;
    for (let k = cursor; k < messages.length; k++) {
      const m = messages[k]!;
      if (m.dir === 'c2s' && isData(m) && !m.truncated && m.data.equals(data)) {
        j = k;
        break;
      }
    }
    if (j < 0) j = cursor;
    cursor = run(j + 1);
  });
}

function closeAs(ws: WebSocket, m: WsMessage): void {
  try {
    ws.close(m.close_code, m.close_reason);
  } catch {
    ws.close();
  }
}
