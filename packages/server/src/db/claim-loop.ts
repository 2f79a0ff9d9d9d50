/** A background loop that claims due rows from the database and works on them (webhook deliveries, documents). */
export interface ClaimLoopOptions<C> {
  /**
   * Claims up to `limit` due items (atomically: no other process gets the same ones), none of the
   * tenants in `skipTenants` (those holding their share of this loop's slots).
   */
  claim(limit: number, skipTenants: readonly string[]): Promise<C[]>;
  /** The tenant an item belongs to: no tenant holds more than half the slots while others' items are due. */
  tenantOf(item: C): string;
  /** Works on one claimed item; a failure is reported, never thrown out of the loop. */
  work(item: C): Promise<void>;
  /** How many items are due now (for drain). */
  countDue(): Promise<number>;
  /** How often due items are looked for when nothing wakes the loop. */
  pollMs: number;
  /** Items worked on at once. */
  concurrency: number;
  /** Log text: what could not be claimed, and one item's name. */
  what: string;
  describe(item: C): string;
}

export interface ClaimLoop {
  /** Looks for due items now. */
  wake(): void;
  /** Resolves once no due item is left and none is in progress here (tests). */
  drain(): Promise<void>;
  /** Stops claiming; work in progress finishes first. */
  close(): Promise<void>;
}

export function startClaimLoop<C>(opts: ClaimLoopOptions<C>): ClaimLoop {
  let closed = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let again = false;
  const drainWaiters: (() => void)[] = [];

  // A tenant's share: with it taken, the tenant's further items are claimed only when no other
  // tenant has one due. One tenant's backlog (a thousand PDFs, a receiver that times out) then
  // delays another tenant's item by one item's time at most, not by the whole backlog.
  const share = Math.max(1, Math.floor(opts.concurrency / 2));
  const perTenant = new Map<string, number>();
  /** Tenants holding their share of the slots. */
  const atShare = () => [...perTenant].filter(([, n]) => n >= share).map(([tenant]) => tenant);
  /** null: the claim failed (reported). */
  const claimFor = async (limit: number, skipTenants: readonly string[]): Promise<C[] | null> => {
    try {
      return await opts.claim(limit, skipTenants);
    } catch (err) {
      if (!closed) console.error(`troupe: ${opts.what} could not be claimed:`, (err as Error).message);
      return null;
    }
  };
  /** Ends the tick's wait for an item to finish: wake() was called, or a poll is due. */
  let interruptWait: (() => void) | undefined;

  // Each slot is refilled as soon as its item is done: one slow item (a long PDF, a receiver that
  // takes its time) holds its own slot, not the whole batch it was claimed with.
  const tick = async () => {
    const inFlight = new Set<Promise<void>>();
    let more = true;
    const start = (c: C) => {
      const tenant = opts.tenantOf(c);
      perTenant.set(tenant, (perTenant.get(tenant) ?? 0) + 1);
      const done: Promise<void> = opts
        .work(c)
        .catch((err) => console.error(`troupe: ${opts.describe(c)}:`, (err as Error).message))
        .then(() => {
          inFlight.delete(done);
          const left = (perTenant.get(tenant) ?? 1) - 1;
          if (left > 0) perTenant.set(tenant, left);
          else perTenant.delete(tenant);
        });
      inFlight.add(done);
    };
    for (;;) {
      let free = opts.concurrency - inFlight.size;
      if (!closed && (more || again) && free > 0) {
        again = false;
        // One item at a time while others may be due: a claim of several could take them all
        // from one tenant. A tenant holding its share is skipped.
        let failed = false;
        while (free > 0 && !closed) {
          const got = await claimFor(1, atShare());
          if (got === null) failed = true;
          if (!got?.length) break;
          start(got[0]!);
          free--;
        }
        // Slots no other tenant wanted go to those holding their share (nothing waits for them).
        if (free > 0 && !failed && !closed && atShare().length > 0) {
          const got = (await claimFor(free, [])) ?? [];
          for (const c of got) start(c);
          free -= got.length;
        }
        // Fewer than asked for: nothing else is due now (until woken, or the next poll).
        more = free === 0;
        continue;
      }
      if (inFlight.size === 0) break;
      // Until an item is done, or wake() is called, or (with a slot free) the next poll is due:
      // an item that comes due meanwhile does not wait for the slowest in progress.
      await new Promise<void>((resolve) => {
        let poll: NodeJS.Timeout | undefined;
        const done = () => {
          if (poll) clearTimeout(poll);
          interruptWait = undefined;
          resolve();
        };
        interruptWait = done;
        if (free > 0 && !closed)
          poll = setTimeout(() => {
            again = true;
            done();
          }, opts.pollMs);
        void Promise.race(inFlight).then(done);
      });
    }
  };

  const run = () => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    if (closed) return;
    if (running) {
      again = true;
      interruptWait?.();
      return;
    }
    running = tick().finally(() => {
      running = undefined;
      for (const w of drainWaiters.splice(0)) w();
      if (!closed) timer = setTimeout(run, opts.pollMs);
    });
  };
  timer = setTimeout(run, 0);

  return {
    wake: run,
    async drain() {
      for (;;) {
        const done = new Promise<void>((resolve) => drainWaiters.push(resolve));
        run();
        await done;
        if ((await opts.countDue()) === 0) return;
      }
    },
    async close() {
      closed = true;
      if (timer) clearTimeout(timer);
      await running;
    },
  };
}
