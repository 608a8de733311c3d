/**
 * The session cookie (RFC 6265). Its name carries the API's port: cookies are not kept apart by
 * port, so a Record and a Playback node on one host (as `qproxy demo` runs them) would otherwise
 * log each other's browser out.
 */
import type { IncomingMessage } from 'node:http';

const PREFIX = 'qproxy_session_';

export function cookieName(req: IncomingMessage): string {
  return `${PREFIX}${req.socket.localPort ?? 0}`;
}

/** The value of the named cookie in the request's Cookie header(s), or undefined. */
export function readCookie(req: IncomingMessage, name: string): string | undefined {
  const header = req.headers.cookie;
  if (header === undefined) return undefined;
  for (const pair of header.split(';')) {
    const eq = pair.indexOf('=');
    if (eq < 0) continue;
    if (pair.slice(0, eq).trim() !== name) continue;
    const value = pair.slice(eq + 1).trim();
    return value === '' ? undefined : value;
  }
  return undefined;
}

/**
 * The Set-Cookie value: HttpOnly (no script reads it), SameSite=Strict (no other site's page or
 * link makes the browser send it), Path=/ (the UI at /ui/ calls /api/). No Secure flag: the API
 * listener speaks plain HTTP (put a TLS proxy in front of it for remote use; see README).
 */
export function sessionCookie(name: string, value: string, maxAgeS: number): string {
  return `${name}=${value}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${Math.max(0, Math.floor(maxAgeS))}`;
}

/** A Set-Cookie value that makes the browser drop the cookie. */
export function clearedCookie(name: string): string {
  return sessionCookie(name, '', 0);
}
