// The fair order between tenants' runs: the in-process queue, and the ranks kept in Redis for BullMQ.
import { randomBytes } from 'node:crypto';
import { type Job, Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import type { RunJob } from '../src/runs/execute-run.js';
import {
  createRunRanker,
  FairRunQueue,
  fairnessKey,
  MAX_RANK,
  RANK_RESTART,
  type RunRanker,
} from '../src/runs/run-fairness.js';
import { dropRunQueue, REDIS_URL } from './support/backend.js';

const job = (tenantId: string, runId: string) => ({ tenantId, runId });
const drain = (q: FairRunQueue) => {
  const out: string[] = [];
  for (let next = q.shift(); next; next = q.shift()) out.push(next.job.runId);
  return out;
};

describe('in-process queue', () => {
  test('tenants take turns; each tenant’s runs keep their order', () => {
    const q = new FairRunQueue();
    for (let i = 1; i <= 4; i++) q.push(job('a', `a${i}`));
    q.push(job('b', 'b1'));
    q.push(job('b', 'b2'));
    q.push(job('c', 'c1'));
    expect(drain(q)).toEqual(['a1', 'b1', 'c1', 'a2', 'b2', 'a3', 'a4']);
  });

  test('a tenant arriving later is served next, not after the backlog', () => {
    const q = new FairRunQueue();
    for (let i = 1; i <= 5; i++) q.push(job('a', `a${i}`));
    expect(q.shift()?.job.runId).toBe('a1');
    expect(q.shift()?.job.runId).toBe('a2');
    q.push(job('b', 'b1'));
    expect(drain(q)).toEqual(['a3', 'b1', 'a4', 'a5']);
  });

  test('a cancelled run is skipped, a run is queued once, and a retried run keeps its place', () => {
    const q = new FairRunQueue();
    q.push(job('a', 'a1'));
    const rank = q.push(job('a', 'a2'));
    q.push(job('a', 'a3'));
    expect(q.push(job('a', 'a3'))).toBe(3); // already waiting: not twice
    expect(q.size).toBe(3);
    expect(q.remove('a1')).toBe(true);
    expect(q.remove('a1')).toBe(false);
    const taken = q.shift()!;
    expect(taken).toEqual({ job: job('a', 'a2'), rank });
    q.push(job('b', 'b1'));
    // a2's attempt failed: back with its rank, ahead of the runs queued after it.
    q.push(taken.job, taken.rank);
    expect(drain(q)).toEqual(['a2', 'a3', 'b1']);
    expect(q.size).toBe(0);
  });

  test('a tenant with no run waiting starts from the virtual time; with some, after its last', () => {
    const q = new FairRunQueue();
    for (let i = 1; i <= 13; i++) q.push(job('a', `a${i}`));
    for (let i = 1; i <= 10; i++) q.shift();
    // Two of its three waiting runs cancelled: the next still goes after the one left.
    q.remove('a11');
    q.remove('a12');
    q.push(job('a', 'a14'));
    expect(drain(q)).toEqual(['a13', 'a14']);
    // A tenant cancels its whole backlog: its next run is not held back by the turns it gave up.
    for (let i = 1; i <= 5; i++) q.push(job('b', `b${i}`));
    q.push(job('c', 'c1'));
    for (let i = 1; i <= 5; i++) q.remove(`b${i}`);
    q.push(job('b', 'b6'));
    q.push(job('d', 'd1'));
    expect(drain(q)).toEqual(['c1', 'b6', 'd1']);
  });
});

describe('ranks in Redis (BullMQ priorities)', () => {
  const prefix = `troupe-test-fair-${randomBytes(4).toString('hex')}`;
  let queue: Queue;
  let redis: Redis;
  let ranker: RunRanker;
  let next = 0;
  /** The ids of the jobs enqueue() queued last. */
  let ids: string[] = [];
  /** Queues real jobs for these tenants; their priorities. */
  const enqueue = async (tenants: string[], beforeAdd?: () => Promise<void>) => {
    const jobs = tenants.map((t) => job(t, `j${next++}`));
    ids = jobs.map((j) => j.runId);
    let added: Job[] = [];
    await ranker.queue(jobs, async (priorities) => {
      await beforeAdd?.();
      added = await queue.addBulk(
        jobs.map((j, i) => ({ name: 'run', data: j, opts: { jobId: j.runId, priority: priorities[i] } })),
      );
      return added;
    });
    return Promise.all(added.map(async (j) => Number((await queue.getJob(j.id!))!.priority)));
  };
  const setVirtualTime = (v: number) => redis.hset(fairnessKey(queue), '.v', v);
  /** A job as a worker sees it when it starts. */
  const started = (id: string, priority: number) => ({ id, priority }) as unknown as Job<RunJob>;
  /** What started() and removed() write has reached Redis. */
  const flushed = async () => {
    await new Promise((r) => setImmediate(r));
    await redis.ping();
  };
  beforeAll(() => {
    queue = new Queue('runs', { connection: { url: REDIS_URL }, prefix });
    redis = new Redis(REDIS_URL);
    ranker = createRunRanker(queue, redis);
  });
  beforeEach(async () => {
    await queue.drain(true);
    await redis.del(fairnessKey(queue));
  });
  afterAll(async () => {
    await queue.close();
    redis.disconnect();
    await dropRunQueue(prefix);
  });

  test('a tenant’s runs rank one after another; another tenant’s start at the virtual time', async () => {
    expect(await enqueue(['a', 'a', 'a', 'b'])).toEqual([1, 2, 3, 1]);
    ranker.started(started(ids[1]!, 2));
    ranker.started(started(ids[3]!, 1)); // lower: the virtual time does not go back
    await flushed();
    expect(await enqueue(['b', 'c', 'a'])).toEqual([3, 3, 4]);
  });

  test('a tenant with runs waiting ranks after its last; with none, from the virtual time', async () => {
    expect(await enqueue(['a', 'a', 'a', 'b'])).toEqual([1, 2, 3, 1]);
    const [a1, a2, a3] = ids;
    ranker.started(started(a1!, 1));
    ranker.removed(a2!); // cancelled; a3 still waits
    await flushed();
    expect(await enqueue(['a'])).toEqual([4]);
    const [a4] = ids;
    // Told twice (a cancel racing a start, a write replayed after Redis came back): counted out
    // once. a4 still waits, so a's next run goes after it.
    ranker.started(started(a3!, 3));
    ranker.removed(a3!);
    ranker.removed(a2!);
    await flushed();
    expect(await enqueue(['a', 'c'])).toEqual([5, 4]);
    const [a5] = ids;
    // None of a's runs waits any more: it starts from the virtual time, not after its last (5).
    ranker.removed(a4!);
    ranker.removed(a5!);
    await flushed();
    expect(await enqueue(['a'])).toEqual([4]);
  });

  test('runs whose add failed do not count as waiting', async () => {
    await expect(
      ranker.queue([job('a', 'f1'), job('a', 'f2')], async () => {
        throw new Error('Redis went away');
      }),
    ).rejects.toThrow('Redis went away');
    await flushed();
    expect(await enqueue(['a'])).toEqual([1]);
  });

  test('past the restart point the ranks start again from 1 when nothing waits', async () => {
    await setVirtualTime(RANK_RESTART);
    await redis.hset(fairnessKey(queue), 'a', RANK_RESTART + 5, 'n:a', 1);
    await queue.add('run', job('z', 'waiting'), { jobId: 'waiting', priority: 1 });
    // Something waits: no restart.
    expect(await enqueue(['a', 'b'])).toEqual([RANK_RESTART + 6, RANK_RESTART + 1]);
    await queue.drain(true);
    expect(await enqueue(['a', 'b'])).toEqual([1, 1]);
  });

  test('runs ranked just before another server started the ranks again are brought into the new count', async () => {
    await queue.add('run', job('z', 'waiting'), { jobId: 'waiting', priority: 1 });
    await setVirtualTime(RANK_RESTART + 100);
    const other = createRunRanker(queue, redis);
    const priorities = await enqueue(['a', 'a'], async () => {
      // Between this server's ranks and its add: the queue empties, another server queues a run.
      await queue.remove('waiting');
      await other.queue([job('b', 'other')], async () => []);
    });
    expect(priorities).toEqual([1, 1]);
  });

  test('a job going back to the queue keeps its place, but no better than first in line', async () => {
    const [kept, stale] = await queue.addBulk([
      { name: 'run', data: job('a', 'kept'), opts: { jobId: 'kept', priority: 3 } },
      { name: 'run', data: job('a', 'stale'), opts: { jobId: 'stale', priority: 1000 } },
    ]);
    await setVirtualTime(5);
    await ranker.keepPlace(kept!.id!);
    await ranker.keepPlace(stale!.id!);
    expect(Number((await queue.getJob('kept'))!.priority)).toBe(3);
    expect(Number((await queue.getJob('stale'))!.priority)).toBe(6);
  });

  test('ranks past BullMQ’s largest priority are given as the largest', async () => {
    await queue.add('run', job('z', 'waiting'), { jobId: 'waiting', priority: 1 });
    await setVirtualTime(MAX_RANK + 10);
    expect(await enqueue(['q'])).toEqual([MAX_RANK]);
  });
});
