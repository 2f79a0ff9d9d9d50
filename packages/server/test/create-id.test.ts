import { expect, test } from 'vitest';
import { createId } from '../src/db/create-id.js';

test('ids are 25 base-36 characters, unique, time-ordered, with an evenly drawn random part', () => {
  const before = Date.now();
  const ids = Array.from({ length: 100_000 }, createId);
  for (const id of ids.slice(0, 1000)) expect(id).toMatch(/^c[0-9a-z]{24}$/);
  expect(new Set(ids).size).toBe(ids.length);
  // "c", then the time in ms (8 characters): ids made later sort after.
  const time = (id: string) => Number.parseInt(id.slice(1, 9), 36);
  expect(time(ids[0]!)).toBeGreaterThanOrEqual(before);
  expect(time(ids.at(-1)!)).toBeLessThanOrEqual(Date.now());
  expect([...ids].sort((a, b) => time(a) - time(b))).toEqual(ids);
  // The random part (the last 12 characters): each of the 36 characters about 1/36 of the time.
  const counts = new Map<string, number>();
  for (const id of ids) for (const ch of id.slice(13)) counts.set(ch, (counts.get(ch) ?? 0) + 1);
  expect(counts.size).toBe(36);
  const expected = (ids.length * 12) / 36;
  for (const n of counts.values()) expect(Math.abs(n - expected) / expected).toBeLessThan(0.03);
});
