import { createHash, timingSafeEqual } from 'node:crypto';
import { ApiError } from './api-errors.js';

function sha256(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

// RFC 6750 §2.1: "Bearer" (case-insensitive, RFC 9110 §11.1), whitespace, the token. Any
// visible characters are taken, not only token68 ones, so an operator's token never locks them out.
const BEARER = /^bearer[ \t]+(\S+)[ \t]*$/i;

/**
 * Checks `Authorization: Bearer <token>` in constant time. Both sides are hashed first, so
 * timingSafeEqual compares equal-length digests and the time taken reveals neither the token's
 * content nor its length.
 */
export class BearerAuth {
  private readonly expected: Buffer | null;

  /** An empty or missing token switches authentication off. */
  constructor(token: string | undefined) {
    this.expected = token ? sha256(token) : null;
  }

  get enabled(): boolean {
    return this.expected !== null;
  }

  /** True when `presented` is the token (constant time); false when authentication is off. */
  matches(presented: string): boolean {
    return this.expected !== null && timingSafeEqual(sha256(presented), this.expected);
  }

  /** Throws a 401 ApiError unless the header carries the token (or authentication is off). */
  check(authorization: string | undefined): void {
    if (this.expected === null) return;
    if (authorization === undefined || authorization === '') {
      throw unauthorized('this API needs "Authorization: Bearer <token>" (the api token from the configuration)', '');
    }
    const presented = BEARER.exec(authorization)?.[1];
    if (presented === undefined) {
      throw unauthorized('the Authorization header is not "Bearer <token>"', ', error="invalid_request"');
    }
    if (!this.matches(presented)) {
      throw unauthorized('the bearer token is not the API token', ', error="invalid_token"');
    }
  }
}

function unauthorized(message: string, errorParam: string): ApiError {
  return new ApiError(401, 'QP_ERR_API_UNAUTHORIZED', message, {
    'WWW-Authenticate': `Bearer realm="qproxy"${errorParam}`,
  });
}
