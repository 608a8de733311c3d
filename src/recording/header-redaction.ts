import type { Digest } from './redaction-digest.js';

// RFC 9110 §11.1: auth-scheme is a token, separated from its credentials by whitespace.
const SCHEME_AND_CREDENTIALS = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+)(\s+)(\S[\s\S]*)$/;

/**
 * Redacts one header value, keeping what is useful for debugging and not secret: the auth scheme of
 * Authorization/Proxy-Authorization, cookie names in Cookie, and the attributes of Set-Cookie.
 * Any other header's value is replaced whole. `lowerName` must be lowercase.
 */
export function redactHeaderValue(lowerName: string, value: string, digest: Digest): string {
  switch (lowerName) {
    case 'authorization':
    case 'proxy-authorization':
      return redactCredentials(value, digest);
    case 'cookie':
      return value.split(';').map((pair) => redactCookiePair(pair, digest)).join(';');
    case 'set-cookie':
      return redactSetCookie(value, digest);
    default:
      return digest(value);
  }
}

function redactCredentials(value: string, digest: Digest): string {
  const m = SCHEME_AND_CREDENTIALS.exec(value);
  // A bare token (no scheme) is a credential on its own: replace it whole.
  if (!m) return digest(value);
  return m[1]! + m[2]! + digest(m[3]!);
}

function redactSetCookie(value: string, digest: Digest): string {
  const semi = value.indexOf(';');
  if (semi < 0) return redactCookiePair(value, digest);
  // Only the first name=value pair carries the cookie; Path, Expires, HttpOnly… are not secret.
  return redactCookiePair(value.slice(0, semi), digest) + value.slice(semi);
}

/** `name=value` with surrounding whitespace kept; a pair without "=" is a nameless cookie value (RFC 6265bis §5.6). */
function redactCookiePair(pair: string, digest: Digest): string {
  const eq = pair.indexOf('=');
  const valueStart = eq + 1;
  const raw = pair.slice(valueStart);
  const core = raw.trim();
  if (core.length === 0) return pair;
  const lead = raw.length - raw.trimStart().length;
  return pair.slice(0, valueStart + lead) + digest(core) + raw.slice(lead + core.length);
}
