/**
 * @module URLs and HTTP versions between HAR and records. A HAR entry has an absolute URL; a record
 * keeps the origin-form target (path and query) as received, the scheme in `tls` (non-null: the
 * client spoke TLS) and the authority in its Host header, or else in `downstream`.
 */
import type { HeaderLine, HttpRecord } from '../recording/model.js';

/** An absolute http(s) URL cut into its parts, as written (no normalisation). */
export interface UrlParts {
  scheme: 'http' | 'https';
  /** host[:port], without any user:password@. */
  authority: string;
  /** Path and query; "/" when the URL has no path. The fragment is left out (it is never sent). */
  target: string;
}

// ws:// and wss:// are how Chrome names a WebSocket entry's URL: its handshake is http(s).
const ABSOLUTE = /^(https?|wss?):\/\/([^/?#]*)([^#]*)/i;

/** Splits an absolute http(s) URL; null when it is not one. */
export function splitUrl(url: string): UrlParts | null {
  const m = ABSOLUTE.exec(url);
  if (m === null || !URL.canParse(url)) return null;
  const authority = m[2]!.slice(m[2]!.lastIndexOf('@') + 1);
  if (authority === '') return null;
  const rest = m[3]!;
  const target = rest === '' ? '/' : rest.startsWith('?') ? `/${rest}` : rest;
  const scheme = m[1]!.toLowerCase();
  return { scheme: scheme === 'ws' ? 'http' : scheme === 'wss' ? 'https' : (scheme as 'http' | 'https'), authority, target };
}

/** The host of an authority ("[::1]:8443" → "::1"). */
export function hostOf(authority: string): string {
  if (authority.startsWith('[')) return authority.slice(1, authority.indexOf(']'));
  const colon = authority.lastIndexOf(':');
  return colon < 0 ? authority : authority.slice(0, colon);
}

function headerValue(headers: readonly HeaderLine[], name: string): string | undefined {
  return headers.find(([n]) => n.toLowerCase() === name)?.[1];
}

/**
 * The absolute URL a client asked for: https when the listener spoke TLS to it, the authority from
 * Host (or HTTP/2 `:authority`), else from the downstream, else "localhost".
 */
export function absoluteUrl(record: HttpRecord): string {
  const { url, headers } = record.request;
  if (/^https?:\/\//i.test(url)) return url;
  const scheme = record.tls === null ? 'http' : 'https';
  const authority = headerValue(headers, 'host') ?? headerValue(headers, ':authority') ?? downstreamAuthority(record.downstream) ?? 'localhost';
  return `${scheme}://${authority}${url.startsWith('/') ? '' : '/'}${url}`;
}

function downstreamAuthority(downstream: string | null): string | null {
  if (downstream === null) return null;
  const m = /^[a-z][a-z0-9+.-]*:\/\/([^/?#]+)/i.exec(downstream);
  return m ? m[1]! : null;
}

const VERSIONS: Readonly<Record<string, string>> = {
  'http/1.0': '1.0',
  '1.0': '1.0',
  'http/1.1': '1.1',
  '1.1': '1.1',
  'http/2': '2.0',
  'http/2.0': '2.0',
  h2: '2.0',
  h2c: '2.0',
  '2': '2.0',
  '2.0': '2.0',
};

/** A HAR httpVersion ("HTTP/1.1", "h2", "http/2.0"…) as a record's "1.0" | "1.1" | "2.0"; unknown → "1.1". */
export function recordVersion(harVersion: string | null | undefined): string {
  return VERSIONS[(harVersion ?? '').trim().toLowerCase()] ?? '1.1';
}

/** A record's version as HAR writes it ("HTTP/1.1"). */
export function harVersion(recordVersion: string): string {
  return `HTTP/${recordVersion}`;
}
