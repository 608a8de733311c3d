import type { Endpoint } from './endpoint.js';

/** Load-balancing policies a {@link DiscoveryOptions} may name. */
export type PolicyName = 'round_robin' | 'least_connections';

/**
 * Picks one endpoint from a non-empty candidate list. `turn` grows by one on every pick, which
 * lets stateless policies rotate; a policy never mutates its inputs, so it can be tested on plain
 * objects without sockets.
 */
export type SelectionPolicy = <E extends Endpoint>(candidates: readonly [E, ...E[]], turn: number) => E;

/** Each candidate in turn (caddy `round_robin`). */
export const roundRobin: SelectionPolicy = (candidates, turn) => candidates[turn % candidates.length] ?? candidates[0];

/**
 * Fewest in-flight uses. Ties rotate with `turn` instead of always taking the first, so an idle
 * pool still spreads like round-robin (caddy and undici break ties for the same reason).
 */
export const leastConnections: SelectionPolicy = (candidates, turn) => {
  let least = candidates[0].active;
  let ties = 0;
  for (const c of candidates) {
    if (c.active < least) {
      least = c.active;
      ties = 1;
    } else if (c.active === least) {
      ties++;
    }
  }
  let skip = turn % ties;
  for (const c of candidates) {
    if (c.active === least && skip-- === 0) return c;
  }
  return candidates[0];
};

/** The registry `DiscoveryOptions.policy` names into. */
export const policies: Readonly<Record<PolicyName, SelectionPolicy>> = {
  round_robin: roundRobin,
  least_connections: leastConnections,
};
