import { isIP } from 'node:net';

/**
 * Origins as forward-proxy records name them: `https://api.example.com`, `http://10.0.0.7:8080`,
 * `https://[::1]:8443` — lower-case host, the scheme's default port left out. This is the WHATWG
 * URL serialisation, so a record's `url` parses back to the same origin.
 */
export function formatOrigin(scheme: 'http' | 'https', host: string, port: number): string {
  const h = isIP(host) === 6 ? `[${host}]` : host.toLowerCase();
  const dflt = scheme === 'https' ? 443 : 80;
  return `${scheme}://${h}${port === dflt ? '' : `:${port}`}`;
}

/** `"host:port"`, `"[::1]:443"` or `"host"` (with `defaultPort`); null when malformed. Brackets are removed. */
export function splitAuthority(authority: string, defaultPort: number | null): { host: string; port: number } | null {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]\s/@]+))(?::(\d{1,5}))?$/.exec(authority);
  if (m === null) return null;
  const host = (m[1] ?? m[2]!).toLowerCase().replace(/\.$/, '');
  if (m[1] !== undefined && isIP(m[1]) !== 6) return null;
  if (host === '') return null;
  const port = m[3] === undefined ? defaultPort : Number(m[3]);
  if (port === null || !(port >= 1 && port <= 65535)) return null;
  return { host, port };
}
