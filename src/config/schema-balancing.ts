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

const healthCheckPath = z
  .string({ error: httpPathError })
  .regex(/^\/[\x21-\x7e]*$/, { error: httpPathError })
  .default('/')
  .describe('Path of the HTTP GET each check sends; 2xx and 3xx answers pass. Default "/".');

const policy = z
  .enum(POLICIES, { error: `expected one of ${POLICIES.map((p) => `"${p}"`).join(', ')}` })
  .default('round_robin')
  .describe('How an address is chosen: "round_robin" (default) or "least_connections" (fewest in flight).');
const resolveInterval = timer('30s', 'How often downstream host names are looked up again (every address becomes an endpoint). 0 = resolve once.', 0);
const BALANCING_DESCRIPTION = 'Load balancing over the downstream addresses, health checks and ejection. Defaults apply when absent.';

/** `http.balancing`: HTTP health checks send a GET to `health_check.path`. */
export const httpBalancingSchema = z
  .strictObject({
    policy,
    resolve_interval: resolveInterval,
    health_check: z
      .strictObject({ ...healthCheckFields, path: healthCheckPath })
      .prefault({})
      .describe('Active health checks: an HTTP GET of path on every downstream address.'),
    passive: passiveSchema,
  })
  .prefault({})
  .describe(BALANCING_DESCRIPTION);

/** `tcp.balancing`: TCP health checks connect. */
export const tcpBalancingSchema = z
  .strictObject({
    policy,
    resolve_interval: resolveInterval,
    health_check: z.strictObject(healthCheckFields).prefault({}).describe('Active health checks: a TCP connect to every downstream address.'),
    passive: passiveSchema,
  })
  .prefault({})
  .describe(BALANCING_DESCRIPTION);

/** The parsed `balancing` of either listener (`health_check.path` only on HTTP). */
export type BalancingConfig = z.output<typeof httpBalancingSchema> | z.output<typeof tcpBalancingSchema>;
