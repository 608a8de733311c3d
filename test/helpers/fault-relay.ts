import { once } from 'node:events';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';

/**
 * A small TCP relay for fault injection between two nodes on loopback (a toxiproxy-like test
 * utility; this kernel has no netem). Every control applies to open connections at once:
 *
 * - `cut()`     closes every connection (FIN both ways), as a restarted middlebox would;
 * - `reset()`   resets every connection (RST both ways);
 * - `blackhole(true)` drops every byte both ways without closing anything (no FIN, no RST: only
 *   timeouts or PINGs notice), and holds new connections without connecting them anywhere;
 * - `refuse(true)` closes new connections as soon as they arrive;
 * - `latency(ms)` delays every chunk by `ms` in each direction (order kept);
 * - `bandwidth(bytesPerSecond)` paces each direction to roughly that rate (0 = unlimited);
 * - `retarget(port)` sends new connections to another port (a peer restarted elsewhere).
 */
export class FaultRelay {
  private readonly server: Server;
  private readonly links = new Set<Link>();
  private blackholed = false;
  private refusing = false;
  private delayMs = 0;
  private rate = 0;
  /** Connections accepted so far. */
  accepted = 0;
  /** Bytes forwarded, both directions. */
  forwarded = 0;

  private constructor(private target: { host: string; port: number }) {
    this.server = createServer((client) => this.onClient(client));
  }

  /** Listens on 127.0.0.1 on a free port and relays to `target`. */
  static async start(target: { host: string; port: number }): Promise<FaultRelay> {
    const relay = new FaultRelay(target);
    relay.server.listen(0, '127.0.0.1');
    await once(relay.server, 'listening');
    return relay;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /** Connections open now. */
  get open(): number {
    return this.links.size;
  }

  cut(): void {
    for (const l of [...this.links]) l.close(false);
  }

  reset(): void {
    for (const l of [...this.links]) l.close(true);
  }

  blackhole(on: boolean): void {
    this.blackholed = on;
  }

  refuse(on: boolean): void {
    this.refusing = on;
  }

  /** New connections go to this port from now on (a restarted peer on another port). */
  retarget(port: number, host = this.target.host): void {
    this.target = { host, port };
  }

  latency(ms: number): void {
    this.delayMs = ms;
  }

  bandwidth(bytesPerSecond: number): void {
    this.rate = bytesPerSecond;
  }

  /** Stops listening and resets whatever is still open. */
  async close(): Promise<void> {
    this.reset();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private onClient(client: Socket): void {
    this.accepted++;
    client.on('error', () => {});
    if (this.refusing) {
      client.destroy();
      return;
    }
    const link = new Link(client, this);
    this.links.add(link);
    client.once('close', () => link.close(true));
    if (this.blackholed) {
      // A dropped SYN in a real network: the client waits, nothing ever answers.
      client.on('data', () => {});
      return;
    }
    link.attach(connect(this.target.port, this.target.host));
  }

  /** @internal */
  forward(dst: Socket, chunk: Buffer, pace: { next: number }): void {
    if (this.blackholed) return;
    this.forwarded += chunk.byteLength;
    const now = Date.now();
    let at = now + this.delayMs;
    if (this.rate > 0) {
      pace.next = Math.max(pace.next, now) + (chunk.byteLength * 1000) / this.rate;
      at = Math.max(at, pace.next);
    }
    if (at <= now) {
      if (!dst.destroyed) dst.write(chunk);
      return;
    }
    // Timers of equal delay fire in the order they were set, so a chunk never overtakes another.
    setTimeout(() => {
      if (!dst.destroyed && !this.blackholed) dst.write(chunk);
    }, at - now);
  }

  /** @internal */
  drop(link: Link): void {
    this.links.delete(link);
  }
}

class Link {
  private upstream: Socket | null = null;
  private closed = false;

  constructor(
    private readonly client: Socket,
    private readonly relay: FaultRelay,
  ) {}

  attach(upstream: Socket): void {
    this.upstream = upstream;
    upstream.on('error', () => {});
    upstream.once('close', () => this.close(true));
    const up = { next: 0 };
    const down = { next: 0 };
    this.client.on('data', (c: Buffer) => this.relay.forward(upstream, c, up));
    upstream.on('data', (c: Buffer) => this.relay.forward(this.client, c, down));
    this.client.on('end', () => upstream.end());
    upstream.on('end', () => this.client.end());
  }

  close(hard: boolean): void {
    if (this.closed) return;
    this.closed = true;
    this.relay.drop(this);
    for (const s of [this.client, this.upstream]) {
      if (!s || s.destroyed) continue;
      if (hard) s.resetAndDestroy();
      else s.destroy();
    }
  }
}
