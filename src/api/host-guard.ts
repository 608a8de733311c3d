/**
 * @module Defence against DNS rebinding. A web page on evil.example can point its own name at
 * 127.0.0.1 and then read a loopback API from the victim's browser, token-less APIs first; the
 * browser still sends `Host: evil.example`. So the API answers only requests whose Host names it
 * by a loopback name or address, the address it is bound to, or a name the operator allowed.
 */
import { isIP } from 'node:net';
import { networkInterfaces } from 'node:os';
import { ApiError } from './api-errors.js';
import { isLoopbackAddress, isLoopbackHost, isUnspecifiedAddress } from '../core/ip-address.js';

export { isLoopbackAddress, isLoopbackHost, isUnspecifiedAddress };

/**
 * The host part of a Host header ("Example.COM:8085" → "example.com", "[::1]:80" → "::1"),
 * or null when the header is malformed. The port is not checked: rebinding changes the name.
 */
export function hostOfHeader(value: string): string | null {
  let host: string;
  let rest: string;
  if (value.startsWith('[')) {
    const close = value.indexOf(']');
    if (close < 0) return null;
    host = value.slice(1, close);
    rest = value.slice(close + 1);
    if (isIP(host) !== 6) return null;
  } else {
    const colon = value.indexOf(':');
    host = colon < 0 ? value : value.slice(0, colon);
    rest = colon < 0 ? '' : value.slice(colon);
  }
  if (rest !== '' && !/^:\d{1,5}$/.test(rest)) return null;
  if (host === '' || !/^[a-z0-9.:_-]+$/i.test(host)) return null;
  return host.toLowerCase().replace(/\.$/, '');
}

/** Host names and addresses the API answers to, besides loopback ones. */
export class HostGuard {
  private readonly allowed = new Set<string>();

  /** `allowedHosts`: names or addresses, with or without port, as operators write them. */
  constructor(allowedHosts: readonly string[]) {
    for (const entry of allowedHosts) this.allow(entry);
  }

  /**
   * Adds what the server is reachable as once it listens: the configured host and the bound
   * address, or every local interface address when bound to all of them.
   */
  bound(configuredHost: string, boundAddress: string): void {
    if (!isUnspecifiedAddress(boundAddress)) {
      this.allow(configuredHost);
      this.allow(boundAddress);
      return;
    }
    for (const list of Object.values(networkInterfaces())) {
      for (const nic of list ?? []) this.allow(nic.address);
    }
  }

  /** Throws a 421 ApiError unless `hostHeader` names this API. */
  check(hostHeader: string | undefined): void {
    const host = hostHeader === undefined ? null : hostOfHeader(hostHeader);
    if (host !== null && (isLoopbackHost(host) || this.allowed.has(host))) return;
    const shown = hostHeader === undefined ? 'no Host header' : `Host ${JSON.stringify(hostHeader.slice(0, 100))}`;
    throw new ApiError(
      421,
      'QP_ERR_API_HOST_NOT_ALLOWED',
      `${shown} is not a name of this API; call it by a loopback address or its bound address, or add the name to the API's allowed hosts`,
    );
  }

  private allow(entry: string): void {
    const trimmed = entry.trim();
    if (trimmed === '') return;
    // An unbracketed IPv6 address is a whole address, not host:port.
    const host = isIP(trimmed) === 6 ? trimmed.toLowerCase() : hostOfHeader(trimmed);
    if (host !== null) this.allowed.add(host);
  }
}
