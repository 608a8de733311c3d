import { createHmac, createSecretKey, type KeyObject } from 'node:crypto';
import { ConfigError } from '../core/errors.js';

/** Every replacement value starts with this, followed by 16 lowercase hex digits. */
export const REDACTION_PREFIX = 'REDACTED:hmac-sha256:';

const MARKER = /^REDACTED:hmac-sha256:[0-9a-f]{16}$/;

/** Turns a secret value into its replacement. Pure: equal inputs give equal outputs. */
export type Digest = (value: string) => string;

/**
 * Builds the keyed digest used for every redacted value: `REDACTED:hmac-sha256:<first 16 hex of
 * HMAC-SHA256(key, value)>`. Keyed (unlike a plain hash) so that short secrets such as PINs cannot be
 * recovered by hashing guesses; deterministic so that replay matching and diffs still see equal
 * values as equal. A value that already is a replacement is returned unchanged, which keeps
 * redaction idempotent when a record passes through it twice.
 *
 * @throws ConfigError when the key is empty.
 */
export function createDigest(key: Buffer | string): Digest {
  const bytes = typeof key === 'string' ? Buffer.from(key, 'utf8') : key;
  if (bytes.length === 0) {
    throw new ConfigError(
      'redaction key is empty: set a per-deployment secret (at least 32 random bytes) or switch redaction off',
    );
  }
  const secret: KeyObject = createSecretKey(bytes);
  return (value) => {
    if (value.length === REDACTION_PREFIX.length + 16 && MARKER.test(value)) return value;
    const hex = createHmac('sha256', secret).update(value, 'utf8').digest('hex');
    return REDACTION_PREFIX + hex.slice(0, 16);
  };
}
