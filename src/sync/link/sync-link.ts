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
