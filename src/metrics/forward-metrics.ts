import { Gauge } from 'prom-client';
import type { Registry } from 'prom-client';
import type { ForwardStatus } from '../core/documents.js';
import { ScrapedCounter } from './scraped-counter.js';

/** How a CONNECT was served. */
export type ForwardConnectMode = 'intercept' | 'tunnel';

/** Why the forward proxy refused a request or CONNECT. */
export type ForwardDenyReason = 'client' | 'auth' | 'port' | 'loop' | 'target';

export const FORWARD_DENY_REASONS: readonly ForwardDenyReason[] = ['client', 'auth', 'port', 'loop', 'target'];
const MODES: readonly ForwardConnectMode[] = ['intercept', 'tunnel'];

/** What the forward proxy reports to metrics. Its inner HTTP exchanges count as `qproxy_http_*`, its tunnels as `qproxy_tcp_*`. */
export interface ForwardMetricsObserver {
  /** A CONNECT accepted and served by interception or as a tunnel. */
  connect(mode: ForwardConnectMode): void;
  /** A request or CONNECT refused by the access rules (403/407) or for a target that cannot be served. */
  denied(reason: ForwardDenyReason): void;
  /** A client's TLS handshake on an intercepted CONNECT: done, or failed (garbage, a client that does not trust the CA). */
  handshake(ok: boolean): void;
  /** A leaf certificate minted (a certificate cache miss). */
  minted(): void;
  /** Where the gauge of cached leaf certificates reads from; called once by the wiring. */
  setCertCacheSize(fn: () => number): void;
}

/** Forward-proxy metrics (`qproxy_forward_*`). */
export class ForwardMetrics implements ForwardMetricsObserver {
  private readonly connects: ScrapedCounter<'mode'>;
  private readonly denials: ScrapedCounter<'reason'>;
  private readonly handshakes: ScrapedCounter<'result'>;
  private readonly mints: ScrapedCounter<never>;
  private cacheSize: () => number = () => 0;

  constructor(registry: Registry) {
    const registers = [registry];
    this.connects = new ScrapedCounter(
      { name: 'qproxy_forward_connects_total', help: 'CONNECT requests accepted by the forward proxy, by how they were served.', labelNames: ['mode'], registers },
      MODES.map((mode) => ({ mode })),
    );
    this.denials = new ScrapedCounter(
      { name: 'qproxy_forward_denied_total', help: 'Requests and CONNECTs the forward proxy refused (403/407), by reason.', labelNames: ['reason'], registers },
      FORWARD_DENY_REASONS.map((reason) => ({ reason })),
    );
    this.handshakes = new ScrapedCounter(
      { name: 'qproxy_forward_tls_handshakes_total', help: 'Client TLS handshakes on intercepted CONNECTs, by result.', labelNames: ['result'], registers },
      [{ result: 'ok' }, { result: 'failed' }],
    );
    this.mints = new ScrapedCounter(
      { name: 'qproxy_forward_certificates_minted_total', help: 'Leaf certificates minted from the CA (certificate cache misses).', labelNames: [], registers },
      [{}],
    );
    const read = (): number => this.cacheSize();
    new Gauge({
      name: 'qproxy_forward_certificate_cache_entries',
      help: 'Leaf certificates cached now (bounded by forward.cert_cache_size).',
      registers,
      collect() {
        this.set(read());
      },
    });
  }

  connect(mode: ForwardConnectMode): void {
    this.connects.add(mode === 'intercept' ? 0 : 1, 1);
  }

  denied(reason: ForwardDenyReason): void {
    const i = FORWARD_DENY_REASONS.indexOf(reason);
    if (i >= 0) this.denials.add(i, 1);
  }

  handshake(ok: boolean): void {
    this.handshakes.add(ok ? 0 : 1, 1);
  }

  minted(): void {
    this.mints.add(0, 1);
  }

  setCertCacheSize(fn: () => number): void {
    this.cacheSize = fn;
  }

  /** Totals for `/api/status`. */
  figures(): ForwardStatus {
    let denied = 0;
    for (let i = 0; i < FORWARD_DENY_REASONS.length; i++) denied += this.denials.value(i);
    return {
      intercepted: this.connects.value(0),
      tunnelled: this.connects.value(1),
      denied,
      handshake_failures: this.handshakes.value(1),
      certificates_minted: this.mints.value(0),
      certificate_cache: this.cacheSize(),
    };
  }
}
