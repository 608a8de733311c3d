import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { protocolModule } from '../../protocols/registry.js';
import type { OpeningChannel, RequestRewriter, SessionSplitter, WireMessage } from '../../protocols/types.js';
import type { AppProtocol, TcpChunk, TcpDirection } from '../../recording/model.js';

/**
 * A replay connection to zone B that reads the server's bytes as the protocol's messages while
 * it keeps them (up to `keepBytes`) for comparison, in the recording's own chunk model. The
 * opening reads messages one by one (`next`); afterwards the replay counts the answers that ended
 * (`ends`) to know when the next request is due.
 */
export class ProtocolConnection implements OpeningChannel {
  readonly chunks: TcpChunk[] = [];
  /** Server messages after the opening that ended an answer. */
  ends = 0;
  ended = false;
  error: Error | null = null;
  /** The server's bytes went beyond `keepBytes`: the kept chunks are a prefix. */
  truncated = false;
  readonly #splitter: SessionSplitter;
  readonly #queue: WireMessage[] = [];
  #kept = 0;
  #opening = true;
  #waiter: (() => void) | null = null;
  rewriter: RequestRewriter | null = null;
  /** Told the new count whenever answers ended. */
  onEnds: ((ends: number) => void) | null = null;

  constructor(
    readonly socket: Socket,
    protocol: AppProtocol,
    private readonly t0: number,
    private readonly keepBytes: number,
    private readonly timeoutMs: number,
  ) {
    this.#splitter = protocolModule(protocol).splitter();
    socket.on('data', (d: Buffer) => this.#received(d));
    socket.on('end', () => this.#close());
    socket.on('close', () => this.#close());
    socket.on('error', (err) => {
      this.error ??= err;
      this.#wake();
    });
  }

  #now(): number {
    return Math.round((performance.now() - this.t0) * 1000);
  }

  #keep(dir: TcpDirection, data: Buffer, t: number): void {
    if (dir === 's2c') {
      if (this.#kept + data.length > this.keepBytes) {
        this.truncated = true;
        const room = this.keepBytes - this.#kept;
        if (room > 0) this.chunks.push({ dir, t_us: t, data: data.subarray(0, room) });
        this.#kept = this.keepBytes;
        return;
      }
      this.#kept += data.length;
    }
    this.chunks.push({ dir, t_us: t, data });
  }

  #received(d: Buffer): void {
    const t = this.#now();
    if (!this.truncated) this.#keep('s2c', d, t);
    const before = this.ends;
    for (const m of this.#splitter.push('s2c', d, t)) {
      if (this.#opening) this.#queue.push(m);
      else {
        this.rewriter?.answer(m);
        if (m.end && !m.handshake) this.ends++;
      }
    }
    if (this.ends !== before) this.onEnds?.(this.ends);
    this.#wake();
  }

  #close(): void {
    this.ended = true;
    this.#wake();
  }

  #wake(): void {
    const w = this.#waiter;
    this.#waiter = null;
    w?.();
  }

  /** Waits for a wake-up (data, close, error), the deadline or the abort; false when the deadline passed. */
  async #wait(until: number, signal: AbortSignal | null): Promise<boolean> {
    const left = until - performance.now();
    if (left <= 0) return false;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, left);
      const onAbort = (): void => resolve();
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#waiter = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
    });
    this.#waiter = null;
    return true;
  }

  async next(): Promise<WireMessage | null> {
    const until = performance.now() + this.timeoutMs;
    while (this.#queue.length === 0) {
      if (this.ended || this.error !== null || this.#splitter.breaks.s2c !== null) return null;
      if (!(await this.#wait(until, null))) return null;
    }
    return this.#queue.shift()!;
  }

  /** The opening is over: later server messages are counted, not queued. */
  opened(rewriter: RequestRewriter): void {
    this.#opening = false;
    this.rewriter = rewriter;
    for (const m of this.#queue.splice(0)) {
      rewriter.answer(m);
      if (m.end && !m.handshake) this.ends++;
    }
    if (this.ends > 0) this.onEnds?.(this.ends);
  }

  async write(data: Buffer): Promise<void> {
    const t = this.#now();
    this.#keep('c2s', data, t);
    this.#splitter.push('c2s', data, t);
    if (!this.socket.write(data)) await new Promise<void>((resolve) => this.socket.once('drain', resolve).once('close', resolve));
  }

  /**
   * Waits until `n` answers ended, or the server closed, stopped speaking the protocol, or the
   * abort; false only when `timeoutMs` passed first.
   */
  async waitForEnds(n: number, timeoutMs: number, signal: AbortSignal): Promise<boolean> {
    const until = performance.now() + timeoutMs;
    while (this.ends < n && !this.ended && this.error === null && !signal.aborted && this.#splitter.breaks.s2c === null) {
      if (!(await this.#wait(until, signal))) return false;
    }
    return true;
  }

}
