import { describe, expect, test } from 'vitest';
import { startClaimLoop } from '../src/db/claim-loop.js';

describe('claim loop', () => {
  test('a slow item holds its own slot only: the other slot keeps taking due items', async () => {
    const due = ['slow', 'a', 'b', 'c'];
    const done: string[] = [];
    let releaseSlow!: () => void;
    const slowHeld = new Promise<void>((r) => (releaseSlow = r));
    let allQuickDone!: () => void;
    const quickDone = new Promise<void>((r) => (allQuickDone = r));
    const loop = startClaimLoop<string>({
      claim: async (limit) => due.splice(0, limit),
      work: async (item) => {
        if (item === 'slow') await slowHeld;
        done.push(item);
        if (['a', 'b', 'c'].every((x) => done.includes(x))) allQuickDone();
      },
      countDue: async () => due.length,
      pollMs: 60_000,
      concurrency: 2,
      what: 'items',
      describe: (item) => item,
    });
    // Claimed with the slow one, a finishes; b and c are taken up while the slow one still runs.
    await quickDone;
    expect(done).toEqual(['a', 'b', 'c']);
    releaseSlow();
    await loop.drain();
    expect(done).toEqual(['a', 'b', 'c', 'slow']);
    await loop.close();
  });

  test('close() stops claiming and waits for the items in progress', async () => {
    let claims = 0;
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const finished: number[] = [];
    let started!: () => void;
    const first = new Promise<void>((r) => (started = r));
    const loop = startClaimLoop<number>({
      claim: async () => [++claims],
      work: async (n) => {
        started();
        await held;
        finished.push(n);
      },
      countDue: async () => 1,
      pollMs: 60_000,
      concurrency: 1,
      what: 'items',
      describe: (n) => String(n),
    });
    await first;
    const closing = loop.close();
    release();
    await closing;
    expect(finished).toEqual([1]);
    expect(claims).toBe(1);
  });
});
