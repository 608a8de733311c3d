import { createHash, timingSafeEqual } from 'node:crypto';

/** How an Authorization header compared with the expected token. */
export type TokenVerdict = 'ok' | 'missing' | 'malformed' | 'wrong';

// RFC 6750 §2.1: "Bearer" (case-insensitive), whitespace, the token.
const BEARER = /^bearer[ \t]+(\S+)[ \t]*$/i;

function sha256(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

/**
 * The sync token check. Both sides are hashed before `timingSafeEqual`, so the comparison takes
 * the same time whatever the presented token's content or length (security.md §2).
 */
export class SyncToken {
  private readonly expected: Buffer | null;

  /** An empty or absent token switches the check off (the link then relies on mutual TLS, or nothing). */
  constructor(token: string | undefined) {
    this.expected = token ? sha256(token) : null;
  }

  get enabled(): boolean {
    return this.expected !== null;
  }

  check(authorization: string | undefined): TokenVerdict {
    if (this.expected === null) return 'ok';
    if (authorization === undefined || authorization === '') return 'missing';
    const presented = BEARER.exec(authorization)?.[1];
    if (presented === undefined) return 'malformed';
    return timingSafeEqual(sha256(presented), this.expected) ? 'ok' : 'wrong';
  }
}
