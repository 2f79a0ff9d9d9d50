// The fair order between tenants' runs: the in-process queue, and the ranks kept in Redis for BullMQ.
import { randomBytes } from 'node:crypto';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  createRunRanker,
  FairRunQueue,
  fairnessKey,
  MAX_RANK,
  RANK_RESTART,
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

  test('ranks start again from 1 once nothing waits anywhere', () => {
    const q = new FairRunQueue();
    for (let i = 1; i <= 3; i++) q.push(job('a', `a${i}`));
    drain(q);
    expect(q.push(job('a', 'a4'))).toBe(4); // something runs or is delayed elsewhere: no restart
    drain(q);
    expect(q.push(job('a', 'a5'), undefined, true)).toBe(1);
  });
});

describe('ranks in Redis (BullMQ priorities)', () => {
  const prefix = `troupe-test-fair-${randomBytes(4).toString('hex')}`;
  let queue: Queue;
  let redis: Redis;
  beforeAll(() => {
    queue = new Queue('runs', { connection: { url: REDIS_URL }, prefix });
    redis = new Redis(REDIS_URL);
  });
  afterAll(async () => {
    await queue.close();
    redis.disconnect();
    await dropRunQueue(prefix);
  });

  test('a tenant’s runs rank one after another; another tenant’s start at the virtual time', async () => {
    const ranker = createRunRanker(queue, redis);
    expect(await ranker.rank([job('a', '1'), job('a', '2'), job('a', '3'), job('b', '4')])).toEqual([
      1, 2, 3, 1,
    ]);
    ranker.started(2);
    ranker.started(1); // lower: the virtual time does not go back
    await new Promise((r) => setImmediate(r));
    await redis.ping();
    expect(await ranker.rank([job('b', '5'), job('c', '6'), job('a', '7')])).toEqual([3, 3, 4]);
  });

  test('ranks start again once the virtual time is past the restart point and nothing waits', async () => {
    const ranker = createRunRanker(queue, redis);
    const key = fairnessKey(queue);
    await redis.hset(key, '.v', RANK_RESTART, 'a', RANK_RESTART + 5);
    // A job waiting: no restart, and ranks go on from the virtual time.
    await queue.add('run', job('z', 'waiting'), { jobId: 'waiting', priority: 1 });
    expect(await ranker.rank([job('a', '8'), job('b', '9')])).toEqual([RANK_RESTART + 6, RANK_RESTART + 1]);
    await queue.remove('waiting');
    expect(await ranker.rank([job('a', '10'), job('b', '11')])).toEqual([1, 1]);
  });

  test('ranks past BullMQ’s largest priority are given as the largest', async () => {
    const ranker = createRunRanker(queue, redis);
    await queue.add('run', job('z', 'waiting'), { jobId: 'waiting', priority: 1 });
    await redis.hset(fairnessKey(queue), '.v', MAX_RANK + 10);
    expect(await ranker.rank([job('q', '12')])).toEqual([MAX_RANK]);
    await queue.remove('waiting');
  });
});
