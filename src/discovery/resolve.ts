import { lookup as dnsLookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { DiscoveryTarget } from './target.js';

/** Resolves a host name to every address it has (the shape of `dns.promises.lookup(host, {all:true})`). */
export type Lookup = (host: string) => Promise<Array<{ address: string; family: number }>>;

/**
 * The system resolver (getaddrinfo, so /etc/hosts and nsswitch apply as for any other client on
 * the box), asking for every address rather than the first.
 */
export const systemLookup: Lookup = (host) => dnsLookup(host, { all: true });

/** Whether the target names an IP literal, which never goes through DNS. */
export function isLiteral(target: DiscoveryTarget): boolean {
  return isIP(target.host) !== 0;
}

/**
 * The distinct addresses of a target, in the resolver's order. Rejects when the lookup fails or
 * answers with no address, so callers keep the addresses they had.
 */
export async function resolveAddresses(target: DiscoveryTarget, lookup: Lookup): Promise<string[]> {
  if (isLiteral(target)) return [target.host];
  const answers = await lookup(target.host);
  const addresses = [...new Set(answers.map((a) => a.address))];
  if (addresses.length === 0) throw new Error(`${target.host} has no addresses`);
  return addresses;
}
