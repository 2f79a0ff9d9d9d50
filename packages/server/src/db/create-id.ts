import { randomBytes } from 'node:crypto';

let counter = 0;

/**
 * A collision-resistant id shaped like the cuid()s Prisma gives rows ("c", time, counter, random;
 * 25 characters, time-ordered), for rows inserted with raw SQL.
 */
export function createId(): string {
  counter = (counter + 1) % 36 ** 4;
  const random = BigInt(`0x${randomBytes(8).toString('hex')}`)
    .toString(36)
    .padStart(12, '0')
    .slice(-12);
  return `c${Date.now().toString(36).padStart(8, '0')}${counter.toString(36).padStart(4, '0')}${random}`;
}
