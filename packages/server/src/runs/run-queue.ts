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
