import type { Queue } from 'bullmq';
import type { RunJob } from './execute-run.js';

/** Where runs wait for workers: the BullMQ queue name and Redis key prefix, shared by servers and workers. */
export interface RunQueueOptions {
  redisUrl: string;
  /** Prefix of the queue's Redis keys (isolates deployments and tests sharing one Redis). Default `troupe`. */
  prefix?: string;
  /** Default `runs`. */
  queueName?: string;
}

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
 * first, since BullMQ ignores an add whose id it still holds. A `fresh` run (just inserted, never
 * queued) has no job to look for: it is added at once, one Redis command instead of two. Should
 * the reconciler add it meanwhile, the second add is one BullMQ ignores.
 */
export async function addRunJob(
  queue: Queue<RunJob>,
  job: RunJob,
  opts: { fresh?: boolean } = {},
): Promise<boolean> {
  if (opts.fresh) {
    await queue.add('run', job, { jobId: job.runId, ...RUN_JOB_OPTIONS });
    return true;
  }
  const existing = await queue.getJob(job.runId);
  if (existing) {
    const state = await existing.getState();
    if (state !== 'completed' && state !== 'failed') return false; // waiting, delayed or running already
    await existing.remove();
  }
  await queue.add('run', job, { jobId: job.runId, ...RUN_JOB_OPTIONS });
  return true;
}
