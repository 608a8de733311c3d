import { Sampler, type SampleOptions } from './sampler.js';
import { CompiledRule, HeadView, type HttpRequestHead, type SelectionRule, type TcpSessionHead } from './selection-rules.js';

export type { HttpRequestHead, SelectionRule, TcpSessionHead } from './selection-rules.js';
export type { SampleKey, SampleOptions } from './sampler.js';

/**
 * Which exchanges and sessions are recorded: `recording.include`, `recording.exclude` and
 * `recording.sample`, decided once per HTTP request head or TCP accept — before any body byte is
 * read — so that a skipped exchange takes the proxy's no-recording path (no body capture, no
 * record). Order: not matched by any include rule (when there are some) → `not_included`;
 * matched by an exclude rule → `excluded`; not drawn by the sample → `sampled_out`.
 *
 * @module
 */

/** Why an exchange or session was not recorded. A closed set: it labels a metric. */
export type SkipReason = 'not_included' | 'excluded' | 'sampled_out';

export const SKIP_REASONS: readonly SkipReason[] = ['not_included', 'excluded', 'sampled_out'];

/** Told about every skip, e.g. to count it. */
export interface SelectionObserver {
  skipped(protocol: 'http' | 'tcp', reason: SkipReason): void;
}

export interface SelectionOptions {
  /** When not empty, only what one of these matches is recorded. */
  include: readonly SelectionRule[];
  /** What one of these matches is not recorded. */
  exclude: readonly SelectionRule[];
  sample: SampleOptions;
  observer?: SelectionObserver;
  /** For the tests: the random draw of unkeyed sampling. */
  random?: () => number;
}

export class RecordingSelector {
  private readonly include: readonly CompiledRule[];
  private readonly exclude: readonly CompiledRule[];
  private readonly sampler: Sampler;
  private readonly observer: SelectionObserver | undefined;

  private constructor(opts: SelectionOptions) {
    this.include = opts.include.map((r) => new CompiledRule(r));
    this.exclude = opts.exclude.map((r) => new CompiledRule(r));
    this.sampler = new Sampler(opts.sample, opts.random);
    this.observer = opts.observer;
  }

  /** The selector for these options, or null when they select everything (no rules, rate 1). */
  static create(opts: SelectionOptions): RecordingSelector | null {
    const selector = new RecordingSelector(opts);
    return selector.include.length === 0 && selector.exclude.length === 0 && selector.sampler.all ? null : selector;
  }

  /** True when this HTTP exchange is to be recorded; a skip is counted. Never throws. */
  http(head: HttpRequestHead): boolean {
    const view = new HeadView(head);
    let reason: SkipReason | null;
    try {
      if (this.include.length > 0 && !this.include.some((r) => r.matchesHttp(view))) reason = 'not_included';
      else if (this.exclude.some((r) => r.matchesHttp(view))) reason = 'excluded';
      else reason = this.sampler.http(view) ? null : 'sampled_out';
    } catch {
      // A rule that cannot read a head: record it rather than lose it silently.
      reason = null;
    }
    return this.decided('http', reason);
  }

  /** True when this TCP session is to be recorded; a skip is counted. Never throws. */
  tcp(head: TcpSessionHead): boolean {
    let reason: SkipReason | null;
    try {
      if (this.include.length > 0 && !this.include.some((r) => r.matchesTcp(head))) reason = 'not_included';
      else if (this.exclude.some((r) => r.matchesTcp(head))) reason = 'excluded';
      else reason = this.sampler.tcp(head) ? null : 'sampled_out';
    } catch {
      reason = null;
    }
    return this.decided('tcp', reason);
  }

  private decided(protocol: 'http' | 'tcp', reason: SkipReason | null): boolean {
    if (reason === null) return true;
    try {
      this.observer?.skipped(protocol, reason);
    } catch {
      // counting is best effort; the decision stands
    }
    return false;
  }
}
