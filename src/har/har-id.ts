import { createHash } from 'node:crypto';

/** UUIDv7 time is 48 bits of milliseconds. */
export const MAX_UUIDV7_MS = 2 ** 48 - 1;

/**
 * A UUIDv7 (RFC 9562 §5.7) derived from a HAR entry instead of drawn at random: the time bits are
 * the entry's start, the rest comes from a hash of the entry's JSON and its index. Importing the
 * same file again yields the same ids, so the store skips what it already has, and ids still sort
 * by time like recorded ones.
 */
export function entryId(startedAt: number, entryJson: string, index: number): string {
  const h = createHash('sha256').update(entryJson).update(`\n${index}`).digest();
  const b = Buffer.alloc(16);
  b.writeUIntBE(startedAt, 0, 6);
  h.copy(b, 6, 0, 10);
  b[6] = 0x70 | (b[6]! & 0x0f);
  b[8] = 0x80 | (b[8]! & 0x3f);
  const x = b.toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}
