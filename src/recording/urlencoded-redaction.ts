import type { Digest } from './redaction-digest.js';

/** Called once per redacted parameter with its decoded, lowercased name. */
export type ParamHit = (lowerName: string) => void;

/**
 * Redacts the values of `application/x-www-form-urlencoded` pairs (a URL query or a form body)
 * whose decoded name, lowercased, is in `names`. Everything else — pair order, separators, unrelated
 * pairs, the exact percent-encoding of names — stays byte-identical. The digest is taken of the
 * decoded value so that a token digests the same in a query, a form and a header.
 *
 * @returns the redacted text, or null when nothing was redacted.
 */
export function redactUrlEncoded(
  text: string,
  names: ReadonlySet<string>,
  digest: Digest,
  hit: ParamHit,
): string | null {
  const pairs = text.split('&');
  let changed = false;
  for (let i = 0; i < pairs.length; i++) {
    const pair = pairs[i]!;
    const eq = pair.indexOf('=');
    // No "=" or an empty value: nothing secret to hide.
    if (eq < 0 || eq === pair.length - 1) continue;
    const rawName = pair.slice(0, eq);
    const name = decodeComponent(rawName).toLowerCase();
    if (!names.has(name)) continue;
    pairs[i] = `${rawName}=${digest(decodeComponent(pair.slice(eq + 1)))}`;
    hit(name);
    changed = true;
  }
  return changed ? pairs.join('&') : null;
}

/**
 * Redacts secret query values in a request target (origin-form or absolute-form), leaving the path,
 * the fragment and every other byte of the target as it was.
 *
 * @returns the redacted target, or null when nothing was redacted.
 */
export function redactUrlQuery(url: string, names: ReadonlySet<string>, digest: Digest, hit: ParamHit): string | null {
  const q = url.indexOf('?');
  if (q < 0 || names.size === 0) return null;
  const hash = url.indexOf('#', q);
  const end = hash < 0 ? url.length : hash;
  const query = redactUrlEncoded(url.slice(q + 1, end), names, digest, hit);
  return query === null ? null : url.slice(0, q + 1) + query + url.slice(end);
}

// An absolute URL ("http://…") or a network-path reference ("//…"), and its authority.
const AUTHORITY = /^((?:[A-Za-z][A-Za-z0-9+.-]*:)?\/\/)([^/?#]*)/;

/**
 * Redacts credentials in the userinfo of an absolute URL (`http://user:pass@host/`) or a
 * network-path reference (`//user:pass@host/`): the password after the first ":" or, without
 * one, the whole userinfo (often a bare token).
 *
 * @returns the redacted URL, or null when it has no userinfo.
 */
export function redactUrlUserinfo(url: string, digest: Digest): string | null {
  // Origin-form targets ("/path") are by far the most common: skip the regex for them.
  if (url.charCodeAt(0) === 0x2f && url.charCodeAt(1) !== 0x2f) return null;
  const m = AUTHORITY.exec(url);
  if (!m) return null;
  const authority = redactAuthorityUserinfo(m[2]!, digest);
  return authority === null ? null : m[1]! + authority + url.slice(m[0].length);
}

/**
 * Redacts the userinfo of an authority (`user:pass@host:port`), which HTTP forbids in Host and
 * `:authority` but a client may send anyway.
 *
 * @returns the redacted authority, or null when it has no userinfo.
 */
export function redactAuthorityUserinfo(authority: string, digest: Digest): string | null {
  // The last "@" ends the userinfo (URL Standard): an unescaped "@" in a password stays hidden.
  const at = authority.lastIndexOf('@');
  if (at <= 0) return null;
  return redactUserinfo(authority.slice(0, at), digest) + authority.slice(at);
}

function redactUserinfo(userinfo: string, digest: Digest): string {
  const colon = userinfo.indexOf(':');
  return colon < 0
    ? digest(decodeComponent(userinfo, false))
    : userinfo.slice(0, colon + 1) + digest(decodeComponent(userinfo.slice(colon + 1), false));
}

/**
 * Percent-decoding; in form data and queries "+" is a space (URL Standard), in userinfo it is not.
 * Malformed escapes are kept as they are rather than failing.
 */
function decodeComponent(raw: string, plusIsSpace = true): string {
  if (!raw.includes('%') && !(plusIsSpace && raw.includes('+'))) return raw;
  const spaced = plusIsSpace ? raw.replaceAll('+', ' ') : raw;
  try {
    return decodeURIComponent(spaced);
  } catch {
    return spaced;
  }
}
