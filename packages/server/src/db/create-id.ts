import { randomFillSync } from 'node:crypto';

const ALPHABET = '0123456789abcdefghijklmnopqrstuvwxyz';
/** Random bytes drawn 4 KB at a time: one randomBytes() call per id cost ~10 µs, most of it per call. */
const pool = Buffer.alloc(4096);
let offset = pool.length;
let counter = 0;

/**
 * A collision-resistant id shaped like the cuid()s Prisma gives rows ("c", time, counter, random;
 * 25 characters, time-ordered), for rows inserted with raw SQL. The random part is 12 base-36
 * characters, one per random byte (about 62 bits).
 */
export function createId(): string {
  counter = (counter + 1) % 36 ** 4;
  let random = '';
  // 256 = 7 × 36 + 4: bytes 252-255 are drawn again, so every character is equally likely.
  while (random.length < 12) {
    if (offset >= pool.length) {
      randomFillSync(pool);
      offset = 0;
    }
    const b = pool[offset++]!;
    if (b < 252) random += ALPHABET[b % 36];
  }
  return `c${Date.now().toString(36).padStart(8, '0')}${counter.toString(36).padStart(4, '0')}${random}`;
}
