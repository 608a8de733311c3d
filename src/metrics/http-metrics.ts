import { Histogram } from 'prom-client';
import type { Registry } from 'prom-client';
import { BYTES_SLOT } from './proxy-bytes.js';
import { RecentLatency } from './recent-latency.js';
import { ReasonCounter } from './reason-counter.js';
import { ScrapedCounter } from './scraped-counter.js';

/** How a proxied HTTP exchange ended, as the proxy reports it. */
export type HttpOutcome = 'ok' | 'downstream_error' | 'timeout' | 'client_abort';

/** One finished HTTP exchange, as the proxy reports it. */
export interface HttpExchangeEvent {
  outcome: HttpOutcome;
  /** Status sent to the client; 0 when none was sent. */
  status: number;
  durationSec: number;
  /** Bytes received from the client. */
  bytesIn: number;
  /** Bytes sent to the client. */
  bytesOut: number;
}

/** What the HTTP proxy reports to metrics. */
export interface HttpMetricsObserver {
  exchange(e: HttpExchangeEvent): void;
  /** A request refused before it became an exchange (smuggling vector, header overflow, …). */
  rejected(reason: string): void;
  upgrade(event: 'open' | 'close' | 'error'): void;
  /** A request moved to another downstream endpoint after a connect-time failure. */
  retry(): void;
  websocket(e: { c2s: number; s2c: number; dropped: number; stopped: boolean }): void;
}

export const OUTCOMES: readonly HttpOutcome[] = ['ok', 'downstream_error', 'timeout', 'client_abort'];

/** Status classes as labelled; anything outside 2xx–5xx (0 = nothing sent, 1xx) counts as "other". */
export const CODE_CLASSES = ['other', '2xx', '3xx', '4xx', '5xx'] as const;

/**
 * From half a millisecond (a local cache hit through the proxy) to 30 s (the default downstream
 * response-header timeout): a proxy's latency spans five orders of magnitude.
 */
export const DURATION_BUCKETS = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
];

type HistogramChild = ReturnType<Histogram['labels']>;

const UPGRADE_EVENTS = ['open', 'close', 'error'] as const;
const RX = BYTES_SLOT.httpRx;
const TX = BYTES_SLOT.httpTx;

/**
 * HTTP listener metrics. `exchange()` runs once per proxied request, so it only indexes arrays;
 * the histogram children are resolved once here. `bytes` is the `qproxy_proxy_bytes_total`
 * counter shared with the TCP listener (see proxy-bytes.ts).
 */
export class HttpMetrics implements HttpMetricsObserver {
  private readonly requests: ScrapedCounter<'outcome' | 'code_class'>;
  private readonly durations: HistogramChild[] = [];
  private readonly bytes: ScrapedCounter<'protocol' | 'direction'>;
  private readonly upgrades: ScrapedCounter<'event'>;
  private readonly rejects: ReasonCounter;
  private readonly retries: ScrapedCounter<'protocol'>;
  private readonly wsMessages: ScrapedCounter<'direction'>;
  private readonly wsDropped: ScrapedCounter<never>;
  private readonly wsUnreadable: ScrapedCounter<never>;
  /** The last seconds of `qproxy_http_request_duration_seconds`, for `/api/status` traffic.latency_ms. */
  readonly recent = new RecentLatency({ buckets: DURATION_BUCKETS });

  constructor(registry: Registry, bytes: ScrapedCounter<'protocol' | 'direction'>) {
    const registers = [registry];
    this.bytes = bytes;
    this.requests = new ScrapedCounter(
      {
        name: 'qproxy_http_requests_total',
        help: 'HTTP exchanges proxied, by outcome and class of the status sent to the client.',
        labelNames: ['outcome', 'code_class'],
        registers,
      },
      OUTCOMES.flatMap((outcome) => CODE_CLASSES.map((code_class) => ({ outcome, code_class }))),
    );
    const duration = new Histogram({
      name: 'qproxy_http_request_duration_seconds',
      help: 'Time from request head received to last response byte sent (or failure), by outcome.',
      labelNames: ['outcome'] as const,
      buckets: DURATION_BUCKETS,
      registers,
    });
    for (const outcome of OUTCOMES) {
      duration.zero({ outcome });
      this.durations.push(duration.labels(outcome));
    }
    this.upgrades = new ScrapedCounter(
      {
        name: 'qproxy_http_upgrades_total',
        help: 'Upgraded connections (WebSocket and others) by event.',
        labelNames: ['event'],
        registers,
      },
      UPGRADE_EVENTS.map((event) => ({ event })),
    );
    this.rejects = new ReasonCounter({
      name: 'qproxy_http_rejected_total',
      help: 'HTTP requests refused before reaching a downstream, by reason.',
      registers,
    });
    // Labelled by protocol so the TCP proxy can share the name; only "http" is counted here.
    this.retries = new ScrapedCounter(
      {
        name: 'qproxy_downstream_retries_total',
        help: 'Requests sent to another downstream endpoint after a connect-time failure, by listener protocol.',
        labelNames: ['protocol'],
        registers,
      },
      [{ protocol: 'http' }],
    );
    this.wsMessages = new ScrapedCounter(
      {
        name: 'qproxy_http_websocket_messages_total',
        help: 'WebSocket messages recorded from relayed connections, by direction (c2s: client to downstream).',
        labelNames: ['direction'],
        registers,
      },
      [{ direction: 'c2s' }, { direction: 's2c' }],
    );
    this.wsDropped = new ScrapedCounter(
      { name: 'qproxy_http_websocket_messages_dropped_total', help: 'WebSocket messages counted but not kept: past recording.websocket.max_bytes.', labelNames: [], registers },
      [{}],
    );
    this.wsUnreadable = new ScrapedCounter(
      {
        name: 'qproxy_http_websocket_unreadable_total',
        help: 'Recorded WebSocket connections whose frames stopped being read at a framing or deflate fault (the relay went on).',
        labelNames: [],
        registers,
      },
      [{}],
    );
  }

  exchange(e: HttpExchangeEvent): void {
    const o = outcomeIndex(e.outcome);
    this.requests.add(o * CODE_CLASSES.length + codeClassIndex(e.status), 1);
    if (e.durationSec >= 0 && Number.isFinite(e.durationSec)) {
      this.durations[o]!.observe(e.durationSec);
      this.recent.observe(e.durationSec);
    }
    if (e.bytesIn > 0 && Number.isFinite(e.bytesIn)) this.bytes.add(RX, e.bytesIn);
    if (e.bytesOut > 0 && Number.isFinite(e.bytesOut)) this.bytes.add(TX, e.bytesOut);
  }

  rejected(reason: string): void {
    this.rejects.add(reason, 1);
  }

  upgrade(event: 'open' | 'close' | 'error'): void {
    const i = UPGRADE_EVENTS.indexOf(event);
    if (i >= 0) this.upgrades.add(i, 1);
  }

  retry(): void {
    this.retries.add(0, 1);
  }

  websocket(e: { c2s: number; s2c: number; dropped: number; stopped: boolean }): void {
    this.wsMessages.add(0, e.c2s);
    this.wsMessages.add(1, e.s2c);
    if (e.dropped > 0) this.wsDropped.add(0, e.dropped);
    if (e.stopped) this.wsUnreadable.add(0, 1);
  }

  /** Retries on another endpoint so far. */
  get retryCount(): number {
    return this.retries.value(0);
  }

  /** Exchanges seen, whatever their outcome. */
  get requestCount(): number {
    let n = 0;
    for (let i = 0; i < OUTCOMES.length * CODE_CLASSES.length; i++) n += this.requests.value(i);
    return n;
  }

  /** Exchanges whose outcome was not "ok". */
  get errorCount(): number {
    return this.requestCount - this.countOf(0);
  }

  get rxBytes(): number {
    return this.bytes.value(RX);
  }

  get txBytes(): number {
    return this.bytes.value(TX);
  }

  private countOf(outcome: number): number {
    let n = 0;
    for (let c = 0; c < CODE_CLASSES.length; c++) n += this.requests.value(outcome * CODE_CLASSES.length + c);
    return n;
  }
}

function outcomeIndex(outcome: HttpOutcome): number {
  switch (outcome) {
    case 'ok':
      return 0;
    case 'downstream_error':
      return 1;
    case 'timeout':
      return 2;
    case 'client_abort':
      return 3;
    default:
      // A caller outside the type system (plain JS, a future outcome) still counts, as an error.
      return 1;
  }
}

/** Position in {@link CODE_CLASSES}: 0 = other, 1..4 = 2xx..5xx. */
function codeClassIndex(status: number): number {
  const hundreds = Math.floor(status / 100);
  return hundreds >= 2 && hundreds <= 5 ? hundreds - 1 : 0;
}
