import { plainAddress, type HeadView, type TcpSessionHead } from './selection-rules.js';

/**
 * `recording.sample`: record a fraction of the traffic, either at random per exchange / session, or
 * decided by a key (a header, a cookie, the client address) so that everything one user — one
 * session cookie, one API key, one client — does is recorded whole or not at all, as GoReplay's
 * header hash sampling does. The key's hash is deterministic across nodes and restarts, and a
 * key recorded at rate r is also recorded at any higher rate.
 *
 * @module
 */

/** What decides whether an exchange is in the sample. */
export type SampleKey = { kind: 'header'; name: string } | { kind: 'cookie'; name: string } | { kind: 'client_address' };

export interface SampleOptions {
  /** Fraction recorded, 0 to 1. */
  rate: number;
  /** Null: each exchange / session is drawn at random. */
  key: SampleKey | null;
}

/** Draws for one rate and key. `random` is injectable so the tests can pin it. */
export class Sampler {
  private readonly rate: number;
  private readonly key: SampleKey | null;

  constructor(opts: SampleOptions, private readonly random: () => number = Math.random) {
    this.rate = opts.rate;
    this.key = opts.key;
  }

  /** True when the sample takes every exchange, so there is nothing to draw. */
  get all(): boolean {
    return this.rate >= 1;
  }

  /**
   * An HTTP exchange: keyed by its header, cookie or client address; an exchange without the
   * header or cookie is drawn at random at the same rate (it has no user to keep whole).
   */
  http(view: HeadView): boolean {
    if (this.rate >= 1) return true;
    if (this.rate <= 0) return false;
    const k = this.key;
    let value: string | undefined;
    if (k === null) value = undefined;
    else if (k.kind === 'header') value = view.header(k.name);
    else if (k.kind === 'cookie') value = cookieValue(view, k.name);
    else value = plainAddress(view.head.client.address);
    return this.take(value);
  }

  /** A TCP session: keyed by the client address when that is the key, otherwise at random. */
  tcp(head: TcpSessionHead): boolean {
    if (this.rate >= 1) return true;
    if (this.rate <= 0) return false;
    return this.take(this.key?.kind === 'client_address' ? plainAddress(head.client.address) : undefined);
  }

  private take(value: string | undefined): boolean {
    return (value === undefined || value === '' ? this.random() : keyFraction(value)) < this.rate;
  }
}

/** The value of cookie `name` (case-sensitive, RFC 6265) in the request's Cookie header(s). */
function cookieValue(view: HeadView, name: string): string | undefined {
  const raw = view.head.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const header = raw[i]!;
    if (header.length !== 6 || header.toLowerCase() !== 'cookie') continue;
    // HTTP/2 may split cookies over several fields; each holds "a=1; b=2".
    for (const pair of raw[i + 1]!.split(';')) {
      const eq = pair.indexOf('=');
      if (eq > 0 && pair.slice(0, eq).trim() === name) return pair.slice(eq + 1).trim();
    }
  }
  return undefined;
}

/**
 * Where a key falls in [0, 1): FNV-1a (32 bit) over its UTF-8 bytes, then MurmurHash3's finaliser
 * so that keys differing in one character (sequential user ids) spread evenly.
 */
export function keyFraction(value: string): number {
  let h = 0x811c9dc5;
  if (/^[\x00-\x7f]*$/.test(value)) {
    // Keys are nearly always ASCII: code units are the UTF-8 bytes then, no encoding pass.
    for (let i = 0; i < value.length; i++) h = Math.imul(h ^ value.charCodeAt(i), 0x01000193);
  } else {
    for (const byte of Buffer.from(value, 'utf8')) h = Math.imul(h ^ byte, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return (h >>> 0) / 0x1_0000_0000;
}
