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

/**
 * The claim's SQL condition leaving out `skipTenants` (empty when none), as parameters numbered
 * from `firstParam`: pass the tenants as those parameters, in order.
 */
export function skipTenantsCondition(skipTenants: readonly string[], firstParam: number): string {
  if (skipTenants.length === 0) return '';
  return ` AND "tenantId" NOT IN (${skipTenants.map((_, i) => `$${i + firstParam}`).join(', ')})`;
}

const messageOf = (err: unknown) => (err instanceof Error ? err.message : String(err));

export function startClaimLoop<C>(opts: ClaimLoopOptions<C>): ClaimLoop {
  let closed = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  /** Look for due items at the next chance (woken, or a poll came while every slot was busy). */
  let again = false;
  /** The last tick ended on a claim that failed (drain waits a poll before trying again). */
  let claimFailed = false;
  const drainWaiters: (() => void)[] = [];
  /** Ends the tick's wait: an item finished, wake() was called, or the poll is due. */
  let interruptWait: (() => void) | undefined;

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
      if (!closed) console.error(`troupe: ${opts.what} could not be claimed:`, messageOf(err));
      return null;
    }
  };

  // Each slot is refilled as soon as its item is done: one slow item (a long PDF, a receiver that
  // takes its time) holds its own slot, not the whole batch it was claimed with.
  const tick = async () => {
    let active = 0;
    // Whether a full claim may have left items due (claim again when a slot frees).
    let more = true;
    // When to look again though nothing woke the loop: set when a claim finds fewer than asked
    // for (or fails), and not moved by items that finish meanwhile.
    let pollAt = Number.POSITIVE_INFINITY;
    const start = (c: C) => {
      let tenant = '';
      active++;
      const finished = (async () => {
        tenant = opts.tenantOf(c);
        perTenant.set(tenant, (perTenant.get(tenant) ?? 0) + 1);
        await opts.work(c);
      })();
      void finished
        .catch((err) => {
          try {
            console.error(`troupe: ${opts.describe(c)}:`, messageOf(err));
          } catch {}
        })
        .finally(() => {
          active--;
          const left = (perTenant.get(tenant) ?? 1) - 1;
          if (left > 0) perTenant.set(tenant, left);
          else perTenant.delete(tenant);
          interruptWait?.();
        });
    };
    for (;;) {
      let free = opts.concurrency - active;
      if (!closed && (more || again) && free > 0) {
        again = false;
        // One item at a time while others may be due: a claim of several could take them all
        // from one tenant. A tenant holding its share is skipped.
        let failed = false;
        let skipped = false;
        while (free > 0 && !closed) {
          const skip = atShare();
          const got = await claimFor(1, skip);
          if (got === null) failed = true;
          if (!got?.length) {
            skipped = skip.length > 0;
            break;
          }
          start(got[0]!);
          free--;
        }
        // Slots no other tenant wanted go to those that were skipped (nothing waits for them).
        if (free > 0 && skipped && !failed && !closed) {
          const got = await claimFor(free, []);
          if (got === null) failed = true;
          for (const c of got ?? []) start(c);
          free -= got?.length ?? 0;
        }
        claimFailed = failed;
        // Fewer than asked for: nothing else is due now (until woken, or the next poll).
        more = free === 0 && !failed;
        if (!more) pollAt = Date.now() + opts.pollMs;
        continue;
      }
      if (active === 0) break;
      await new Promise<void>((resolve) => {
        let poll: NodeJS.Timeout | undefined;
        interruptWait = () => {
          if (poll) clearTimeout(poll);
          interruptWait = undefined;
          resolve();
        };
        if (!closed && Number.isFinite(pollAt))
          poll = setTimeout(
            () => {
              pollAt = Number.POSITIVE_INFINITY;
              again = true;
              interruptWait?.();
            },
            Math.max(0, pollAt - Date.now()),
          );
      });
    }
  };

  const settleDrains = () => {
    for (const w of drainWaiters.splice(0)) w();
  };
  const run = () => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    if (closed) return;
    again = true;
    if (running) {
      interruptWait?.();
      return;
    }
    running = tick()
      .catch((err) => console.error(`troupe: ${opts.what}:`, messageOf(err)))
      .finally(() => {
        running = undefined;
        settleDrains();
        // A wake that came as the tick ended is not left to the next poll.
        if (!closed) timer = setTimeout(run, again ? 0 : opts.pollMs);
      });
  };
  timer = setTimeout(run, 0);

  return {
    wake: run,
    async drain() {
      while (!closed) {
        const done = new Promise<void>((resolve) => drainWaiters.push(resolve));
        run();
        await done;
        if (closed || (await opts.countDue()) === 0) return;
        // Claims that fail (the database is away) are tried again at the poll's pace, not at once.
        if (claimFailed) await new Promise((r) => setTimeout(r, opts.pollMs));
      }
    },
    async close() {
      closed = true;
      if (timer) clearTimeout(timer);
      interruptWait?.();
      await running;
      settleDrains();
    },
  };
}
