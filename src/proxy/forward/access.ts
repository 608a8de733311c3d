import { createHash, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import { buildTrustList } from '../http/index.js';
import type { ForwardDenyReason } from './options.js';

/**
 * The forward proxy's access rules (security.md §2): which clients may use it, the credentials
 * they must send, the ports CONNECT may reach, and never QProxy's own listeners. Each check
 * returns null when allowed, or the denial to answer with (403, or 407 for credentials).
 *
 * @module
 */

/** A refused request: reason (metric label), status, and the message the client gets as JSON. */
export interface Denial {
  reason: ForwardDenyReason;
  status: 403 | 407;
  message: string;
}

/** Whether an (address, port) is one of this node's listeners; answers for resolved addresses. */
export type SelfCheck = (address: string, port: number) => boolean;

export interface AccessOptions {
  /** IPs and CIDRs; empty = every client that reaches the listener. */
  allowClients: readonly string[];
  /** Proxy credentials every request must carry; null = none asked. */
  auth: { username: string; password: string } | null;
  allowPorts: readonly number[];
  isSelf: SelfCheck;
}

/** `Proxy-Authenticate` sent with every 407 (RFC 9110 §11.7.1). */
export const PROXY_AUTHENTICATE: readonly string[] = ['Proxy-Authenticate', 'Basic realm="qproxy", charset="UTF-8"'];

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

export class ForwardAccess {
  private readonly clients;
  private readonly credentials: Buffer | null;
  private readonly ports: ReadonlySet<number>;

  constructor(private readonly opts: AccessOptions) {
    this.clients = buildTrustList(opts.allowClients);
    this.credentials = opts.auth === null ? null : digest(`${opts.auth.username}:${opts.auth.password}`);
    this.ports = new Set(opts.allowPorts);
  }

  /** True when every request must carry credentials. */
  get requiresAuth(): boolean {
    return this.credentials !== null;
  }

  /** The client address rule, then the credentials rule. */
  checkClient(address: string, rawHeaders: readonly string[]): Denial | null {
    if (this.clients !== null) {
      const family = isIP(address);
      if (family === 0 || !this.clients.check(address, family === 6 ? 'ipv6' : 'ipv4')) {
        return { reason: 'client', status: 403, message: `client ${address} is not in forward.allow_clients` };
      }
    }
    if (this.credentials === null) return null;
    const given = proxyCredentials(rawHeaders);
    if (given === null) return { reason: 'auth', status: 407, message: 'proxy authentication required: send Proxy-Authorization: Basic' };
    // Fixed-length digests, compared in constant time: the comparison leaks neither length nor prefix.
    if (!timingSafeEqual(digest(given), this.credentials)) return { reason: 'auth', status: 407, message: 'wrong proxy credentials' };
    return null;
  }

  /** The CONNECT port rule. */
  checkPort(port: number): Denial | null {
    if (this.ports.has(port)) return null;
    return { reason: 'port', status: 403, message: `CONNECT to port ${port} is not allowed (forward.allow_ports: ${[...this.ports].join(', ')})` };
  }

  /** The no-loop rule for addresses already resolved (or IP literals). */
  checkDestination(addresses: readonly string[], port: number, shown: string): Denial | null {
    for (const a of addresses) {
      if (this.opts.isSelf(a, port)) return { reason: 'loop', status: 403, message: `${shown} is this QProxy node itself; a forward proxy does not connect to its own listeners` };
    }
    return null;
  }
}

/** The `user:password` of a `Proxy-Authorization: Basic` header, or null when there is none. */
export function proxyCredentials(rawHeaders: readonly string[]): string | null {
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    if (rawHeaders[i]!.toLowerCase() !== 'proxy-authorization') continue;
    const m = /^basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(rawHeaders[i + 1]!);
    if (m === null) return null;
    return Buffer.from(m[1]!, 'base64').toString('utf8');
  }
  return null;
}
