import { ConfigError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import type { PassiveOptions } from './endpoint.js';
import type { PolicyName } from './policy.js';
import { policies } from './policy.js';
import type { HealthCheckOptions } from './probe.js';
import type { Lookup } from './resolve.js';
import type { DiscoveryTarget } from './target.js';


/** Everything a {@link Discovery} needs, passed in by the composition root. */
export interface DiscoveryOptions {
  /** Parsed downstreams (see `parseHttpTarget` / `parseTcpTarget`); at least one. */
  targets: DiscoveryTarget[];
  /** How `pick()` chooses among available endpoints. */
  policy: PolicyName;
  /** How often host names are looked up again; 0 = resolve once (names that failed are still retried). */
  resolveIntervalMs: number;
  /** null = no active checks (endpoints start healthy). */
  healthCheck: HealthCheckOptions | null;
  /** Passive ejection after consecutive connect failures (see `reportFailure`). */
  passive: PassiveOptions;
  /** injectable for tests; default dns.promises.lookup(host, {all:true}) */
  lookup?: Lookup;
  /** Where endpoint changes are reported. */
  logger?: Pick<Logger, 'info' | 'warn'>;
  /** Clock for ejection back-off, in ms since the epoch; default `Date.now`. */
  now?: () => number;
}

function check(ok: boolean, field: string, expected: string, got: unknown): void {
  if (!ok) throw new ConfigError(`discovery ${field}: got ${JSON.stringify(got)} — expected ${expected}`);
}

function isInt(n: number, min: number): boolean {
  return Number.isSafeInteger(n) && n >= min;
}

/**
 * Refuses options no run could work with. Config validation should have caught these already;
 * this keeps a bad call from turning into a silent busy loop or a pool that never picks.
 *
 * @throws ConfigError naming the field.
 */
export function validateOptions(o: DiscoveryOptions): void {
  check(o.targets.length > 0, 'targets', 'at least one downstream', o.targets.length);
  check(Object.hasOwn(policies, o.policy), 'policy', `one of ${Object.keys(policies).join(', ')}`, o.policy);
  check(isInt(o.resolveIntervalMs, 0), 'resolveIntervalMs', 'an integer >= 0 (0 = resolve once)', o.resolveIntervalMs);
  const p = o.passive;
  check(isInt(p.consecutiveFailures, 0), 'passive.consecutiveFailures', 'an integer >= 0 (0 = off)', p.consecutiveFailures);
  check(isInt(p.baseEjectionMs, 1), 'passive.baseEjectionMs', 'an integer >= 1', p.baseEjectionMs);
  check(isInt(p.maxEjectionMs, p.baseEjectionMs), 'passive.maxEjectionMs', `an integer >= baseEjectionMs (${p.baseEjectionMs})`, p.maxEjectionMs);
  const hc = o.healthCheck;
  if (hc === null) return;
  check(hc.kind === 'tcp' || hc.kind === 'http', 'healthCheck.kind', '"tcp" or "http"', hc.kind);
  check(hc.kind === 'tcp' || hc.path.startsWith('/'), 'healthCheck.path', 'a path starting with "/"', hc.path);
  check(isInt(hc.intervalMs, 1), 'healthCheck.intervalMs', 'an integer >= 1', hc.intervalMs);
  check(isInt(hc.timeoutMs, 1), 'healthCheck.timeoutMs', 'an integer >= 1', hc.timeoutMs);
  check(isInt(hc.rise, 1), 'healthCheck.rise', 'an integer >= 1', hc.rise);
  check(isInt(hc.fall, 1), 'healthCheck.fall', 'an integer >= 1', hc.fall);
}
