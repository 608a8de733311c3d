import { isIP } from 'node:net';
import { QProxyError } from '../core/errors.js';

/** One configured downstream, before DNS: a host name or IP literal plus port. */
export interface DiscoveryTarget {
  /** Host name or IP literal, IPv6 without brackets. */
  host: string;
  port: number;
  /** True for `https://` targets: connections and HTTP health checks use TLS. */
  tls: boolean;
  /** original string for display */
  label: string;
}

// RFC 1123 host names, plus "_" which real service registries (SRV-style names) hand out.
const HOST_LABEL = /^[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$/;

function badTarget(input: string, why: string): QProxyError {
  return new QProxyError('QP_ERR_BAD_TARGET', `downstream ${JSON.stringify(input)}: ${why}`);
}

function isHostName(host: string): boolean {
  return host.length > 0 && host.length <= 253 && host.split('.').every((l) => HOST_LABEL.test(l));
}

function parsePort(input: string, text: string): number {
  const port = /^\d{1,5}$/.test(text) ? Number(text) : NaN;
  if (!(port >= 1 && port <= 65535)) throw badTarget(input, `port ${JSON.stringify(text)} is not an integer 1-65535`);
  return port;
}

/**
 * Parses an HTTP downstream origin such as `"http://svc.internal:8081"` or `"https://10.0.0.5"`
 * (default ports 80 and 443). Only an origin is accepted: a path other than `/`, a query, a fragment
 * or credentials are refused rather than silently dropped.
 *
 * @throws QProxyError `QP_ERR_BAD_TARGET` naming the input and what is wrong with it.
 */
export function parseHttpTarget(url: string): DiscoveryTarget {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw badTarget(url, 'not a URL; expected an origin like "http://host:8081" or "https://host"');
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    throw badTarget(url, `scheme "${u.protocol}" is not supported; use http:// or https://`);
  }
  if (u.username !== '' || u.password !== '') throw badTarget(url, 'credentials in the URL are not supported; remove "user:pass@"');
  if (u.pathname !== '/' && u.pathname !== '') throw badTarget(url, `path "${u.pathname}" is not supported; give the origin only`);
  if (u.search !== '' || u.hash !== '') throw badTarget(url, 'query and fragment are not supported; give the origin only');
  const host = u.hostname.startsWith('[') ? u.hostname.slice(1, -1) : u.hostname;
  if (host === '') throw badTarget(url, 'the host is empty');
  const tls = u.protocol === 'https:';
  const port = u.port === '' ? (tls ? 443 : 80) : parsePort(url, u.port);
  return { host, port, tls, label: url };
}

/**
 * Parses a TCP downstream `"host:port"`; IPv6 literals go in brackets, as in `"[::1]:6379"`.
 *
 * @throws QProxyError `QP_ERR_BAD_TARGET` naming the input and what is wrong with it.
 */
export function parseTcpTarget(hostPort: string): DiscoveryTarget {
  const bracketed = /^\[([^\]]*)\]:(.*)$/.exec(hostPort);
  let host: string;
  let portText: string;
  if (bracketed) {
    host = bracketed[1] ?? '';
    portText = bracketed[2] ?? '';
    if (isIP(host) !== 6) throw badTarget(hostPort, `"[${host}]" is not an IPv6 address`);
  } else {
    const colon = hostPort.lastIndexOf(':');
    if (colon < 0) throw badTarget(hostPort, 'expected "host:port" (IPv6 as "[::1]:6379")');
    host = hostPort.slice(0, colon);
    portText = hostPort.slice(colon + 1);
    if (host.includes('://')) throw badTarget(hostPort, 'a TCP downstream is "host:port", not a URL');
    if (host.includes(':')) throw badTarget(hostPort, 'an IPv6 address must be written in brackets, as in "[::1]:6379"');
    if (host === '') throw badTarget(hostPort, 'the host is empty; expected "host:port"');
    if (isIP(host) === 0 && !isHostName(host)) throw badTarget(hostPort, `"${host}" is not a valid host name or IP address`);
  }
  return { host, port: parsePort(hostPort, portText), tls: false, label: hostPort };
}

/** `"10.0.0.5:8081"` / `"[::1]:8081"`: the form endpoint keys and logs use. */
export function formatHostPort(host: string, port: number): string {
  return isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
}
