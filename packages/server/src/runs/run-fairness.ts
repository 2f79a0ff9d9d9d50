import type { Job, Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { RunJob } from './execute-run.js';

/**
 * Fair order between tenants (start-time fair queuing). A queued run gets a rank: one more than the
 * larger of its tenant's previous rank (while that tenant has runs waiting) and the virtual time
 * (the largest rank started so far). Runs start in rank order, equal ranks in the order they were
 * queued. A tenant's own runs keep their order; a tenant that queues a thousand runs at once does
 * not hold up another tenant's next run behind them: that one's rank is the virtual time plus one,
 * ahead of the rest of the backlog. Every tenant with runs waiting takes turns, one run each. A
 * tenant with none waiting (it cancelled its backlog, say) starts from the virtual time again.
 *
 * On BullMQ the rank is the job's priority, whose largest value is 2,097,151. Once the virtual
 * time has passed 1,048,576, the ranks start again from 1 the next time a run is queued while
 * nothing waits (queued, or delayed for a retry); a run that was executing then and comes back (a
 * retry, a worker handing it back) keeps its place, but no better than first in line. Should the
 * queue never empty until the ranks reach the largest priority, runs above it wait in plain
 * first-come order among themselves until it does.
 */
export const MAX_RANK = 2_097_151;
/** The virtual time from which the ranks start again at the next empty queue (BullMQ). */
export const RANK_RESTART = 1_048_576;

/**
 * Where a queue keeps its ranks: a hash of the virtual time, the epoch, each waiting job's tenant,
 * and each tenant's count of jobs waiting and last rank. Beside the queue's keys, not among them
 * (BullMQ takes any `<prefix>:<queue>:<id>` for a job's).
 */
export const fairnessKey = (queue: Queue) => `${queue.qualifiedName}-troupe-fairness`;

const VIRTUAL_TIME = '.v';
/** How many times the ranks have started again. */
const EPOCH = '.e';
/** Prefix of a tenant's count of jobs waiting (ranked, not started yet); its last rank is under its id. */
const WAITING = 'n:';
/** Prefix of a waiting job's field (its tenant): a job leaves the count once, however often it is told. */
const JOB = 'j:';

// KEYS: the fairness hash, then BullMQ's wait, paused, prioritized and delayed keys (read only).
// ARGV: the restart threshold, the largest rank, then a job id and its tenant id per job to rank.
// Returns the epoch, the virtual time, then the ranks.
const RANK_SCRIPT = `
local v = tonumber(redis.call('HGET', KEYS[1], '${VIRTUAL_TIME}') or '0')
local epoch = tonumber(redis.call('HGET', KEYS[1], '${EPOCH}') or '0')
if v >= tonumber(ARGV[1]) and redis.call('LLEN', KEYS[2]) + redis.call('LLEN', KEYS[3])
  + redis.call('ZCARD', KEYS[4]) + redis.call('ZCARD', KEYS[5]) == 0 then
  -- Nothing waits: the ranks start again from 1.
  redis.call('DEL', KEYS[1])
  v = 0
  epoch = epoch + 1
  redis.call('HSET', KEYS[1], '${EPOCH}', epoch)
end
local max = tonumber(ARGV[2])
local out = { epoch, v }
for i = 3, #ARGV, 2 do
  local job = ARGV[i]
  local t = ARGV[i + 1]
  local last = 0
  if tonumber(redis.call('HGET', KEYS[1], '${WAITING}' .. t) or '0') > 0 then
    last = tonumber(redis.call('HGET', KEYS[1], t) or '0')
  end
  local rank = math.max(v, last) + 1
  redis.call('HSET', KEYS[1], t, rank)
  if redis.call('HSETNX', KEYS[1], '${JOB}' .. job, t) == 1 then
    redis.call('HINCRBY', KEYS[1], '${WAITING}' .. t, 1)
  end
  out[#out + 1] = math.min(rank, max)
end
return out
`;

// KEYS: the fairness hash. ARGV: the largest rank started, then the ids of jobs that left the
// waiting (started, or removed). A job not (or no longer) counted changes nothing.
const LEFT_SCRIPT = `
local v = tonumber(redis.call('HGET', KEYS[1], '${VIRTUAL_TIME}') or '0')
local rank = tonumber(ARGV[1])
if rank > v then redis.call('HSET', KEYS[1], '${VIRTUAL_TIME}', rank) end
for i = 2, #ARGV do
  local t = redis.call('HGET', KEYS[1], '${JOB}' .. ARGV[i])
  if t then
    redis.call('HDEL', KEYS[1], '${JOB}' .. ARGV[i])
    if redis.call('HINCRBY', KEYS[1], '${WAITING}' .. t, -1) <= 0 then
      redis.call('HDEL', KEYS[1], '${WAITING}' .. t, t)
    end
  end
end
return 0
`;

// A job going back to the queue (its rank is its priority) keeps its place, but no better than
// first in line: after the ranks started again, its old rank would put it behind all of them.
// KEYS: the fairness hash, the job's hash. Returns the job's priority.
const KEEP_PLACE_SCRIPT = `
local v = tonumber(redis.call('HGET', KEYS[1], '${VIRTUAL_TIME}') or '0')
local p = tonumber(redis.call('HGET', KEYS[2], 'priority') or '0')
if p > v + 1 then
  p = v + 1
  redis.call('HSET', KEYS[2], 'priority', p)
end
return p
`;

// KEYS: the fairness hash. Returns the epoch and the virtual time.
const NOW_SCRIPT = `
return { tonumber(redis.call('HGET', KEYS[1], '${EPOCH}') or '0'),
  tonumber(redis.call('HGET', KEYS[1], '${VIRTUAL_TIME}') or '0') }
`;

type RankingRedis = Redis & {
  troupeRankRuns(keys: number, ...args: (string | number)[]): Promise<number[]>;
  troupeRunsLeft(keys: number, ...args: (string | number)[]): Promise<number>;
  troupeKeepPlace(keys: number, ...args: (string | number)[]): Promise<number>;
  troupeRanksNow(keys: number, ...args: (string | number)[]): Promise<[number, number]>;
};

/** How long a job going back to the queue waits for its place to be checked (Redis away: it goes on). */
const KEEP_PLACE_TIMEOUT_MS = 2000;

/** Ranks for a BullMQ run queue, kept in Redis beside it (shared by every server and worker). */
export interface RunRanker {
  /**
   * Queues runs: ranks them, then `add` adds their jobs with those priorities. Should the ranks
   * have started again meanwhile (another server queued a run into an empty queue between the
   * two), the jobs' priorities are brought into the new count.
   */
  queue(jobs: readonly RunJob[], add: (priorities: number[]) => Promise<Job[]>): Promise<void>;
  /**
   * A job started: it no longer waits, and its rank moves the virtual time up. Written at the next
   * turn of the event loop, with the others started.
   */
  started(job: Job<RunJob>): void;
  /** A job was taken off the queue (cancelled): it no longer waits. */
  removed(jobId: string): void;
  /** A job going back to the queue keeps its place, but no better than first in line. */
  keepPlace(jobId: string): Promise<void>;
}

export function createRunRanker(queue: Queue, redis: Redis): RunRanker {
  const r = redis as RankingRedis;
  if (typeof r.troupeRankRuns !== 'function') {
    redis.defineCommand('troupeRankRuns', { lua: RANK_SCRIPT });
    redis.defineCommand('troupeRunsLeft', { lua: LEFT_SCRIPT });
    redis.defineCommand('troupeKeepPlace', { lua: KEEP_PLACE_SCRIPT });
    redis.defineCommand('troupeRanksNow', { lua: NOW_SCRIPT });
  }
  const key = fairnessKey(queue);
  const { wait, paused, prioritized, delayed } = queue.keys;
  let highest = 0;
  let left: string[] = [];
  let pending = false;
  const leave = (rank: number, jobId: string | undefined) => {
    highest = Math.max(highest, rank);
    if (jobId !== undefined) left.push(jobId);
    if (pending) return;
    pending = true;
    setImmediate(() => {
      const args = [highest, ...left];
      highest = 0;
      left = [];
      pending = false;
      // Redis away: the connection sends it when Redis is back. Lost (the process ended), or a
      // worker of an earlier version that never sends it: the virtual time lags (ranks a little
      // lower) and the tenant's count stays high until the ranks start again, so a tenant that
      // cancels its backlog may still wait behind it; no tenant's own order changes. A count one
      // too low changes no order either: the tenant's one run still waiting was ranked right after
      // one that started, so a new run ranked from the virtual time does not go before it.
      r.troupeRunsLeft(1, key, ...args).catch(() => {});
    });
  };
  return {
    async queue(jobs, add) {
      const [epoch, v, ...ranks] = await r.troupeRankRuns(
        5,
        key,
        wait!,
        paused!,
        prioritized!,
        delayed!,
        RANK_RESTART,
        MAX_RANK,
        ...jobs.flatMap((j) => [j.runId, j.tenantId]),
      );
      let added: Job[];
      try {
        added = await add(ranks);
      } catch (err) {
        // Not queued: they do not wait, whatever the failure (one queued after all leaves its
        // tenant's count one too low, which changes no order: see started()).
        for (const job of jobs) leave(0, job.runId);
        throw err;
      }
      // Only near the restart point can the count start again under us.
      if (v! < RANK_RESTART - 100_000) return;
      const [epochNow, vNow] = await r.troupeRanksNow(1, key);
      if (epochNow === epoch) return;
      for (const job of added)
        if ((job.priority ?? 0) > vNow + 1) await job.changePriority({ priority: vNow + 1 }).catch(() => {}); // gone meanwhile (cancelled)
    },
    started(job) {
      // Priority 0: queued before ranks (or by hand), never counted.
      const rank = Number(job.priority) || 0;
      if (rank > 0) leave(rank, job.id);
    },
    removed(jobId) {
      leave(0, jobId);
    },
    async keepPlace(jobId) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        r.troupeKeepPlace(2, key, queue.toKey(jobId)).catch(() => {}),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, KEEP_PLACE_TIMEOUT_MS);
        }),
      ]);
      clearTimeout(timer);
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
 * Redis). Its numbers never near a limit, so its ranks never start again.
 */
export class FairRunQueue {
  private heap: Entry[] = [];
  /** Each tenant with runs waiting here: its last rank and how many wait. */
  private tenants = new Map<string, { last: number; waiting: number }>();
  private virtualTime = 0;
  private seq = 0;
  /** Runs waiting here by id (one entry each): for cancellation. */
  private byRun = new Map<string, Entry>();

  get size(): number {
    return this.byRun.size;
  }

  /**
   * Queues a run; its rank, if it has one, is kept (a run waiting out a retry's backoff keeps its
   * place). Returns the rank. A run already waiting is not queued twice.
   */
  push(job: RunJob, rank?: number): number {
    const queued = this.byRun.get(job.runId);
    if (queued) return queued.rank;
    let tenant = this.tenants.get(job.tenantId);
    if (!tenant) {
      tenant = { last: 0, waiting: 0 };
      this.tenants.set(job.tenantId, tenant);
    }
    if (rank === undefined) {
      rank = Math.max(this.virtualTime, tenant.last) + 1;
      tenant.last = rank;
    }
    tenant.waiting++;
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
      this.leave(top);
      this.virtualTime = Math.max(this.virtualTime, top.rank);
      return { job: top.job, rank: top.rank };
    }
  }

  /** Takes a waiting run out (cancelled): true if it was waiting. */
  remove(runId: string): boolean {
    const entry = this.byRun.get(runId);
    if (!entry) return false;
    this.leave(entry);
    if (this.byRun.size === 0) this.heap.length = 0;
    return true;
  }

  clear(): void {
    this.heap.length = 0;
    this.byRun.clear();
    this.tenants.clear();
  }

  /** A run is no longer waiting; a tenant with none left waiting starts from the virtual time. */
  private leave(entry: Entry): void {
    this.byRun.delete(entry.job.runId);
    const tenant = this.tenants.get(entry.job.tenantId);
    if (tenant && --tenant.waiting <= 0) this.tenants.delete(entry.job.tenantId);
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
