import { BlockList, isIP } from 'node:net';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { ConfigError } from '../../core/errors.js';
import type { Endpoint, TlsInfo } from '../../recording/model.js';

/**
 * Per-connection facts, computed once per client connection (not per request) and cached on the
 * socket (HTTP/1) or the session (HTTP/2).
 *
 * @module
 */

/** What every exchange on one client connection shares. */
export interface ConnectionInfo {
  client: Endpoint;
  tls: TlsInfo | null;
  /** Scheme as QProxy saw it, for X-Forwarded-Proto. */
  proto: 'http' | 'https';
  /** Peer is a trusted proxy: its X-Forwarded-For is appended to rather than replaced. */
  trusted: boolean;
  /** The `CONNECT host:port` a forward proxy intercepted this connection from (TLS or plain HTTP); absent otherwise. */
  connect?: { host: string; port: number };
}

/** Where a socket or HTTP/2 session carries its {@link ConnectionInfo}. */
export const kConnectionInfo = Symbol('qproxy.connectionInfo');

type InfoCarrier = { [kConnectionInfo]?: ConnectionInfo };

/** Builds the trusted-proxy matcher; throws ConfigError naming the first entry that is not an IP or CIDR. */
export function buildTrustList(entries: readonly string[]): BlockList | null {
  if (entries.length === 0) return null;
  const list = new BlockList();
  for (const entry of entries) {
    const [net = '', prefix] = entry.split('/');
    const family = isIP(net);
    const bits = prefix === undefined ? undefined : Number(prefix);
    const max = family === 6 ? 128 : 32;
    if (family === 0 || (bits !== undefined && !(Number.isInteger(bits) && bits >= 0 && bits <= max))) {
      throw new ConfigError(`trustedProxies: "${entry}" is not an IP address or CIDR (e.g. "10.0.0.0/8", "::1")`);
    }
    const type = family === 6 ? 'ipv6' : 'ipv4';
    if (bits === undefined) list.addAddress(net, type);
    else list.addSubnet(net, bits, type);
  }
  return list;
}

/** "::ffff:10.0.0.1" → "10.0.0.1", so IPv4 peers on a dual-stack listener look like IPv4 everywhere. */
export function normalizeAddress(address: string): string {
  return address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
}

/** Info for a socket, computed on first use and cached on it. */
export function socketInfo(socket: Socket, trust: BlockList | null): ConnectionInfo {
  const carrier = socket as Socket & InfoCarrier;
  return (carrier[kConnectionInfo] ??= describeSocket(socket, trust));
}

/** Computes the info of a client socket (plain or TLS); see {@link socketInfo} for the cached form. */
export function describeSocket(socket: Socket, trust: BlockList | null): ConnectionInfo {
  const address = normalizeAddress(socket.remoteAddress ?? '');
  const family = isIP(address);
  const tls = (socket as Partial<TLSSocket>).encrypted === true ? tlsInfo(socket as TLSSocket) : null;
  return {
    client: { address, port: socket.remotePort ?? 0 },
    tls,
    proto: tls === null ? 'http' : 'https',
    trusted: trust !== null && family !== 0 && trust.check(address, family === 6 ? 'ipv6' : 'ipv4'),
  };
}

function tlsInfo(socket: TLSSocket): TlsInfo {
  const sni = (socket as TLSSocket & { servername?: string | false }).servername;
  return {
    sni: typeof sni === 'string' && sni !== '' ? sni : null,
    alpn: typeof socket.alpnProtocol === 'string' ? socket.alpnProtocol : null,
    version: socket.getProtocol(),
  };
}
