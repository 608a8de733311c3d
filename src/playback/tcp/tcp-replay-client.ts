/**
 * Replays a recorded TCP session against a downstream, conversation-aware: the client's chunks go
 * out in order and, before each one, the replayer waits until the server has sent as many bytes as
 * it had at that point of the recording (or `replyTimeoutMs` passes), and until the chunk's recorded
 * time divided by the speed. Everything the server sends is kept (up to a bound) for comparison.
 */
import { connect as netConnect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { connect as tlsConnect } from 'node:tls';
import { setTimeout as sleep } from 'node:timers/promises';
import { BodyCapture } from '../../recording/capture.js';
import type { TcpRecord } from '../../recording/model.js';

export interface TcpReplayClientOptions {
  targets: ReadonlyArray<{ host: string; port: number }>;
  /** TLS to the downstream, when it speaks TLS. */
  tls?: { ca?: string | Buffer; rejectUnauthorized: boolean; servername?: string };
  connectTimeoutMs: number;
  /** How long to wait for the server bytes the recording had before the next client chunk. */
  replyTimeoutMs: number;
}

/** What replaying one session gave. */
export type TcpReplayOutcome =
  | { ok: true; target: string; received: Buffer; receivedTotal: number; ms: number; waitsTimedOut: number }
  | { ok: false; target: string; error: { code: string; message: string }; ms: number };

/** Bytes the server had sent before each client chunk, and in all. */
export function conversationPlan(record: TcpRecord): { steps: Array<{ data: Buffer; tUs: number; serverBefore: number }>; serverTotal: number } {
  const steps: Array<{ data: Buffer; tUs: number; serverBefore: number }> = [];
  let server = 0;
  for (const c of record.chunks) {
    if (c.dir === 's2c') server += c.data.length;
    else steps.push({ data: c.data, tUs: c.t_us, serverBefore: server });
  }
  return { steps, serverTotal: server };
}

/** The recorded server byte stream. */
export function serverStream(record: TcpRecord): Buffer {
  return Buffer.concat(record.chunks.filter((c) => c.dir === 's2c').map((c) => c.data));
}

class Connection {
  readonly capture: BodyCapture;
  got = 0;
  ended = false;
  error: Error | null = null;
  private waiter: (() => void) | null = null;

  constructor(
    readonly socket: Socket,
    maxBytes: number,
  ) {
    this.capture = new BodyCapture(maxBytes);
    socket.on('data', (d: Buffer) => {
      this.capture.push(d);
      this.got += d.length;
      this.wake();
    });
    socket.on('end', () => {
      this.ended = true;
      this.wake();
    });
    socket.on('close', () => {
      this.ended = true;
      this.wake();
    });
    socket.on('error', (err) => {
      this.error ??= err;
      this.wake();
    });
  }

  /** Waits until `bytes` server bytes arrived, the server closed, or the timeout/abort; true if they arrived. */
  async waitFor(bytes: number, timeoutMs: number, signal: AbortSignal): Promise<boolean> {
    const until = performance.now() + timeoutMs;
    while (this.got < bytes && !this.ended && this.error === null && !signal.aborted) {
      const left = until - performance.now();
      if (left <= 0) return false;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        const onAbort = (): void => resolve();
        signal.addEventListener('abort', onAbort, { once: true });
        this.waiter = () => {
          clearTimeout(t);
          signal.removeEventListener('abort', onAbort);
          resolve();
        };
      });
      this.waiter = null;
    }
    return this.got >= bytes;
  }

  async write(data: Buffer): Promise<void> {
    if (!this.socket.write(data)) await new Promise<void>((resolve) => this.socket.once('drain', resolve).once('close', resolve));
  }

  private wake(): void {
    this.waiter?.();
  }
}

export class TcpReplayClient {
  private turn = 0;

  constructor(private readonly o: TcpReplayClientOptions) {}

  /** How long to wait for the server's bytes (or answers) before the next client chunk (request). */
  get replyTimeoutMs(): number {
    return this.o.replyTimeoutMs;
  }

  /** Connects to the next target (round robin). Never throws: a failure comes back as the outcome to report. */
  async dial(signal: AbortSignal): Promise<{ ok: true; socket: Socket; target: string; t0: number } | Extract<TcpReplayOutcome, { ok: false }>> {
    const t = this.o.targets[this.turn++ % this.o.targets.length]!;
    const target = `${t.host.includes(':') ? `[${t.host}]` : t.host}:${t.port}`;
    const t0 = performance.now();
    const fail = (code: string, message: string): Extract<TcpReplayOutcome, { ok: false }> => ({ ok: false, target, error: { code, message }, ms: performance.now() - t0 });
    try {
      return { ok: true, socket: await this.connect(t, signal), target, t0 };
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (signal.aborted) return fail('QP_ERR_REPLAY_CANCELLED', `replay cancelled while connecting to ${target}`);
      if (code === 'QP_ERR_REPLAY_TIMEOUT') return fail(code, `connecting to ${target} timed out (playback.timeout)`);
      return fail('QP_ERR_REPLAY_CONNECT', `cannot connect to ${target} (${code ?? (err as Error).message})`);
    }
  }

  /** `keepBytes`: server bytes kept for comparison (the rest is counted). Never throws. */
  async replay(record: TcpRecord, speed: number, signal: AbortSignal, keepBytes: number): Promise<TcpReplayOutcome> {
    const dialed = await this.dial(signal);
    if (!dialed.ok) return dialed;
    const { socket, target, t0 } = dialed;
    const fail = (code: string, message: string): TcpReplayOutcome => ({ ok: false, target, error: { code, message }, ms: performance.now() - t0 });
    const conn = new Connection(socket, keepBytes);
    try {
      const waitsTimedOut = await this.converse(conn, record, speed, t0, signal);
      if (signal.aborted) return fail('QP_ERR_REPLAY_CANCELLED', `replay cancelled while talking to ${target}`);
      if (conn.error !== null && conn.got === 0) return fail('QP_ERR_REPLAY_RESET', `${target}: ${conn.error.message}`);
      return { ok: true, target, received: conn.capture.result().data, receivedTotal: conn.got, ms: performance.now() - t0, waitsTimedOut };
    } finally {
      socket.destroy();
    }
  }

  private async converse(conn: Connection, record: TcpRecord, speed: number, t0: number, signal: AbortSignal): Promise<number> {
    const { steps, serverTotal } = conversationPlan(record);
    let timedOut = 0;
    for (const step of steps) {
      if (!(await conn.waitFor(step.serverBefore, this.o.replyTimeoutMs, signal))) timedOut++;
      if (signal.aborted || conn.ended || conn.error !== null) return timedOut;
      if (speed > 0) {
        const wait = t0 + step.tUs / 1000 / speed - performance.now();
        if (wait > 1) await sleep(wait, undefined, { signal }).catch(() => undefined);
      }
      await conn.write(step.data);
    }
    // The client half-closed in the recording: do the same, so servers that answer at EOF do so.
    if (record.close_reason === 'client_close') conn.socket.end();
    if (!(await conn.waitFor(serverTotal, this.o.replyTimeoutMs, signal))) timedOut++;
    return timedOut;
  }

  private connect(t: { host: string; port: number }, signal: AbortSignal): Promise<Socket> {
    return new Promise<Socket>((resolve, reject) => {
      const tls = this.o.tls;
      const socket = tls
        ? tlsConnect({
            host: t.host,
            port: t.port,
            rejectUnauthorized: tls.rejectUnauthorized,
            ...(tls.ca !== undefined && { ca: tls.ca }),
            ...(tls.servername !== undefined && { servername: tls.servername }),
          })
        : netConnect({ host: t.host, port: t.port });
      const ready = tls ? 'secureConnect' : 'connect';
      const done = (err: Error | null): void => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        socket.off('error', done);
        if (err) {
          socket.destroy();
          reject(err);
        } else resolve(socket);
      };
      const onAbort = (): void => done(new Error('aborted'));
      const timer = setTimeout(() => done(Object.assign(new Error('connect timeout'), { code: 'QP_ERR_REPLAY_TIMEOUT' })), this.o.connectTimeoutMs);
      signal.addEventListener('abort', onAbort, { once: true });
      socket.once('error', done);
      socket.once(ready, () => done(null));
    });
  }
}
