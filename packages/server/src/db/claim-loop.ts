/** A background loop that claims due rows from the database and works on them (webhook deliveries, documents). */
export interface ClaimLoopOptions<C> {
  /** Claims up to `limit` due items (atomically: no other process gets the same ones). */
  claim(limit: number): Promise<C[]>;
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

  // Each slot is refilled as soon as its item is done: one slow item (a long PDF, a receiver that
  // takes its time) holds its own slot, not the whole batch it was claimed with.
  const tick = async () => {
    const inFlight = new Set<Promise<void>>();
    let more = true;
    for (;;) {
      const free = opts.concurrency - inFlight.size;
      if (!closed && (more || again) && free > 0) {
        again = false;
        let claimed: C[] = [];
        try {
          claimed = await opts.claim(free);
        } catch (err) {
          if (!closed) console.error(`troupe: ${opts.what} could not be claimed:`, (err as Error).message);
        }
        // Fewer than asked for: nothing else is due now (until woken, or the next poll).
        more = claimed.length === free;
        for (const c of claimed) {
          const done: Promise<void> = opts
            .work(c)
            .catch((err) => console.error(`troupe: ${opts.describe(c)}:`, (err as Error).message))
            .then(() => {
              inFlight.delete(done);
            });
          inFlight.add(done);
        }
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
