/**
 * Replays a recorded WebSocket connection against zone B with the `ws` client: the handshake with
 * the recorded request's headers (its own Sec-WebSocket-* fields aside, which `ws` makes), then the
 * client's messages in their recorded order. Before each one it waits — bounded by the replay
 * timeout — until the server has sent as many messages as it had by then in the recording, so a
 * request/answer protocol is replayed one step at a time rather than all at once.
 *
 * @module
 */
import { performance } from 'node:perf_hooks';
import { WebSocket, type ClientOptions } from 'ws';
import type { HttpRecord, WsMessage } from '../../recording/model.js';
import type { WsServerMessage, WsSide } from '../compare/compare-websocket.js';
import type { TargetTls } from './origin-pools.js';
import type { ReplayRequest } from './rewrite.js';

export interface WsReplayOptions {
  /** Origins such as "http://10.1.0.5:8081"; connections are spread round-robin. */
  origins: readonly string[];
  tls: TargetTls;
  /** Handshake, and each wait for the server. */
  timeoutMs: number;
  /** Payload bytes of each server message kept for comparison. */
  maxBody: number;
}

export type WsReplayOutcome =
  | { ok: true; side: WsSide; ttfbMs: number; totalMs: number; notes: string[] }
  | { ok: false; error: { code: string; message: string }; totalMs: number };

/** Handshake fields `ws` writes itself; a recorded value would clash with its own. */
const HANDSHAKE = new Set(['sec-websocket-key', 'sec-websocket-version', 'sec-websocket-extensions', 'sec-websocket-protocol']);

/** Server messages that are compared: pings and pongs are keep-alives, their count is timing. */
export function comparedServerMessages(messages: readonly WsMessage[]): WsServerMessage[] {
  const out: WsServerMessage[] = [];
  messages.forEach((m, n) => {
    if (m.dir !== 's2c' || m.opcode === 'ping' || m.opcode === 'pong') return;
    out.push({ n, opcode: m.opcode, data: m.data, truncated: m.truncated, ...(m.close_code !== undefined && { close_code: m.close_code }) });
  });
  return out;
}

/** Why a connection cannot be replayed, or null: a client message cut at record time cannot be sent as it was. */
export function unreplayable(r: HttpRecord): string | null {
  const ws = r.websocket!;
  const cut = ws.messages.findIndex((m) => m.dir === 'c2s' && m.truncated && m.opcode !== 'close');
  if (cut >= 0) return `WebSocket message #${cut} from the client was truncated at record time (storage.max_body), so it cannot be replayed`;
  if (ws.dropped > 0) return `${ws.dropped} WebSocket messages were not kept at record time (recording.websocket.max_bytes), so the connection cannot be replayed whole`;
  return null;
}

export class WsReplayClient {
  private turn = 0;

  constructor(private readonly o: WsReplayOptions) {}

  /** Never throws: a failed handshake comes back as `ok: false` with a QP_ERR_REPLAY_* code. */
  async run(r: HttpRecord, req: ReplayRequest, signal?: AbortSignal): Promise<WsReplayOutcome> {
    const origin = this.o.origins[this.turn++ % this.o.origins.length]!;
    const t0 = performance.now();
    const conn = new Connection(this.o, origin, r, req);
    const abort = (): void => conn.abort();
    signal?.addEventListener('abort', abort, { once: true });
    try {
      return await conn.run(t0);
    } finally {
      signal?.removeEventListener('abort', abort);
    }
  }
}

class Connection {
  private readonly ws: WebSocket;
  private readonly received: WsServerMessage[] = [];
  /** Server messages (compared ones) so far; waits resolve when it reaches their figure. */
  private waiting: { count: number; resolve: () => void } | null = null;
  private closed = false;
  private closeWait: (() => void) | null = null;
  private aborted = false;

  constructor(
    private readonly o: WsReplayOptions,
    private readonly origin: string,
    private readonly r: HttpRecord,
    req: ReplayRequest,
  ) {
    const headers: Record<string, string> = {};
    let protocols: string[] = [];
    for (let i = 0; i + 1 < req.headers.length; i += 2) {
      const name = req.headers[i]!;
      const lower = name.toLowerCase();
      if (lower === 'sec-websocket-protocol') protocols = req.headers[i + 1]!.split(',').map((p) => p.trim()).filter((p) => p !== '');
      if (HANDSHAKE.has(lower)) continue;
      headers[name] = headers[name] === undefined ? req.headers[i + 1]! : `${headers[name]}, ${req.headers[i + 1]!}`;
    }
    const url = origin.replace(/^http/, 'ws') + req.path;
    const opts: ClientOptions = {
      headers,
      handshakeTimeout: o.timeoutMs,
      perMessageDeflate: r.websocket!.deflate,
      maxPayload: 0,
      ...(origin.startsWith('https:') && {
        rejectUnauthorized: o.tls.rejectUnauthorized,
        ...(o.tls.ca !== undefined && { ca: o.tls.ca }),
        ...(o.tls.servername !== undefined && { servername: o.tls.servername }),
      }),
    };
    this.ws = new WebSocket(url, protocols, opts);
  }

  abort(): void {
    this.aborted = true;
    this.ws.terminate();
  }

  async run(t0: number): Promise<WsReplayOutcome> {
    const opened = await this.open();
    const ttfbMs = performance.now() - t0;
    if ('error' in opened) return { ok: false, error: opened.error, totalMs: performance.now() - t0 };
    if (opened.status !== 101) return { ok: true, side: { status: opened.status, messages: [] }, ttfbMs, totalMs: performance.now() - t0, notes: [] };
    const notes = await this.converse();
    this.ws.terminate();
    return { ok: true, side: { status: 101, messages: this.received }, ttfbMs, totalMs: performance.now() - t0, notes };
  }

  /** The handshake: 101 (open), another status, or an error with its code. */
  private open(): Promise<{ status: number } | { error: { code: string; message: string } }> {
    const { ws, origin } = this;
    return new Promise((resolve) => {
      ws.once('open', () => resolve({ status: 101 }));
      ws.once('unexpected-response', (_req, res) => {
        res.resume();
        resolve({ status: res.statusCode ?? 0 });
        ws.terminate();
      });
      ws.on('error', (err: Error & { code?: string }) => {
        if (this.aborted) return resolve({ error: { code: 'QP_ERR_REPLAY_CANCELLED', message: `replay cancelled while connecting to ${origin}` } });
        const code = err.code === 'ECONNREFUSED' || err.code === 'ENOTFOUND' || err.code === 'EHOSTUNREACH' ? 'QP_ERR_REPLAY_CONNECT' : err.message.includes('timed out') ? 'QP_ERR_REPLAY_TIMEOUT' : 'QP_ERR_REPLAY_PROTOCOL';
        resolve({ error: { code, message: `WebSocket to ${origin} failed: ${err.message}${err.code ? ` (${err.code})` : ''}` } });
      });
      ws.on('message', (data: Buffer, isBinary: boolean) => this.onMessage(isBinary ? 'binary' : 'text', data));
      ws.on('close', (code: number) => this.onClose(code));
    });
  }

  private onMessage(opcode: 'text' | 'binary', data: Buffer): void {
    const kept = data.length > this.o.maxBody ? data.subarray(0, this.o.maxBody) : data;
    this.received.push({ n: this.received.length, opcode, data: kept, truncated: kept.length < data.length });
    this.wake();
  }

  private onClose(code: number): void {
    if (this.closed) return;
    this.closed = true;
    // 1005: the server's close frame carried no code; 1006: the connection dropped without one.
    if (code !== 1006) this.received.push({ n: this.received.length, opcode: 'close', data: Buffer.alloc(0), truncated: false, ...(code !== 1005 && { close_code: code }) });
    this.wake();
    this.closeWait?.();
  }

  private wake(): void {
    const w = this.waiting;
    if (w !== null && (this.received.length >= w.count || this.closed)) {
      this.waiting = null;
      w.resolve();
    }
  }

  /** Waits until `count` server messages came (or the connection closed); false on timeout. */
  private waitFor(count: number): Promise<boolean> {
    if (this.received.length >= count || this.closed) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiting = null;
        resolve(false);
      }, this.o.timeoutMs);
      this.waiting = {
        count,
        resolve: () => {
          clearTimeout(timer);
          resolve(true);
        },
      };
    });
  }

  /** The recorded close; a code `ws` refuses to send (1005, 1006, out of range) goes as a close without one. */
  private sendClose(m: WsMessage): void {
    try {
      this.ws.close(m.close_code, m.close_reason);
    } catch {
      this.ws.close();
    }
  }

  /** Sends the client's messages in order, each after the server messages that preceded it. */
  private async converse(): Promise<string[]> {
    const notes: string[] = [];
    let expected = 0;
    const messages = this.r.websocket!.messages;
    for (let n = 0; n < messages.length; n++) {
      const m = messages[n]!;
      if (m.dir === 's2c') {
        if (m.opcode !== 'ping' && m.opcode !== 'pong') expected++;
        continue;
      }
      // The client's pongs answer the server's pings (`ws` answers them itself).
      if (m.opcode === 'pong') continue;
      if (!(await this.waitFor(expected))) {
        notes.push(`waited ${this.o.timeoutMs} ms before message #${n} for server message ${expected} (playback.timeout); sent it anyway`);
      }
      if (this.closed || this.aborted) break;
      if (m.opcode === 'close') {
        this.sendClose(m);
        break;
      }
      if (this.ws.readyState !== WebSocket.OPEN) break;
      if (m.opcode === 'ping') this.ws.ping(m.data);
      else this.ws.send(m.data, { binary: m.opcode === 'binary' });
    }
    // The rest of the server's messages, and its close when the recording has one.
    const total = comparedServerMessages(messages).length;
    if (!this.closed && !this.aborted && !(await this.waitFor(total))) {
      notes.push(`waited ${this.o.timeoutMs} ms for server message ${total} (playback.timeout)`);
    }
    if (!this.closed && !this.aborted) {
      const closedAlready = new Promise<void>((resolve) => (this.closeWait = resolve));
      if (this.ws.readyState === WebSocket.OPEN) this.ws.close(1000);
      await Promise.race([closedAlready, new Promise((resolve) => setTimeout(resolve, this.o.timeoutMs).unref())]);
    }
    return notes;
  }
}
