/**
 * `balancing`: how a listener spreads connections over its downstreams (the discovery component).
 * One definition serves `http` and `tcp`; the HTTP variant adds the health-check request path.
 * Defaults follow reliability.md §1.8: Envoy's outlier detection (5 consecutive failures, 30 s
 * base ejection, doubling) and HAProxy's rise 2 / fall 3.
 */
import { z } from 'zod';
import { count } from './fields.js';
import { MAX_TIMER_MS, duration } from './units.js';

const POLICIES = ['round_robin', 'least_connections'] as const;

function timer(def: string, what: string, min = 1) {
  return duration({ example: def, min, max: MAX_TIMER_MS })
    .prefault(def)
    .describe(`${what} Default "${def}". At most "24d".`);
}

const healthCheckFields = {
  enabled: z
    .boolean({ error: 'expected true or false' })
    .default(false)
    .describe('Probe every downstream address in the background and take failing ones out of rotation. Default false.'),
  interval: timer('5s', 'Time between two checks of one address.'),
  timeout: timer('2s', 'A check that has not succeeded by then failed.'),
  rise: count(1, 100).default(2).describe('Passing checks in a row that bring an unhealthy address back. Default 2.'),
  fall: count(1, 100).default(3).describe('Failed checks in a row that take a healthy address out. Default 3.'),
};

const httpPathError = 'expected a request path starting with "/", like "/healthz"';

const passiveSchema = z
  .strictObject({
    failures: count(0, 1000)
      .default(5)
      .describe('Consecutive connect failures that eject an address from rotation. 0 turns passive ejection off. Default 5.'),
    ejection: timer('30s', 'How long the first ejection lasts; each further one doubles, up to max_ejection.'),
    max_ejection: timer('5m', 'Longest ejection; also how long an address must behave before its back-off starts over.'),
  })
  .prefault({})
  .describe('Passive ejection: addresses that keep failing to connect are taken out for a while.');

/**
 * The `balancing` section of a listener. `http: true` adds `health_check.path` (HTTP checks send
 * a GET there); TCP listeners check by connecting.
 */
export function balancingSchema(opts: { http: boolean }) {
  const path = z
    .string({ error: httpPathError })
    .regex(/^\/[\x21-\x7e]*$/, { error: httpPathError })
    .default('/')
    .describe('Path of the HTTP GET each check sends; 2xx and 3xx answers pass. Default "/".');
  const checkDescription = opts.http
    ? 'Active health checks: an HTTP GET of path on every downstream address.'
    : 'Active health checks: a TCP connect to every downstream address.';
  const healthCheck = (opts.http ? z.strictObject({ ...healthCheckFields, path }) : z.strictObject(healthCheckFields))
    .prefault({})
    .describe(checkDescription);
  return z
    .strictObject({
      policy: z
        .enum(POLICIES, { error: `expected one of ${POLICIES.map((p) => `"${p}"`).join(', ')}` })
        .default('round_robin')
        .describe('How an address is chosen: "round_robin" (default) or "least_connections" (fewest in flight).'),
      resolve_interval: timer('30s', 'How often downstream host names are looked up again (every address becomes an endpoint). 0 = resolve once.', 0),
      health_check: healthCheck,
      passive: passiveSchema,
    })
    .prefault({})
    .describe('Load balancing over the downstream addresses, health checks and ejection. Defaults apply when absent.');
}

/** The parsed `balancing` of either listener (`health_check.path` only on HTTP). */
export type BalancingConfig = z.output<ReturnType<typeof balancingSchema>>;
