/**
 * Request-target handling (RFC 9112 §3.2): what QProxy sends downstream is rebuilt from a checked
 * parse of what the client sent, never the raw `req.url`.
 *
 * @module
 */

/** The target as it will be forwarded. */
export interface ForwardTarget {
  /** Origin-form: absolute path plus query, no fragment. */
  path: string;
  /** Authority from an absolute-form target (it replaces Host, RFC 9112 §3.2.2); null otherwise. */
  authority: string | null;
  /** Scheme of an absolute-form target; null for origin-form. */
  scheme: 'http' | 'https' | null;
}

/**
 * Parses an origin-form or absolute-form (http/https) target. Returns null for anything else
 * (asterisk-form, authority-form, control characters, userinfo in the authority), which the caller
 * answers with 400.
 */
export function parseRequestTarget(raw: string): ForwardTarget | null {
  if (raw.charCodeAt(0) === 0x2f /* / */) {
    const path = stripFragment(raw);
    return hasOnlyVisibleChars(path) ? { path, authority: null, scheme: null } : null;
  }
  // RFC 3986 authority characters only (no userinfo, no backslash): WHATWG URL parsing is lenient
  // with "http:///host" or "http:\\host", which must not become a different authority.
  if (!ABSOLUTE_FORM.test(raw) || !hasOnlyVisibleChars(raw)) return null;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return null;
  }
  if (url.username !== '' || url.password !== '' || url.host === '') return null;
  return { path: url.pathname + url.search, authority: url.host, scheme: url.protocol === 'https:' ? 'https' : 'http' };
}

/** A target for logs: the query (where secrets travel) left out, since logs are not redacted. */
export function targetForLog(raw: string): string {
  const q = raw.indexOf('?');
  return q === -1 ? raw : `${raw.slice(0, q)}?…`;
}

const ABSOLUTE_FORM = /^https?:\/\/[A-Za-z0-9\-._~!$&'()*+,;=%:[\]]+(?:[/?]|$)/i;

function stripFragment(path: string): string {
  const hash = path.indexOf('#');
  return hash === -1 ? path : path.slice(0, hash);
}

/** Visible ASCII and obs-text (what undici will put on the wire); no space, CTL or DEL. */
function hasOnlyVisibleChars(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c <= 0x20 || c === 0x7f || c > 0xff) return false;
  }
  return true;
}
