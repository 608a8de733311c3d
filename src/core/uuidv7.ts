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

function randomBytes16(): Buffer {
  if (poolOffset >= pool.length) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  const b = pool.subarray(poolOffset, poolOffset + 16);
  poolOffset += 16;
  return b;
}

export function uuidv7(now: number = Date.now()): string {
  const b = Buffer.from(randomBytes16());
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
    counter = b.readUInt16BE(6) & 0x7ff; // random start, leaving headroom to count up
  }
  b.writeUIntBE(now, 0, 6);
  b[6] = 0x70 | (counter >> 8);
  b[7] = counter & 0xff;
  b[8] = 0x80 | (b[8]! & 0x3f);
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** Milliseconds since the epoch encoded in a UUIDv7. */
export function uuidv7Time(id: string): number {
  return parseInt(id.slice(0, 8) + id.slice(9, 13), 16);
}
