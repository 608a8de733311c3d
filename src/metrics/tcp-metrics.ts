import { Gauge, Histogram } from 'prom-client';
import type { Registry } from 'prom-client';
import type { TcpCloseReason, TcpDirection } from '../recording/model.js';
import { BYTES_SLOT } from './proxy-bytes.js';
import { ReasonCounter } from './reason-counter.js';
import { ScrapedCounter } from './scraped-counter.js';

/** What the TCP proxy reports to metrics (src/proxy/tcp/observer.ts has the same shape). */
export interface TcpMetricsObserver {
  /** `open` once a client connection is accepted; `close` once when it ends, with why and how long it lasted. */
  session(event: 'open' | 'close', reason?: TcpCloseReason, durationSec?: number): void;
  /** Bytes relayed: c2s counts as received from clients (rx), s2c as sent to them (tx). */
  bytes(direction: TcpDirection, n: number): void;
  /** A connection refused before it became a session (connection limit, failed client TLS handshake). */
  rejected(reason: string): void;
}

/** Slot of every close reason in `qproxy_tcp_connections_total`; the Record type keeps it exhaustive. */
const OUTCOME_SLOT: Readonly<Record<TcpCloseReason, number>> = {
  client_close: 0,
  server_close: 1,
  client_reset: 2,
  server_reset: 3,
  idle_timeout: 4,
  connect_failed: 5,
  connect_timeout: 6,
  tls_error: 7,
  error: 8,
  shutdown: 9,
};

const OUTCOMES = Object.keys(OUTCOME_SLOT) as TcpCloseReason[];

/** Outcomes that are failures of the proxied connection, for the status error count. */
const ERROR_OUTCOMES: readonly TcpCloseReason[] = ['client_reset', 'server_reset', 'connect_failed', 'connect_timeout', 'tls_error', 'error'];

/**
 * From a one-millisecond probe to a day-long database connection: sessions span far more than
 * HTTP exchanges do.
 */
export const SESSION_BUCKETS = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600, 14_400, 86_400];

/**
 * TCP listener metrics. `bytes()` runs once per chunk relayed, so it adds to one array slot;
 * everything else runs once per connection.
 */
export class TcpMetrics implements TcpMetricsObserver {
  private readonly connections: ScrapedCounter<'outcome'>;
  private readonly duration: Histogram;
  private readonly rejects: ReasonCounter;
  private open = 0;

  constructor(
    registry: Registry,
    private readonly proxyBytes: ScrapedCounter<'protocol' | 'direction'>,
  ) {
    const registers = [registry];
    this.connections = new ScrapedCounter(
      {
        name: 'qproxy_tcp_connections_total',
        help: 'TCP sessions ended, by outcome (how they closed).',
        labelNames: ['outcome'],
        registers,
      },
      OUTCOMES.map((outcome) => ({ outcome })),
    );
    this.duration = new Histogram({
      name: 'qproxy_tcp_session_duration_seconds',
      help: 'Time from accepting a TCP client to the end of its session.',
      buckets: SESSION_BUCKETS,
      registers,
    });
    const read = (): number => this.open;
    new Gauge({
      name: 'qproxy_tcp_active_connections',
      help: 'TCP sessions open now (connecting to a downstream or relaying).',
      registers,
      collect() {
        this.set(read());
      },
    });
    this.rejects = new ReasonCounter({
      name: 'qproxy_tcp_rejected_total',
      help: 'TCP client connections refused before a session started, by reason.',
      registers,
    });
  }

  session(event: 'open' | 'close', reason?: TcpCloseReason, durationSec?: number): void {
    if (event === 'open') {
      this.open++;
      return;
    }
    this.open = Math.max(0, this.open - 1);
    // A reason outside the type (plain JS caller, a future reason) still counts, as an error.
    const slot = reason !== undefined && Object.hasOwn(OUTCOME_SLOT, reason) ? OUTCOME_SLOT[reason] : OUTCOME_SLOT.error;
    this.connections.add(slot, 1);
    if (durationSec !== undefined && durationSec >= 0 && Number.isFinite(durationSec)) this.duration.observe(durationSec);
  }

  bytes(direction: TcpDirection, n: number): void {
    if (n > 0) this.proxyBytes.add(direction === 'c2s' ? BYTES_SLOT.tcpRx : BYTES_SLOT.tcpTx, n);
  }

  rejected(reason: string): void {
    this.rejects.add(reason, 1);
  }

  /** Sessions ended so far, whatever the outcome. */
  get sessionCount(): number {
    let n = 0;
    for (let i = 0; i < OUTCOMES.length; i++) n += this.connections.value(i);
    return n;
  }

  /** Sessions that ended in a reset, a connect failure, a TLS failure or another error. */
  get errorCount(): number {
    let n = 0;
    for (const outcome of ERROR_OUTCOMES) n += this.connections.value(OUTCOME_SLOT[outcome]);
    return n;
  }

  get activeCount(): number {
    return this.open;
  }
}
