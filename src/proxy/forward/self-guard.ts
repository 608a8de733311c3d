import { lookup as dnsLookup } from 'node:dns';
import type { LookupAddress, LookupAllOptions, LookupOneOptions } from 'node:dns';
import type { LookupFunction } from 'node:net';
import { isIP } from 'node:net';
import { networkInterfaces } from 'node:os';
import { QProxyError } from '../../core/errors.js';
import { isLoopbackAddress, isUnspecifiedAddress } from '../../core/ip-address.js';
import { normalizeAddress } from '../http/index.js';
import type { SelfCheck } from './access.js';

/**
 * Loop protection: a forward proxy asked to reach one of QProxy's own listeners (directly, or
 * through a name that resolves to this machine) would feed itself — recording its own traffic, or
 * tunnelling into the API. Checked on the resolved addresses, at CONNECT time and again by the
 * lookup every upstream dial uses (names can resolve differently later).
 *
 * @module
 */

/** One listener of this node, as bound. */
export interface BoundListener {
  address: string;
  port: number;
}

/**
 * `isSelf(address, port)` over the node's listeners, read when asked (they are bound after the
 * proxy is built). A listener on 0.0.0.0 / :: is reached through every local address.
 */
export function selfCheck(listeners: () => readonly BoundListener[]): SelfCheck {
  let local: Set<string> | null = null;
  const localAddresses = (): Set<string> => {
    local ??= new Set(Object.values(networkInterfaces()).flatMap((list) => (list ?? []).map((i) => normalizeAddress(i.address))));
    return local;
  };
  return (address, port) => {
    const a = normalizeAddress(address);
    for (const l of listeners()) {
      if (l.port !== port) continue;
      if (a === normalizeAddress(l.address)) return true;
      const wildcard = isUnspecifiedAddress(l.address);
      if (isLoopbackAddress(a) && (wildcard || isLoopbackAddress(l.address))) return true;
      if (wildcard && (isUnspecifiedAddress(a) || localAddresses().has(a))) return true;
    }
    return false;
  };
}

/** The error a dial gets when its destination is QProxy itself (answered 403). */
export function loopError(host: string, port: number): QProxyError {
  return new QProxyError('QP_ERR_FORWARD_DENIED', `${host}:${port} resolves to this QProxy node itself`);
}

/** Every address of `host` (an IP literal is its own). */
export function resolveAll(host: string): Promise<string[]> {
  if (isIP(host) !== 0) return Promise.resolve([host]);
  return new Promise((resolve, reject) => {
    dnsLookup(host, { all: true }, (err, addresses) => (err ? reject(err) : resolve(addresses.map((a) => a.address))));
  });
}

/**
 * A `lookup` for net/tls/undici dials to `port` that fails with QP_ERR_FORWARD_DENIED when the
 * name resolves to one of the node's listeners.
 */
export function guardedLookup(isSelf: SelfCheck, port: number, onLoop: () => void = () => undefined): LookupFunction {
  const lookup = (hostname: string, options: LookupOneOptions | LookupAllOptions, callback: (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void): void => {
    const all: LookupAllOptions = { ...options, all: true };
    dnsLookup(hostname, all, (err, addresses: LookupAddress[]) => {
      if (err) return callback(err, '', 0);
      if (addresses.some((a) => isSelf(a.address, port))) {
        onLoop();
        return callback(loopError(hostname, port), '', 0);
      }
      if ((options as LookupAllOptions).all === true) return callback(null, addresses);
      const first = addresses[0]!;
      callback(null, first.address, first.family);
    });
  };
  return lookup;
}
