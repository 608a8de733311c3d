import type { PeerCertificate } from 'node:tls';

/**
 * The names a client certificate vouches for: its subject CN and every DNS and URI subject
 * alternative name (e.g. `spiffe://qproxy/az-a-1`). IP SANs are left out on purpose: an allow-list
 * entry names a node, not an address it happens to connect from.
 */
export function certificateNames(cert: PeerCertificate | null | undefined): string[] {
  if (!cert || Object.keys(cert).length === 0) return [];
  const names: string[] = [];
  const cn = (cert.subject as Record<string, string | string[] | undefined> | undefined)?.CN;
  if (typeof cn === 'string') names.push(cn);
  else if (Array.isArray(cn)) names.push(...cn);
  for (const entry of (cert.subjectaltname ?? '').split(/,\s*/)) {
    const m = /^(DNS|URI):(.+)$/.exec(entry.trim());
    if (m) names.push(m[2]!);
  }
  return names;
}

/** True when any of the certificate's names is on the allow-list, compared case-insensitively (as DNS names are). */
export function identityAllowed(names: readonly string[], allowed: readonly string[]): boolean {
  return names.some((n) => allowed.some((a) => a === n || a.toLowerCase() === n.toLowerCase()));
}
