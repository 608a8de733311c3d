import { QProxyError, errorMessage } from '../core/errors.js';
import type { EndpointStatus } from '../core/documents.js';
import type { Endpoint, PassiveOptions } from './endpoint.js';
import { EndpointState } from './endpoint.js';
import type { Logger } from '../core/log.js';
import type { DiscoveryOptions } from './options.js';
import { validateOptions } from './options.js';
import type { SelectionPolicy } from './policy.js';
import { policies } from './policy.js';
import type { HealthCheckOptions } from './probe.js';
import { probe } from './probe.js';
import type { Lookup } from './resolve.js';
import { isLiteral, resolveAddresses, systemLookup } from './resolve.js';
import type { DiscoveryTarget } from './target.js';
import { formatHostPort } from './target.js';

/** How soon a host name that never resolved is tried again when `resolveIntervalMs` is 0 or longer. */
const UNRESOLVED_RETRY_MS = 5_000;

/** Endpoint rows plus `panic`: true when nothing is available and pick() is trying every endpoint. */
export type DiscoverySnapshot = EndpointStatus[] & { panic: boolean };

const silent: Pick<Logger, 'info' | 'warn'> = { info: () => undefined, warn: () => undefined };

function nonEmpty<T>(a: T[]): a is [T, ...T[]] {
  return a.length > 0;
}

/**
 * The downstream endpoints of one listener: DNS resolution, load balancing, active health checks
 * and passive ejection (Envoy outlier detection with a doubling back-off and a panic mode).
 *
 * ```
 * targets ──DNS──▶ endpoints ──(healthy ∧ ¬ejected ∧ ¬retiring)──▶ candidates ──policy──▶ pick()
 *                                  none available? panic: every live endpoint is a candidate
 * ```
 *
 * Callers pick, `acquire` for the duration of the use, and report connect outcomes; on a connect
 * failure they may pick again excluding the keys already tried.
 *
 * The active verdict and passive ejection are kept apart (as in caddy): a passing check does not
 * cut an ejection short. Two targets resolving to the same address:port give two endpoints with
 * one key; excluding the key skips both, which is what a retry after a connect failure wants.
 */
export class Discovery {
  readonly #targets: readonly DiscoveryTarget[];
  readonly #policy: SelectionPolicy;
  readonly #hc: HealthCheckOptions | null;
  readonly #passive: PassiveOptions;
  readonly #resolveIntervalMs: number;
  readonly #lookup: Lookup;
  readonly #log: Pick<Logger, 'info' | 'warn'>;
  readonly #now: () => number;
  /** Per target, endpoints by key; Map order (resolver order) is the order round-robin follows. */
  readonly #byTarget: Array<Map<string, EndpointState>>;
  readonly #everResolved: boolean[];
  readonly #checks = new Set<Promise<unknown>>();
  readonly #abort = new AbortController();
  #all: EndpointState[] = [];
  #turn = 0;
  #panic = false;
  #closed = false;
  #resolveTimer: NodeJS.Timeout | null = null;
  #healthTimer: NodeJS.Timeout | null = null;
  #started: Promise<void> | null = null;
  #closing: Promise<void> | null = null;

  /** @throws ConfigError when an option can never work (no targets, rise 0, …). */
  constructor(opts: DiscoveryOptions) {
    validateOptions(opts);
    this.#targets = [...opts.targets];
    this.#policy = policies[opts.policy];
    this.#hc = opts.healthCheck;
    this.#passive = { ...opts.passive };
    this.#resolveIntervalMs = opts.resolveIntervalMs;
    this.#lookup = opts.lookup ?? systemLookup;
    this.#log = opts.logger ?? silent;
    this.#now = opts.now ?? Date.now;
    this.#byTarget = this.#targets.map(() => new Map<string, EndpointState>());
    this.#everResolved = this.#targets.map(() => false);
  }

  /**
   * Resolves every target, then (with active checks) waits for the first round of checks, each
   * bounded by `timeoutMs`, so the first pick already avoids dead endpoints. Calling it again
   * returns the same promise.
   *
   * @throws QProxyError `QP_ERR_DISCOVERY` naming the hosts, only when no target resolved; when
   * some did, the others are logged and retried in the background.
   */
  start(): Promise<void> {
    this.#started ??= this.#start();
    return this.#started;
  }

  /**
   * An endpoint to use: an available one by the policy, or in panic mode any live one. Keys in
   * `exclude` (endpoints already tried for this request) are skipped; null when nothing is left.
   */
  pick(exclude?: ReadonlySet<string>): Endpoint | null {
    let pool = this.#refresh(this.#now());
    if (exclude !== undefined && exclude.size > 0) pool = pool.filter((ep) => !exclude.has(ep.key));
    return nonEmpty(pool) ? this.#policy(pool, this.#turn++) : null;
  }

  /** Marks the start of use (least-connections bookkeeping); returns a release function to call once. */
  acquire(ep: Endpoint): () => void {
    const state = own(ep);
    state.active++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      state.active--;
      if (state.retiring && state.active === 0) this.#remove(state);
    };
  }

  /** The endpoint accepted a connection: its run of consecutive failures is over. */
  reportSuccess(ep: Endpoint): void {
    own(ep).recordSuccess();
  }

  /** A connect-time failure (refused, timeout, reset before bytes); enough in a row eject it. */
  reportFailure(ep: Endpoint): void {
    const state = own(ep);
    const ms = state.recordFailure(this.#now(), this.#passive);
    if (ms === null) return;
    this.#log.warn(
      { endpoint: state.key, target: state.target.label, ejection_ms: ms, total_failures: state.totalFailures },
      'downstream endpoint ejected after consecutive connect failures',
    );
  }

  /** Every endpoint (retiring ones too), with `panic` on the array. */
  snapshot(): DiscoverySnapshot {
    this.#refresh(this.#now());
    const rows = this.#all.map((ep) => ({
      endpoint: ep.key,
      target: ep.target.label,
      healthy: ep.healthy,
      ejected_until: ep.ejectedUntil === null ? null : new Date(ep.ejectedUntil).toISOString(),
      active: ep.active,
      consecutive_failures: ep.consecutiveFailures,
      total_failures: ep.totalFailures,
      state: ep.state,
      retiring: ep.retiring,
    }));
    return Object.assign(rows, { panic: this.#panic });
  }

  /** True while no endpoint is available and pick() falls back to all of them. */
  get panic(): boolean {
    this.#refresh(this.#now());
    return this.#panic;
  }

  /** Stops re-resolution and health checks, aborting checks in flight. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #start(): Promise<void> {
    if (this.#closed) throw new QProxyError('QP_ERR_DISCOVERY', 'discovery was closed before start(); create a new one');
    const failures = await this.#resolve(this.#targets.map((_, i) => i));
    if (this.#closed) return;
    if (this.#all.length === 0) {
      const hosts = failures.map((f) => `${f.target.host} (${f.error})`).join(', ');
      throw new QProxyError('QP_ERR_DISCOVERY', `no downstream host resolved: ${hosts}; check the names and DNS, or give IP addresses`);
    }
    this.#logFailures(failures);
    this.#scheduleResolve();
    await this.#startHealthChecks();
  }

  async #close(): Promise<void> {
    this.#closed = true;
    if (this.#resolveTimer !== null) clearTimeout(this.#resolveTimer);
    if (this.#healthTimer !== null) clearInterval(this.#healthTimer);
    this.#resolveTimer = null;
    this.#healthTimer = null;
    this.#abort.abort();
    await Promise.allSettled([...this.#checks]);
  }

  /** Re-admits endpoints whose back-off passed, updates panic, and returns the candidates. */
  #refresh(now: number): EndpointState[] {
    const available: EndpointState[] = [];
    for (const ep of this.#all) {
      if (ep.retiring) continue;
      if (ep.readmitIfDue(now)) this.#log.info({ endpoint: ep.key, target: ep.target.label }, 'downstream endpoint re-admitted after ejection');
      if (ep.available) available.push(ep);
    }
    const panic = available.length === 0 && this.#all.some((ep) => !ep.retiring);
    if (panic !== this.#panic) {
      this.#panic = panic;
      if (panic) this.#log.warn({ endpoints: this.#all.length }, 'every downstream endpoint is unhealthy or ejected; panic mode: trying all of them');
      else this.#log.info({ available: available.length }, 'downstream endpoints available again; panic mode over');
    }
    return panic ? this.#all.filter((ep) => !ep.retiring) : available;
  }

  /** Looks the given targets up; applies what resolved and returns what did not. Never rejects. */
  async #resolve(indices: number[]): Promise<Array<{ target: DiscoveryTarget; error: string }>> {
    const results = await Promise.all(
      indices.map(async (i) => {
        const target = this.#targets[i] as DiscoveryTarget;
        try {
          const addresses = await resolveAddresses(target, this.#lookup);
          if (!this.#closed) this.#apply(i, addresses);
          return null;
        } catch (err) {
          return { target, error: errorMessage(err) };
        }
      }),
    );
    return results.filter((r) => r !== null);
  }

  #logFailures(failures: Array<{ target: DiscoveryTarget; error: string }>): void {
    for (const f of failures) {
      this.#log.warn({ target: f.target.label, err: f.error }, 'downstream host did not resolve; keeping its known addresses and retrying');
    }
  }

  #scheduleResolve(): void {
    if (this.#closed) return;
    const pending = this.#everResolved.includes(false);
    const delay = pending ? Math.min(this.#resolveIntervalMs || UNRESOLVED_RETRY_MS, UNRESOLVED_RETRY_MS) : this.#resolveIntervalMs;
    if (delay === 0) return;
    this.#resolveTimer = setTimeout(() => void this.#reresolve(), delay);
    this.#resolveTimer.unref();
  }

  async #reresolve(): Promise<void> {
    this.#resolveTimer = null;
    const due = [...this.#targets.keys()].filter((i) => !this.#everResolved[i] || (this.#resolveIntervalMs > 0 && !isLiteral(this.#targets[i] as DiscoveryTarget)));
    this.#logFailures(await this.#resolve(due));
    this.#scheduleResolve();
  }

  /** Makes target `i`'s endpoints match `addresses`: new ones added, vanished ones retired. */
  #apply(i: number, addresses: string[]): void {
    this.#everResolved[i] = true;
    const target = this.#targets[i] as DiscoveryTarget;
    const byKey = this.#byTarget[i] as Map<string, EndpointState>;
    const wanted = new Map(addresses.map((a) => [formatHostPort(a, target.port), a]));
    const added: EndpointState[] = [];
    for (const [key, address] of wanted) {
      const known = byKey.get(key);
      if (known !== undefined) {
        if (known.retiring) this.#log.info({ endpoint: key, target: target.label }, 'downstream endpoint back in DNS; no longer retiring');
        known.retiring = false;
        continue;
      }
      const ep = new EndpointState(target, address);
      byKey.set(key, ep);
      added.push(ep);
      this.#log.info({ endpoint: key, target: target.label }, 'downstream endpoint added');
    }
    let removed = false;
    for (const [key, ep] of byKey) {
      if (wanted.has(key) || ep.retiring) continue;
      this.#log.info({ endpoint: key, target: target.label, active: ep.active }, 'downstream endpoint left DNS; retiring it once idle');
      ep.retiring = true;
      if (ep.active === 0) byKey.delete(key);
      removed = true;
    }
    if (added.length > 0 || removed) this.#all = this.#byTarget.flatMap((m) => [...m.values()]);
    if (this.#healthTimer !== null) for (const ep of added) void this.#check(ep);
  }

  #remove(ep: EndpointState): void {
    const byKey = this.#byTarget[this.#targets.indexOf(ep.target)];
    if (byKey?.get(ep.key) !== ep) return;
    byKey.delete(ep.key);
    this.#all = this.#byTarget.flatMap((m) => [...m.values()]);
  }

  async #startHealthChecks(): Promise<void> {
    const hc = this.#hc;
    if (hc === null) return;
    this.#healthTimer = setInterval(() => void this.#checkAll(), hc.intervalMs);
    this.#healthTimer.unref();
    await this.#checkAll();
  }

  async #checkAll(): Promise<void> {
    await Promise.all(this.#all.filter((ep) => !ep.retiring).map((ep) => this.#check(ep)));
  }

  /** One active check of `ep`, unless one is already in flight. */
  async #check(ep: EndpointState): Promise<void> {
    const hc = this.#hc;
    if (hc === null || ep.checking || this.#closed) return;
    ep.checking = true;
    const run: Promise<boolean> = probe(ep, hc, this.#abort.signal).finally(() => {
      ep.checking = false;
      this.#checks.delete(run);
    });
    this.#checks.add(run);
    const ok = await run;
    if (this.#closed) return;
    const streak = ep.recordCheck(ok, hc.rise, hc.fall);
    if (streak === null) return;
    const fields = { endpoint: ep.key, target: ep.target.label, checks_in_a_row: streak };
    if (ep.healthy) this.#log.info(fields, 'downstream endpoint passed its health checks; back in rotation');
    else this.#log.warn(fields, 'downstream endpoint failed its health checks; out of rotation');
  }
}

function own(ep: Endpoint): EndpointState {
  if (ep instanceof EndpointState) return ep;
  throw new QProxyError('QP_ERR_DISCOVERY', `endpoint ${ep.key} did not come from Discovery.pick(); pass the object pick() returned`);
}
