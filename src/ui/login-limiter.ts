/**
 * Slows down guessing the API token through the login form: after `maxFailures` wrong tokens from
 * one client address within `windowMs`, that address gets 429 until the window has passed. Memory is
 * bounded: at most `maxClients` addresses are tracked (the oldest are forgotten first).
 */
export interface LoginLimiterOptions {
  maxFailures?: number;
  windowMs?: number;
  maxClients?: number;
  now?: () => number;
}

interface Entry {
  /** Start of the current window (epoch ms). */
  since: number;
  failures: number;
}

export class LoginLimiter {
  private readonly maxFailures: number;
  private readonly windowMs: number;
  private readonly maxClients: number;
  private readonly now: () => number;
  private readonly clients = new Map<string, Entry>();

  constructor(o: LoginLimiterOptions = {}) {
    this.maxFailures = o.maxFailures ?? 10;
    this.windowMs = o.windowMs ?? 60_000;
    this.maxClients = o.maxClients ?? 1024;
    this.now = o.now ?? Date.now;
  }

  /** Seconds this client must wait before trying again, or 0 when it may try now. */
  waitSeconds(client: string): number {
    const e = this.current(client);
    if (e === undefined || e.failures < this.maxFailures) return 0;
    return Math.max(1, Math.ceil((e.since + this.windowMs - this.now()) / 1000));
  }

  failed(client: string): void {
    const e = this.current(client);
    if (e !== undefined) {
      e.failures++;
      return;
    }
    if (this.clients.size >= this.maxClients) this.clients.delete(this.clients.keys().next().value!);
    this.clients.set(client, { since: this.now(), failures: 1 });
  }

  succeeded(client: string): void {
    this.clients.delete(client);
  }

  private current(client: string): Entry | undefined {
    const e = this.clients.get(client);
    if (e !== undefined && this.now() - e.since >= this.windowMs) {
      this.clients.delete(client);
      return undefined;
    }
    return e;
  }
}
