/**
 * Pure checks and parsers for the addresses a config names: host names, `host:port` pairs, IP/CIDR
 * ranges and downstream URLs. They return results instead of throwing so the schema can turn a
 * failure into one message that names the field.
 */
import { BlockList, isIP } from 'node:net';

// RFC 1123 labels; underscores are tolerated because internal DNS names (SRV-style, Docker) use them.
const LABEL = '[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?';
const HOST_NAME_RE = new RegExp(`^(?=.{1,253}\\.?$)${LABEL}(?:\\.${LABEL})*\\.?$`);

/** True for an IPv4/IPv6 address or a DNS host name such as `localhost` or `api.internal`. */
export function isHostName(value: string): boolean {
  return isIP(value) !== 0 || HOST_NAME_RE.test(value);
}

/** A parsed `host:port`; IPv6 hosts come without their brackets. */
export interface HostPort {
  host: string;
  port: number;
}

/**
 * Parses `"localhost:8083"`, `"10.0.0.5:6379"` or `"[::1]:6379"` (IPv6 must be bracketed, so the
 * last colon is unambiguous). Port 0 is refused: a downstream needs a real port.
 *
 * @returns the parts, or `undefined` when the text is not a valid `host:port`.
 */
export function parseHostPort(value: string): HostPort | undefined {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(value);
  if (!m) return undefined;
  const port = Number(m[3]);
  if (port < 1 || port > 65535) return undefined;
  if (m[1] !== undefined) return isIP(m[1]) === 6 ? { host: m[1], port } : undefined;
  const host = m[2]!;
  return isHostName(host) ? { host, port } : undefined;
}

/**
 * True for an IP address (`"10.1.2.3"`, `"::1"`) or a CIDR range (`"10.0.0.0/8"`, `"fd00::/8"`)
 * that `net.BlockList` accepts, which is what the proxy uses to match trusted peers.
 */
export function isIpOrCidr(value: string): boolean {
  const slash = value.indexOf('/');
  if (slash < 0) return isIP(value) !== 0;
  const address = value.slice(0, slash);
  const prefixText = value.slice(slash + 1);
  const family = isIP(address);
  if (family === 0 || !/^\d{1,3}$/.test(prefixText)) return false;
  const prefix = Number(prefixText);
  if (prefix > (family === 4 ? 32 : 128)) return false;
  try {
    new BlockList().addSubnet(address, prefix, family === 4 ? 'ipv4' : 'ipv6');
    return true;
  } catch {
    return false;
  }
}

/** A `net.BlockList` of IP addresses and CIDR ranges already checked with {@link isIpOrCidr}. */
export function addressList(entries: readonly string[]): BlockList {
  const list = new BlockList();
  for (const entry of entries) {
    const slash = entry.indexOf('/');
    const address = slash < 0 ? entry : entry.slice(0, slash);
    const type = isIP(address) === 6 ? 'ipv6' : 'ipv4';
    if (slash < 0) list.addAddress(address, type);
    else list.addSubnet(address, Number(entry.slice(slash + 1)), type);
  }
  return list;
}

/**
 * Why `value` cannot be a downstream base URL, or `undefined` when it can: it must parse, use
 * http:// or https://, name a host, and carry no credentials, query or fragment (the proxy appends
 * each request's own path and query).
 */
export function downstreamUrlProblem(value: string): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return 'it is not a URL';
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return `the scheme "${url.protocol.slice(0, -1)}" is not http or https`;
  if (url.hostname === '') return 'it has no host';
  if (url.username !== '' || url.password !== '') return 'it contains credentials';
  if (url.search !== '' || url.hash !== '') return 'it contains a query or fragment';
  return undefined;
}
