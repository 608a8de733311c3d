import { Gauge, Histogram } from 'prom-client';
import type { Registry } from 'prom-client';
import type { ResultStatus } from '../core/documents.js';
import { RESULT_STATUSES, type PlaybackObserver } from '../playback/index.js';
import { ScrapedCounter } from './scraped-counter.js';

export type { PlaybackObserver } from '../playback/index.js';

const PROTOCOLS = ['http', 'tcp'] as const;
type Protocol = (typeof PROTOCOLS)[number];
const SERVE_OUTCOMES = ['hit', 'miss', 'forwarded'] as const;

/** Difference kinds are free text ("json $.price"); the metric keeps only their category. */
const CATEGORIES = ['status', 'header', 'json', 'body', 'outcome', 'stream', 'other'] as const;

/** Replayed request durations: a loopback answer (ms) to a slow zone-B service (tens of seconds). */
export const REPLAY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
/** Scheduler lateness: the target is p99 ≤ 5 ms, so the buckets are fine around it. */
export const LATENESS_BUCKETS = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5];

/** Figures read on every scrape. */
export interface PlaybackGauges {
  /** matched / replayed since start, null before anything was replayed. */
  successRatio: number | null;
  /** Replayed requests (sessions) in flight now. */
  inFlight: number;
}

function category(kind: string): (typeof CATEGORIES)[number] {
  const first = kind.split(' ', 1)[0] ?? '';
  return (CATEGORIES as readonly string[]).includes(first) ? (first as (typeof CATEGORIES)[number]) : 'other';
}

/**
 * `qproxy_playback_*`: results by protocol and outcome, differences by category, replayed request
 * durations, scheduler lateness, serving hits and misses, success ratio and in-flight requests.
 */
export class PlaybackMetrics implements PlaybackObserver {
  private readonly results: ScrapedCounter<'protocol' | 'outcome'>;
  private readonly differences: ScrapedCounter<'category'>;
  private readonly serves: ScrapedCounter<'protocol' | 'outcome'>;
  private readonly durations: Record<Protocol, ReturnType<Histogram['labels']>>;
  private readonly latenessHistogram: Histogram;
  private gauges: (() => PlaybackGauges) | null = null;

  constructor(registry: Registry) {
    const registers = [registry];
    this.results = new ScrapedCounter(
      {
        name: 'qproxy_playback_results_total',
        help: 'Replayed records by outcome: match, mismatch, failed (no answer), skipped, dry_run, missing.',
        labelNames: ['protocol', 'outcome'],
        registers,
      },
      PROTOCOLS.flatMap((protocol) => RESULT_STATUSES.map((outcome) => ({ protocol, outcome }))),
    );
    this.differences = new ScrapedCounter(
      {
        name: 'qproxy_playback_differences_total',
        help: 'Differences found in mismatched answers, by category (status, header, json, body, outcome, stream).',
        labelNames: ['category'],
        registers,
      },
      CATEGORIES.map((c) => ({ category: c })),
    );
    this.serves = new ScrapedCounter(
      {
        name: 'qproxy_playback_served_total',
        help: 'Requests (connections) answered by a serving listener: hit (recorded answer), miss, forwarded.',
        labelNames: ['protocol', 'outcome'],
        registers,
      },
      PROTOCOLS.flatMap((protocol) => SERVE_OUTCOMES.map((outcome) => ({ protocol, outcome }))),
    );
    const duration = new Histogram({
      name: 'qproxy_playback_request_duration_seconds',
      help: 'Replayed requests: time to the response head (HTTP) or session length (TCP), failures included.',
      labelNames: ['protocol'] as const,
      buckets: REPLAY_BUCKETS,
      registers,
    });
    this.durations = { http: duration.labels('http'), tcp: duration.labels('tcp') };
    this.latenessHistogram = new Histogram({
      name: 'qproxy_playback_lateness_seconds',
      help: 'How late the replay scheduler started requests against their target time (recorded timing or fixed rate).',
      buckets: LATENESS_BUCKETS,
      registers,
    });
    const read = <K extends keyof PlaybackGauges>(key: K): PlaybackGauges[K] | null => {
      try {
        return this.gauges?.()[key] ?? null;
      } catch {
        return null;
      }
    };
    new Gauge({
      name: 'qproxy_playback_success_ratio',
      help: 'Matched / replayed since start (0..1); absent before anything was replayed.',
      registers,
      collect() {
        const v = read('successRatio');
        if (v !== null) this.set(v);
      },
    });
    new Gauge({
      name: 'qproxy_playback_in_flight',
      help: 'Replayed requests (sessions) waiting for their answer now.',
      registers,
      collect() {
        this.set(read('inFlight') ?? 0);
      },
    });
  }

  /** Source of the gauges; called once by the wiring. */
  setGauges(fn: () => PlaybackGauges): void {
    this.gauges = fn;
  }

  result(protocol: 'http' | 'tcp', status: ResultStatus, kinds: readonly string[]): void {
    const p = PROTOCOLS.indexOf(protocol);
    const s = RESULT_STATUSES.indexOf(status);
    if (p >= 0 && s >= 0) this.results.add(p * RESULT_STATUSES.length + s, 1);
    for (const k of kinds) this.differences.add(CATEGORIES.indexOf(category(k)), 1);
  }

  replayed(protocol: 'http' | 'tcp', seconds: number): void {
    if (seconds >= 0 && Number.isFinite(seconds)) this.durations[protocol]?.observe(seconds);
  }

  lateness(seconds: number): void {
    if (seconds >= 0 && Number.isFinite(seconds)) this.latenessHistogram.observe(seconds);
  }

  served(protocol: 'http' | 'tcp', outcome: 'hit' | 'miss' | 'forwarded'): void {
    const p = PROTOCOLS.indexOf(protocol);
    const o = SERVE_OUTCOMES.indexOf(outcome);
    if (p >= 0 && o >= 0) this.serves.add(p * SERVE_OUTCOMES.length + o, 1);
  }
}
