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
  const claimFor = async (limit: number, skipTenants: readonly string[]) => {
    try {
      return await opts.claim(limit, skipTenants);
    } catch (err) {
      if (!closed) console.error(`troupe: ${opts.what} could not be claimed:`, (err as Error).message);
      return [];
    }
  };

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
      const free = opts.concurrency - inFlight.size;
      if (!closed && (more || again) && free > 0) {
        again = false;
        const full = [...perTenant].filter(([, n]) => n >= share).map(([tenant]) => tenant);
        const claimed = await claimFor(free, full);
        for (const c of claimed) start(c);
        // Slots no other tenant wanted go to those holding their share (nothing waits for them).
        if (claimed.length < free && full.length > 0 && !closed)
          for (const c of await claimFor(free - claimed.length, [])) {
            claimed.push(c);
            start(c);
          }
        // Fewer than asked for: nothing else is due now (until woken, or the next poll).
        more = claimed.length === free;
        continue;
      }
      if (inFlight.size === 0) break;
      await Promise.race(inFlight);
    }
  };

  const run = () => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    if (closed) return;
    if (running) {
      again = true;
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
