/**
 * What QProxy's certificates look like, after mitmproxy's `certs.py` (the most used interception
 * CA): leaves backdated two days against client clock skew, a random positive serial, the host as
 * CN only while it fits the 64-character limit (else an empty subject and a critical SAN, RFC 5280
 * §4.2.1.6), DNS or IP SANs, serverAuth, and an Authority Key Identifier but no Subject Key
 * Identifier on leaves (a leaf sharing the CA's SKI breaks Windows SChannel, mitmproxy #6494).
 */
import { randomBytes } from 'node:crypto';
import { isIP } from 'node:net';

export const DAY_MS = 86_400_000;
/** Clients whose clock runs behind still accept a certificate this old. */
export const BACKDATE_MS = 2 * DAY_MS;
/** Leaves live a year at most (and never past the CA). */
export const LEAF_LIFETIME_MS = 365 * DAY_MS;
/** A CA made by `qproxy ca create` lives ten years. */
export const CA_LIFETIME_MS = 3650 * DAY_MS;
/** RFC 5280 upper bound for a CommonName. */
const CN_MAX = 64;

/** ECDSA on P-256: fast to sign and to verify, accepted by every TLS client in use. */
export const EC_P256 = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

/** A positive serial of 16 random bytes (RFC 5280 §4.1.2.2: at most 20 octets, positive). */
export function randomSerial(): string {
  const b = randomBytes(16);
  b[0] = (b[0]! & 0x7f) | 0x01;
  return b.toString('hex');
}

/** The CN for `host`, or null when it is too long to be one (the SAN alone names it then). */
export function commonNameFor(host: string): string | null {
  return host.length < CN_MAX ? host : null;
}

/** The SAN entry for `host`: an IP literal gets an IP entry, anything else a DNS one. */
export function altNameFor(host: string): { type: 'ip' | 'dns'; value: string } {
  return isIP(host) !== 0 ? { type: 'ip', value: host } : { type: 'dns', value: host };
}

/** Host names certificates are minted for: case and a trailing dot do not make another name. */
export function normalizeHost(host: string): string {
  const h = host.toLowerCase();
  const bare = h.startsWith('[') && h.endsWith(']') ? h.slice(1, -1) : h;
  return bare.endsWith('.') ? bare.slice(0, -1) : bare;
}

const LABEL = /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$|^\*$/;

/** Whether `host` (normalized) can be put in a certificate: an IP literal or an LDH name. */
export function isMintableHost(host: string): boolean {
  if (isIP(host) !== 0) return true;
  return host.length > 0 && host.length <= 253 && host.split('.').every((l) => LABEL.test(l) && l !== '*');
}
