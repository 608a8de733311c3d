import { randomFillSync } from 'node:crypto';

/**
 * UUIDv7 (RFC 9562 §5.7): 48-bit Unix milliseconds, then random bits. Within one millisecond a
 * 12-bit counter in rand_a keeps ids from this process strictly increasing, so ids sort by creation
 * order on one node and never collide across nodes (74 random bits otherwise).
 */
const pool = Buffer.allocUnsafe(16 * 256);
let poolOffset = pool.length;
let lastMs = -1;
let counter = 0;

/** Two lowercase hex digits for every byte value. */
const HEX: readonly string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** Offset in `pool` of 16 fresh random bytes (used once each). */
function random16(): number {
  if (poolOffset >= pool.length) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  const at = poolOffset;
  poolOffset += 16;
  return at;
}

// The id is written as text straight from the timestamp, counter and pool bytes: one id per
// recorded exchange, and a Buffer copy, writeUIntBE, a hex string and five slices cost ~4× more.
export function uuidv7(now: number = Date.now()): string {
  const r = random16();
  if (now <= lastMs) {
    counter++;
    if (counter > 0xfff) {
      // Counter exhausted inside one millisecond: borrow the next millisecond (RFC 9562 §6.2 method 1).
      lastMs++;
      counter = 0;
    }
    now = lastMs;
  } else {
    lastMs = now;
    counter = ((pool[r + 6]! << 8) | pool[r + 7]!) & 0x7ff; // random start, leaving headroom to count up
  }
  // 48 bits of milliseconds: the top 16 and the low 32 (exact in doubles).
  const hi = Math.floor(now / 0x100000000);
  const lo = now >>> 0;
  return (
    HEX[(hi >>> 8) & 0xff]! +
    HEX[hi & 0xff]! +
    HEX[lo >>> 24]! +
    HEX[(lo >>> 16) & 0xff]! +
    '-' +
    HEX[(lo >>> 8) & 0xff]! +
    HEX[lo & 0xff]! +
    '-' +
    HEX[0x70 | (counter >> 8)]! +
    HEX[counter & 0xff]! +
    '-' +
    HEX[0x80 | (pool[r + 8]! & 0x3f)]! +
    HEX[pool[r + 9]!]! +
    '-' +
    HEX[pool[r + 10]!]! +
    HEX[pool[r + 11]!]! +
    HEX[pool[r + 12]!]! +
    HEX[pool[r + 13]!]! +
    HEX[pool[r + 14]!]! +
    HEX[pool[r + 15]!]!
  );
}

/** Milliseconds since the epoch encoded in a UUIDv7. */
export function uuidv7Time(id: string): number {
  return parseInt(id.slice(0, 8) + id.slice(9, 13), 16);
}
