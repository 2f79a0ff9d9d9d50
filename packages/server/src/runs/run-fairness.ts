import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { RunJob } from './execute-run.js';

/**
 * Fair order between tenants (start-time fair queuing). A queued run gets a rank: one more than the
 * larger of its tenant's previous run's rank and the rank of the run started last (the queue's
 * virtual time). Runs start in rank order, equal ranks in the order they were queued. A tenant's
 * own runs keep their order; a tenant that queues a thousand runs at once does not hold up another
 * tenant's next run behind them: that one's rank is the virtual time plus one, ahead of the rest
 * of the backlog. Every tenant with runs waiting takes turns, one run each.
 *
 * On BullMQ the rank is the job's priority, whose largest value is 2,097,151. The ranks start
 * again from 1 once the virtual time has passed 1,048,576 and nothing is waiting (queued or
 * delayed); should the queue never empty until they reach the largest priority, runs above it wait
 * in plain first-come order until it does.
 */
export const MAX_RANK = 2_097_151;
/** The virtual time from which the ranks start again at the next empty queue (BullMQ). */
export const RANK_RESTART = 1_048_576;

/** Where a queue keeps its ranks: a hash of each tenant's last rank, and the virtual time. */
export const fairnessKey = (queue: Queue) => `${queue.qualifiedName}:troupe-fairness`;

const VIRTUAL_TIME = '.v';

// KEYS: the fairness hash, then BullMQ's wait, paused, prioritized and delayed keys (read only).
// ARGV: the restart threshold, the largest rank, then one tenant id per run to rank.
const RANK_SCRIPT = `
local v = tonumber(redis.call('HGET', KEYS[1], '${VIRTUAL_TIME}') or '0')
if v >= tonumber(ARGV[1]) and redis.call('LLEN', KEYS[2]) == 0 and redis.call('LLEN', KEYS[3]) == 0
  and redis.call('ZCARD', KEYS[4]) == 0 and redis.call('ZCARD', KEYS[5]) == 0 then
  redis.call('DEL', KEYS[1])
  v = 0
end
local max = tonumber(ARGV[2])
local ranks = {}
for i = 3, #ARGV do
  local last = tonumber(redis.call('HGET', KEYS[1], ARGV[i]) or '0')
  local rank = math.max(v, last) + 1
  redis.call('HSET', KEYS[1], ARGV[i], rank)
  ranks[#ranks + 1] = math.min(rank, max)
end
return ranks
`;

// KEYS: the fairness hash. ARGV: the rank of a run that started.
const STARTED_SCRIPT = `
local v = tonumber(redis.call('HGET', KEYS[1], '${VIRTUAL_TIME}') or '0')
local rank = tonumber(ARGV[1])
if rank > v then redis.call('HSET', KEYS[1], '${VIRTUAL_TIME}', rank) end
return 0
`;

type RankingRedis = Redis & {
  troupeRankRuns(keys: number, ...args: (string | number)[]): Promise<number[]>;
  troupeRunStarted(keys: number, ...args: (string | number)[]): Promise<number>;
};

/** Ranks for a BullMQ run queue, kept in Redis beside it (shared by every server and worker). */
export interface RunRanker {
  /** The ranks (BullMQ priorities) of runs being queued, one per job, in order. */
  rank(jobs: readonly RunJob[]): Promise<number[]>;
  /** A job of this priority started: the virtual time moves up to it (written at the next turn). */
  started(priority: number | undefined): void;
}

export function createRunRanker(queue: Queue, redis: Redis): RunRanker {
  const r = redis as RankingRedis;
  if (typeof r.troupeRankRuns !== 'function') {
    redis.defineCommand('troupeRankRuns', { lua: RANK_SCRIPT });
    redis.defineCommand('troupeRunStarted', { lua: STARTED_SCRIPT });
  }
  const key = fairnessKey(queue);
  const { wait, paused, prioritized, delayed } = queue.keys;
  let highest = 0;
  return {
    rank: (jobs) =>
      r.troupeRankRuns(
        5,
        key,
        wait!,
        paused!,
        prioritized!,
        delayed!,
        RANK_RESTART,
        MAX_RANK,
        ...jobs.map((j) => j.tenantId),
      ),
    started(priority) {
      if (!priority) return; // queued before ranks (or by hand): first in line anyway
      if (highest === 0)
        setImmediate(() => {
          const rank = highest;
          highest = 0;
          // Lost, the virtual time lags: tenants' next runs rank a little lower, nothing worse.
          r.troupeRunStarted(1, key, rank).catch(() => {});
        });
      highest = Math.max(highest, priority);
    },
  };
}

interface Entry {
  job: RunJob;
  rank: number;
  seq: number;
}

/**
 * The in-process executor's queue, in the same fair order (`troupe dev`, `troupe serve` without
 * Redis). Ranks start again whenever nothing is waiting.
 */
export class FairRunQueue {
  private heap: Entry[] = [];
  private lastRank = new Map<string, number>();
  private virtualTime = 0;
  private seq = 0;
  /** Runs waiting here by id (one entry each): for cancellation. */
  private byRun = new Map<string, Entry>();

  get size(): number {
    return this.byRun.size;
  }

  /**
   * Queues a run; its rank, if it has one, is kept (a run waiting out a retry's backoff keeps its
   * place). Returns the rank. `restart`: nothing else waits anywhere (delayed runs included), so
   * the ranks may start again. A run already waiting is not queued twice.
   */
  push(job: RunJob, rank?: number, restart = false): number {
    const queued = this.byRun.get(job.runId);
    if (queued) return queued.rank;
    if (restart && this.byRun.size === 0) {
      this.lastRank.clear();
      this.virtualTime = 0;
    }
    if (rank === undefined) {
      rank = Math.max(this.virtualTime, this.lastRank.get(job.tenantId) ?? 0) + 1;
      this.lastRank.set(job.tenantId, rank);
    }
    const entry = { job, rank, seq: this.seq++ };
    this.byRun.set(job.runId, entry);
    this.heap.push(entry);
    this.up(this.heap.length - 1);
    return rank;
  }

  /** The next run to start, and its rank; the virtual time moves up to it. */
  shift(): { job: RunJob; rank: number } | undefined {
    for (;;) {
      const top = this.heap[0];
      if (!top) return undefined;
      const last = this.heap.pop()!;
      if (this.heap.length > 0) {
        this.heap[0] = last;
        this.down(0);
      }
      if (this.byRun.get(top.job.runId) !== top) continue; // removed
      this.byRun.delete(top.job.runId);
      this.virtualTime = Math.max(this.virtualTime, top.rank);
      return { job: top.job, rank: top.rank };
    }
  }

  /** Takes a waiting run out (cancelled): true if it was waiting. */
  remove(runId: string): boolean {
    if (!this.byRun.delete(runId)) return false;
    if (this.byRun.size === 0) this.heap.length = 0;
    return true;
  }

  clear(): void {
    this.heap.length = 0;
    this.byRun.clear();
  }

  private before(a: Entry, b: Entry): boolean {
    return a.rank < b.rank || (a.rank === b.rank && a.seq < b.seq);
  }

  private up(i: number): void {
    const h = this.heap;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.before(h[i]!, h[parent]!)) return;
      [h[i], h[parent]] = [h[parent]!, h[i]!];
      i = parent;
    }
  }

  private down(i: number): void {
    const h = this.heap;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let best = i;
      if (l < h.length && this.before(h[l]!, h[best]!)) best = l;
      if (r < h.length && this.before(h[r]!, h[best]!)) best = r;
      if (best === i) return;
      [h[i], h[best]] = [h[best]!, h[i]!];
      i = best;
    }
  }
}
