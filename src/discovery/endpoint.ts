import type { EndpointStatus } from '../core/documents.js';
import type { DiscoveryTarget } from './target.js';
import { formatHostPort } from './target.js';

/** One resolved address of a target: what the proxy connects to. */
export interface Endpoint {
  /** `"10.0.0.5:8081"`, `"[::1]:8081"`: what `pick(exclude)` matches on. */
  readonly key: string;
  readonly target: DiscoveryTarget;
  /** Resolved IP address. */
  readonly address: string;
  readonly port: number;
  /** Connections/requests in flight (between `acquire` and its release). */
  readonly active: number;
}

/** Passive outlier detection settings (Envoy `consecutive_gateway_failure` + `base_ejection_time`). */
export interface PassiveOptions {
  /** Consecutive connect failures that eject an endpoint; 0 turns passive ejection off. */
  consecutiveFailures: number;
  /** First ejection lasts this long; each further ejection doubles it. */
  baseEjectionMs: number;
  /** Upper bound of one ejection; also how long an endpoint must stay in service to be forgiven. */
  maxEjectionMs: number;
}

export type EndpointStateName = EndpointStatus['state'];

/**
 * Mutable state behind an {@link Endpoint}: in-flight count, the active-check verdict and passive
 * outlier detection. Kept apart from selection so policies stay pure (style practice 10).
 */
export class EndpointState implements Endpoint {
  readonly key: string;
  readonly target: DiscoveryTarget;
  readonly address: string;
  readonly port: number;
  active = 0;
  /** Verdict of active checks; stays true when none are configured. */
  healthy = true;
  /** Set once an active check has reported; before that one failed check marks it unhealthy. */
  checked = false;
  /** A check is in flight: never start a second one. */
  checking = false;
  /** The address left DNS: no new picks, removed once `active` drops to 0. */
  retiring = false;
  consecutiveFailures = 0;
  totalFailures = 0;
  ejectedUntil: number | null = null;
  #checkStreak = 0;
  #ejections = 0;
  #lastEjectionEnd: number | null = null;

  constructor(target: DiscoveryTarget, address: string) {
    this.target = target;
    this.address = address;
    this.port = target.port;
    this.key = formatHostPort(address, target.port);
  }

  /** Whether pick() may choose it outside panic mode. Call `readmitIfDue` first. */
  get available(): boolean {
    return this.healthy && this.ejectedUntil === null && !this.retiring;
  }

  get state(): EndpointStateName {
    if (this.ejectedUntil !== null) return 'ejected';
    return this.healthy ? 'healthy' : 'unhealthy';
  }

  /**
   * Applies one active check result with rise/fall thresholds; returns the check streak when the
   * verdict flipped, else null. The first result decides alone (HAProxy's initial state): a new
   * endpoint must not take `fall` intervals of traffic before a dead address is noticed.
   */
  recordCheck(ok: boolean, rise: number, fall: number): number | null {
    const first = !this.checked;
    this.checked = true;
    // Positive: successes in a row; negative: failures in a row.
    if (ok) this.#checkStreak = this.#checkStreak > 0 ? this.#checkStreak + 1 : 1;
    else this.#checkStreak = this.#checkStreak < 0 ? this.#checkStreak - 1 : -1;
    const streak = Math.abs(this.#checkStreak);
    if (ok && !this.healthy && streak >= rise) {
      this.healthy = true;
      return streak;
    }
    if (!ok && this.healthy && (first || streak >= fall)) {
      this.healthy = false;
      return streak;
    }
    return null;
  }

  /**
   * Counts a connect-time failure; returns the ejection length in ms when this failure ejected the
   * endpoint. Failures while already ejected (connections that were under way) do not extend it.
   */
  recordFailure(now: number, passive: PassiveOptions): number | null {
    this.totalFailures++;
    this.consecutiveFailures++;
    if (passive.consecutiveFailures <= 0 || this.ejectedUntil !== null) return null;
    if (this.consecutiveFailures < passive.consecutiveFailures) return null;
    // Envoy lowers its ejection multiplier while a host behaves; here a host that stayed in service
    // for a whole maxEjectionMs starts again from the base back-off.
    if (this.#lastEjectionEnd !== null && now - this.#lastEjectionEnd >= passive.maxEjectionMs) this.#ejections = 0;
    this.#ejections++;
    const ms = Math.min(passive.maxEjectionMs, passive.baseEjectionMs * 2 ** Math.min(this.#ejections - 1, 40));
    this.ejectedUntil = now + ms;
    this.consecutiveFailures = 0;
    return ms;
  }

  recordSuccess(): void {
    this.consecutiveFailures = 0;
  }

  /** Ends an ejection whose back-off has passed; true when it did. */
  readmitIfDue(now: number): boolean {
    if (this.ejectedUntil === null || now < this.ejectedUntil) return false;
    this.#lastEjectionEnd = this.ejectedUntil;
    this.ejectedUntil = null;
    return true;
  }
}
