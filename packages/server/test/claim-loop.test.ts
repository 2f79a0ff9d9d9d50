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
      tenantOf: () => 't',
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
      tenantOf: () => 't',
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

  test("one tenant's backlog takes every free slot, yet another tenant's item waits for one item at most", async () => {
    // Oldest first, as the claims in SQL; skipTenants honoured the same way.
    const due: { tenant: string; id: string }[] = Array.from({ length: 6 }, (_, i) => ({
      tenant: 'A',
      id: `A${i + 1}`,
    }));
    const started: string[] = [];
    const release = new Map<string, () => void>();
    const waitFor = async (n: number) => {
      const end = Date.now() + 5000;
      while (started.length < n) {
        if (Date.now() > end) throw new Error(`${n} items never started: ${started.join(', ')}`);
        await new Promise((r) => setTimeout(r, 5));
      }
    };
    const loop = startClaimLoop<{ tenant: string; id: string }>({
      claim: async (limit, skipTenants) => {
        const picked = due.filter((d) => !skipTenants?.includes(d.tenant)).slice(0, limit);
        for (const p of picked) due.splice(due.indexOf(p), 1);
        return picked;
      },
      tenantOf: (item) => item.tenant,
      work: async (item) => {
        started.push(item.id);
        await new Promise<void>((r) => release.set(item.id, r));
      },
      countDue: async () => due.length,
      pollMs: 60_000,
      concurrency: 2,
      what: 'items',
      describe: (item) => item.id,
    });
    // Nobody else waits: tenant A gets both slots.
    await waitFor(2);
    expect(started).toEqual(['A1', 'A2']);
    // B's item comes due behind A's backlog of four.
    due.push({ tenant: 'B', id: 'B1' });
    release.get('A1')!();
    await waitFor(3);
    expect(started[2]).toBe('B1');
    // With B served, A's backlog takes the slots again, oldest first.
    release.get('A2')!();
    release.get('B1')!();
    await waitFor(5);
    expect(started.slice(3)).toEqual(['A3', 'A4']);
    for (const id of ['A3', 'A4']) release.get(id)!();
    await waitFor(7);
    for (const id of ['A5', 'A6']) release.get(id)!();
    await loop.drain();
    expect(started).toEqual(['A1', 'A2', 'B1', 'A3', 'A4', 'A5', 'A6']);
    await loop.close();
  });

  test("with several slots free at once, another tenant's due item gets one, even behind a backlog", async () => {
    const due = ['A1', 'A2', 'A3', 'B1'].map((id) => ({ tenant: id[0]!, id }));
    const started: string[] = [];
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const loop = startClaimLoop<{ tenant: string; id: string }>({
      claim: async (limit, skipTenants) => {
        const picked = due.filter((d) => !skipTenants?.includes(d.tenant)).slice(0, limit);
        for (const p of picked) due.splice(due.indexOf(p), 1);
        return picked;
      },
      tenantOf: (item) => item.tenant,
      work: async (item) => {
        started.push(item.id);
        await held;
      },
      countDue: async () => due.length,
      pollMs: 60_000,
      concurrency: 2,
      what: 'items',
      describe: (item) => item.id,
    });
    while (started.length < 2) await new Promise((r) => setTimeout(r, 5));
    expect(started).toEqual(['A1', 'B1']);
    release();
    await loop.drain();
    expect(started).toEqual(['A1', 'B1', 'A2', 'A3']);
    await loop.close();
  });

  test.each([
    ['wake() is called', true],
    ['the next poll comes', false],
  ])('an item due while a slow one runs starts when %s, with a slot free', async (_, wake) => {
    const due = ['slow'];
    const started: string[] = [];
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const loop = startClaimLoop<string>({
      claim: async (limit) => due.splice(0, limit),
      tenantOf: () => 't',
      work: async (item) => {
        started.push(item);
        if (item === 'slow') await held;
      },
      countDue: async () => due.length,
      pollMs: wake ? 60_000 : 50,
      concurrency: 2,
      what: 'items',
      describe: (item) => item,
    });
    try {
      while (started.length < 1) await new Promise((r) => setTimeout(r, 5));
      await new Promise((r) => setTimeout(r, 20));
      due.push('late');
      if (wake) loop.wake();
      const end = Date.now() + 2000;
      while (!started.includes('late') && Date.now() < end) await new Promise((r) => setTimeout(r, 5));
      // Before the fix, 'late' waited for 'slow' to finish.
      expect(started).toEqual(['slow', 'late']);
    } finally {
      release();
      await loop.close();
    }
  });

  test('a share-holder that finishes during the claim that skipped it is not left waiting for a poll', async () => {
    // One tenant's backlog, a claim that takes a while, items that finish quickly.
    const due = Array.from({ length: 6 }, (_, i) => `A${i + 1}`);
    const done: string[] = [];
    const loop = startClaimLoop<string>({
      claim: async (limit, skipTenants) => {
        await new Promise((r) => setTimeout(r, 20));
        return skipTenants.includes('A') ? [] : due.splice(0, limit);
      },
      tenantOf: () => 'A',
      work: async (item) => {
        await new Promise((r) => setTimeout(r, 5));
        done.push(item);
      },
      countDue: async () => due.length,
      pollMs: 60_000,
      concurrency: 2,
      what: 'items',
      describe: (item) => item,
    });
    const end = Date.now() + 3000;
    while (done.length < 6 && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
    expect(done).toHaveLength(6);
    await loop.close();
  });

  test('items finishing one after another do not put the next poll off', async () => {
    // Seven slow items end 150 ms apart; an item comes due at once, found by the poll (200 ms).
    const due: string[] = Array.from({ length: 7 }, (_, i) => `slow${i + 1}`);
    const events: string[] = [];
    const loop = startClaimLoop<string>({
      claim: async (limit) => due.splice(0, limit),
      tenantOf: (item) => item,
      work: async (item) => {
        events.push(`start ${item}`);
        if (item.startsWith('slow')) await new Promise((r) => setTimeout(r, 150 * Number(item.slice(4))));
        events.push(`end ${item}`);
      },
      countDue: async () => due.length,
      pollMs: 200,
      concurrency: 8,
      what: 'items',
      describe: (item) => item,
    });
    try {
      while (events.length < 7) await new Promise((r) => setTimeout(r, 5));
      due.push('late');
      const end = Date.now() + 3000;
      while (!events.includes('start late') && Date.now() < end) await new Promise((r) => setTimeout(r, 5));
      // Before, each item that ended restarted the poll's wait: 'late' waited for most of them.
      expect(events.filter((e) => e.startsWith('end slow')).length).toBeLessThan(4);
      expect(events).toContain('start late');
    } finally {
      await loop.close();
    }
  });

  test('drain() retries failing claims at the poll pace, and ends when the loop is closed', async () => {
    let claims = 0;
    const loop = startClaimLoop<string>({
      claim: async () => {
        claims++;
        throw new Error('database away');
      },
      tenantOf: () => 't',
      work: async () => {},
      countDue: async () => 1,
      pollMs: 100,
      concurrency: 2,
      what: 'items',
      describe: (item) => item,
    });
    const errors = console.error;
    console.error = () => {};
    try {
      const drained = loop.drain();
      await new Promise((r) => setTimeout(r, 350));
      expect(claims).toBeLessThan(10);
      await loop.close();
      await drained;
    } finally {
      console.error = errors;
    }
  });
});
