/**
 * Address classification shared by the components that decide who may talk to them (the API's
 * DNS-rebinding guard, the forward proxy's access rules, the config's bind checks).
 */
import { isIP } from 'node:net';

/** True for 127.0.0.0/8, ::1 and IPv4-mapped 127.x (::ffff:127.0.0.1). */
export function isLoopbackAddress(address: string): boolean {
  const a = address.toLowerCase();
  if (isIP(a) === 4) return a.startsWith('127.');
  if (isIP(a) !== 6) return false;
  if (a.startsWith('::ffff:')) return isLoopbackAddress(a.slice('::ffff:'.length));
  return /^(0{0,4}:){2,7}0{0,3}1$/.test(a); // ::1 in any of its spellings
}

/** True for the loopback name or a loopback address. */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase().replace(/\.$/, '');
  return h === 'localhost' || isLoopbackAddress(h);
}

/** True for 0.0.0.0 / :: (every interface). */
export function isUnspecifiedAddress(address: string): boolean {
  return address === '0.0.0.0' || (isIP(address) === 6 && /^[0:]+$/.test(address));
}
