/**
 * Requests without the client library's per-request cost, like Go's PublishAsync: every request is
 * a plain publish whose reply subject is a token under one wildcard inbox subscription, waiting
 * requests sit in one map keyed by token, and one interval timer sweeps the expired ones.
 *
 * Why not `nc.request` / `js.publish` / `JsMsg.ackAck`: each of those builds two Error objects
 * with stack traces (one for async traces, one in its cancel), a timer, a deferred and a mux
 * entry per message, and a profile of the publisher at 1 KiB records showed that at ~30 % of its
 * CPU. Replies here also arrive synchronously from the socket parser, so whoever handles them can
 * batch the follow-up publishes into one socket write.
 */
import { createInbox, type Msg, type MsgHdrs, type NatsConnection, type Subscription } from '@nats-io/transport-node';

/** Called once per request: with the reply, or with why none came (timeout, closed connection). */
export type ReplyHandler = (err: Error | null, reply: Msg | null) => void;

interface Waiting {
  deadline: number;
  done: ReplyHandler;
}

/** No request lasted longer than its timeout by more than this share of it (sweep period). */
const SWEEP_SHARE = 4;

/** A request whose reply did not come within the timeout. */
export class ReplyTimeoutError extends Error {
  constructor(readonly timeoutMs: number) {
    super(`no reply within ${timeoutMs} ms`);
    this.name = 'ReplyTimeoutError';
  }
}

/** The reply tracker was closed (a new connection, or shutdown) before the reply came. */
export class ReplyTrackerClosedError extends Error {
  constructor() {
    super('the connection the request was sent on was replaced or closed');
    this.name = 'ReplyTrackerClosedError';
  }
}

/** True for the server's "503 no responders" status reply: nothing subscribes to (or stores) the subject. */
export function isNoResponders(reply: Msg): boolean {
  return reply.data.length === 0 && reply.headers?.code === 503;
}

/** Requests on one connection sharing one inbox subscription and one timeout sweep. */
export class ReplyTracker {
  private readonly prefix: string;
  private readonly sub: Subscription;
  private readonly waiting = new Map<string, Waiting>();
  private readonly sweeper: NodeJS.Timeout;
  private readonly idleWaiters: Array<() => void> = [];
  private next = 0;
  private closed = false;

  constructor(
    private readonly nc: NatsConnection,
    private readonly timeoutMs: number,
  ) {
    this.prefix = `${createInbox()}.`;
    this.sub = nc.subscribe(`${this.prefix}*`, { callback: (err, msg) => this.onReply(err, msg) });
    this.sweeper = setInterval(() => this.sweep(), Math.max(10, Math.round(timeoutMs / SWEEP_SHARE)));
  }

  /** Requests waiting for their reply. */
  get pending(): number {
    return this.waiting.size;
  }

  /**
   * Publishes `data` to `subject` with a reply token; `done` runs exactly once, never before this
   * returns (a publish that throws, e.g. on a closed connection, reports on a microtask).
   */
  send(subject: string, data: Uint8Array, headers: MsgHdrs | undefined, done: ReplyHandler): void {
    if (this.closed) {
      queueMicrotask(() => done(new ReplyTrackerClosedError(), null));
      return;
    }
    const token = (this.next++).toString(36);
    this.waiting.set(token, { deadline: Date.now() + this.timeoutMs, done });
    try {
      this.nc.publish(subject, data, headers ? { reply: this.prefix + token, headers } : { reply: this.prefix + token });
    } catch (err) {
      this.waiting.delete(token);
      queueMicrotask(() => done(err instanceof Error ? err : new Error(String(err)), null));
    }
  }

  /** `send` as a promise, for the rare paths (compressed or split records). */
  request(subject: string, data: Uint8Array, headers?: MsgHdrs): Promise<Msg> {
    return new Promise<Msg>((resolve, reject) => this.send(subject, data, headers, (err, reply) => (err ? reject(err) : resolve(reply!))));
  }

  /** Resolves once nothing is waiting (or after `deadlineMs`). */
  async idle(deadlineMs: number): Promise<void> {
    if (this.waiting.size === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      new Promise<void>((resolve) => this.idleWaiters.push(resolve)),
      new Promise<void>((resolve) => (timer = setTimeout(resolve, deadlineMs))),
    ]);
    clearTimeout(timer);
  }

  /** Stops the sweep and the subscription; whatever still waits fails with ReplyTrackerClosedError. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.sweeper);
    if (!this.nc.isClosed()) {
      try {
        this.sub.unsubscribe();
      } catch {
        // The connection is closing: the subscription goes with it.
      }
    }
    this.failAll(new ReplyTrackerClosedError());
  }

  private onReply(err: Error | null, msg: Msg): void {
    if (err) {
      // The inbox subscription itself failed (e.g. a permissions violation): no reply can come.
      this.failAll(err);
      return;
    }
    const token = msg.subject.slice(this.prefix.length);
    const w = this.waiting.get(token);
    // Unknown token: a reply after its request timed out.
    if (!w) return;
    this.waiting.delete(token);
    w.done(null, msg);
    this.checkIdle();
  }

  /** Tokens are inserted in send order with one timeout, so the expired ones are a prefix. */
  private sweep(): void {
    if (this.nc.isClosed()) {
      this.close();
      return;
    }
    const now = Date.now();
    for (const [token, w] of this.waiting) {
      if (w.deadline > now) break;
      this.waiting.delete(token);
      w.done(new ReplyTimeoutError(this.timeoutMs), null);
    }
    this.checkIdle();
  }

  private failAll(err: Error): void {
    const all = [...this.waiting.values()];
    this.waiting.clear();
    for (const w of all) w.done(err, null);
    this.checkIdle();
  }

  private checkIdle(): void {
    if (this.waiting.size > 0) return;
    for (const resolve of this.idleWaiters.splice(0)) resolve();
  }
}
