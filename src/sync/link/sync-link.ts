/**
 * What every sync link is to the node that runs it, whichever side (sending, receiving) and
 * transport (peer HTTP/2, NATS JetStream): started after the store, closed before it, and reporting
 * into `/api/status` `sync`.
 */
export interface SyncLink<Started, Status> {
  /** Starts the link; a sending link returns at once and comes up in the background. */
  start(): Promise<Started>;
  /** Graceful: what is in flight gets up to `deadlineMs` to be acknowledged. Idempotent. */
  close(deadlineMs: number): Promise<void>;
  /** The `/api/status` `sync` section. */
  status(): Status;
}

/**
 * The lifecycle every link shares: `close()` is idempotent, and from its first call `stopping` is
 * set, so timers, retries and callbacks still under way see it and stand down; the transport's
 * `shutdown` settles what is in flight within the deadline.
 */
export abstract class LinkLifecycle<Started, Status> implements SyncLink<Started, Status> {
  protected stopping = false;
  private closing: Promise<void> | null = null;

  abstract start(): Promise<Started>;
  abstract status(): Status;

  close(deadlineMs: number): Promise<void> {
    if (!this.closing) {
      this.stopping = true;
      this.closing = this.shutdown(deadlineMs);
    }
    return this.closing;
  }

  /** Runs once, on the first close(). */
  protected abstract shutdown(deadlineMs: number): Promise<void>;
}

/** A sending link: its cursor, acknowledged (in memory) and durable (the store's retention floor). */
export abstract class SendingLink<Status> extends LinkLifecycle<void, Status> {
  protected abstract readonly core: { readonly cursor: { readonly cursor: number; readonly durableCursor: number } };

  /** Every feed entry up to here is acknowledged by the other side (in memory). */
  get cursor(): number {
    return this.core.cursor.cursor;
  }

  /** The cursor as last saved: records above it are not yet sent for sure (the store's retention floor). */
  get durableCursor(): number {
    return this.core.cursor.durableCursor;
  }
}
