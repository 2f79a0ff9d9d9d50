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
