import type { Queue } from 'bullmq';
import type { RunJob } from './execute-run.js';
import type { RunRanker } from './run-fairness.js';

/** Where runs wait for workers: the BullMQ queue name and Redis key prefix, shared by servers and workers. */
export interface RunQueueOptions {
  redisUrl: string;
  /** Prefix of the queue's Redis keys (isolates deployments and tests sharing one Redis). Default `troupe`. */
  prefix?: string;
  /** Default `runs`. */
  queueName?: string;
}

/**
 * Runs a process executes at once, a `troupe worker` or a server that is its own worker. Runs wait
 * on the LLM most of their time: 8, as it was, kept `troupe dev`'s 9th concurrent run waiting for
 * one of the first 8 to finish (trivial runs from 20 clients: 276-278 runs/s at 8 against 298-320
 * at 20); a `troupe worker` ran 4 at once, and one process with a backlog of runs spent more CPU
 * per run (smaller batches of writes) than at 50.
 */
export const DEFAULT_WORKER_CONCURRENCY = 32;

export const DEFAULT_QUEUE_PREFIX = 'troupe';
export const DEFAULT_QUEUE_NAME = 'runs';

/**
 * Attempts are spent by failures of the executor itself (database or Redis down); a run's own
 * failure is an outcome (RUN_FAILED), not an error. Crashed workers' jobs come back as stalled.
 * Five attempts over about 15 s; after the last, the worker records RUN_FAILED.
 */
export const RUN_JOB_OPTIONS = {
  attempts: 5,
  backoff: { type: 'exponential' as const, delay: 1000 },
  removeOnComplete: { count: 1000, age: 24 * 3600 },
  removeOnFail: { count: 5000, age: 7 * 24 * 3600 },
};

/**
 * Queues a run's job (true), unless it is queued already (false); its id is the run's id, so a run
 * is never queued twice at once. A finished job of the same run (a run being retried) is removed
 * first, since BullMQ ignores an add whose id it still holds. Its priority is its rank among the
 * tenants' runs (see run-fairness.ts).
 */
export async function addRunJob(queue: Queue<RunJob>, ranker: RunRanker, job: RunJob): Promise<boolean> {
  const existing = await queue.getJob(job.runId);
  if (existing) {
    const state = await existing.getState();
    if (state !== 'completed' && state !== 'failed') return false; // waiting, delayed or running already
    await existing.remove();
  }
  await ranker.queue([job], async ([priority]) => [
    await queue.add('run', job, { jobId: job.runId, priority, ...RUN_JOB_OPTIONS }),
  ]);
  return true;
}

/**
 * Queues fresh runs (just inserted, never queued, so the queue cannot hold a job of theirs: no
 * lookup first), those of one turn of the event loop together: startRuns that commit together (the
 * database batches their scripts) reach Redis in one write (addBulk, a MULTI) instead of one each.
 * Should the reconciler add one of them meanwhile, the second add is one BullMQ ignores.
 */
export function freshRunJobs(queue: Queue<RunJob>, ranker: RunRanker): (job: RunJob) => Promise<void> {
  let waiting: { job: RunJob; done: (err?: unknown) => void }[] = [];
  const flush = () => {
    const batch = waiting;
    waiting = [];
    const added = ranker.queue(
      batch.map((w) => w.job),
      async (priorities) =>
        batch.length === 1
          ? [
              await queue.add('run', batch[0]!.job, {
                jobId: batch[0]!.job.runId,
                priority: priorities[0],
                ...RUN_JOB_OPTIONS,
              }),
            ]
          : queue.addBulk(
              batch.map(({ job }, i) => ({
                name: 'run',
                data: job,
                opts: { jobId: job.runId, priority: priorities[i], ...RUN_JOB_OPTIONS },
              })),
            ),
    );
    added.then(
      () => {
        for (const w of batch) w.done();
      },
      (err) => {
        for (const w of batch) w.done(err ?? new Error('the run could not be queued'));
      },
    );
  };
  return (job) =>
    new Promise<void>((resolve, reject) => {
      waiting.push({ job, done: (err) => (err === undefined ? resolve() : reject(err)) });
      if (waiting.length === 1) setImmediate(flush);
    });
}
