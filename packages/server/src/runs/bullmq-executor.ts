import { randomUUID } from 'node:crypto';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import type { Database } from '../db/database.js';
import type { EventBus } from '../events/event-bus.js';
import type { RunJob } from './execute-run.js';
import {
  encodeRunControl,
  type RespondAck,
  RUN_CONTROL_CHANNEL,
  type RunControlMessage,
} from './run-control.js';
import type { RunExecutor } from './run-executor.js';
import {
  addRunJob,
  DEFAULT_QUEUE_NAME,
  DEFAULT_QUEUE_PREFIX,
  freshRunJobs,
  RUN_JOB_OPTIONS,
  type RunQueueOptions,
} from './run-queue.js';

export interface BullMqExecutorOptions extends RunQueueOptions {
  database: Database;
  /** The Redis bus the workers listen on for cancellations and approvals. */
  bus: EventBus;
  /** How long respondToRun waits for the worker holding the run to take the answer. Default 3 s. */
  ackTimeoutMs?: number;
  /**
   * How often QUEUED runs are checked against the Redis queue (TROUPE_QUEUE_RECONCILE_MS; default
   * 30 s, and at once whenever the Redis connection comes back): a run whose job is missing (Redis
   * restarted without persistence, or was unreachable when the run started) is queued again.
   */
  reconcileMs?: number;
}

/**
 * The server side of runs executed by `troupe worker` processes: startRun adds a BullMQ job (its id
 * is the run's id, so adding it twice is harmless) and cancelRun / respondToRun are broadcast on
 * the bus, where the worker that holds the run acts on them.
 */
export function createBullMqExecutor(opts: BullMqExecutorOptions): RunExecutor {
  const connection = new Redis(opts.redisUrl, { maxRetriesPerRequest: null });
  connection.on('error', (err) => {
    if (process.env.TROUPE_DEBUG_REDIS) console.warn('troupe: redis (queue):', err.message);
  });
  const queue = new Queue<RunJob>(opts.queueName ?? DEFAULT_QUEUE_NAME, {
    connection,
    prefix: opts.prefix ?? DEFAULT_QUEUE_PREFIX,
    defaultJobOptions: RUN_JOB_OPTIONS,
  });
  queue.on('error', (err) => {
    if (process.env.TROUPE_DEBUG_REDIS) console.warn('troupe: queue:', err.message);
  });
  const addFresh = freshRunJobs(queue);
  const inFlight = new Set<Promise<unknown>>();
  let closed = false;
  const track = (p: Promise<unknown>, what: string) => {
    const t = p.catch((err) => console.error(`troupe: ${what}:`, err)).finally(() => inFlight.delete(t));
    inFlight.add(t);
  };
  // The database is the source of truth: queued runs the Redis queue lost are queued again.
  let reconciling = false;
  const reconcile = () => {
    if (closed || reconciling) return;
    reconciling = true;
    const work = (async () => {
      let requeued = 0;
      for (const run of await opts.database.unfinishedRuns({ onlyQueued: true })) {
        if (closed) break;
        if (await addRunJob(queue, { tenantId: run.tenantId, runId: run.id })) requeued++;
      }
      if (requeued > 0)
        console.warn(
          `troupe: queued ${requeued} run${requeued === 1 ? '' : 's'} again that the Redis queue did not hold (was Redis restarted without persistence, or unreachable?)`,
        );
    })().finally(() => {
      reconciling = false;
    });
    track(work, 'queued runs could not be checked against the Redis queue');
  };
  const reconcileTimer = setInterval(reconcile, opts.reconcileMs ?? 30_000);
  reconcileTimer.unref();
  let connections = 0;
  connection.on('ready', () => {
    // Not the first connection: Redis was away and may have come back empty.
    if (connections++ > 0) reconcile();
  });
  const broadcast = (message: RunControlMessage) =>
    track(
      opts.bus.publish(RUN_CONTROL_CHANNEL, encodeRunControl(message)),
      `run ${message.runId} ${message.kind}`,
    );

  return {
    enqueue(job, enqueueOpts) {
      if (closed) throw new Error('executor is closed');
      track(
        enqueueOpts?.fresh ? addFresh(job) : addRunJob(queue, job),
        `run ${job.runId} could not be queued`,
      );
    },
    cancel(runId, reason) {
      // A job still waiting is dropped; a locked (running) one is left to the worker that holds it.
      track(
        queue.remove(runId).catch(() => 0),
        `run ${runId} could not be removed from the queue`,
      );
      broadcast({ kind: 'cancel', runId, reason });
      return true;
    },
    async respond(runId, decision) {
      // Only the worker holding the run answers; silence means no worker holds it right now.
      const replyTo = `run-control-ack:${randomUUID()}`;
      let resolveAck!: (ok: boolean) => void;
      const acked = new Promise<boolean>((resolve) => {
        resolveAck = resolve;
      });
      const unsubscribe = await opts.bus.subscribe(replyTo, (raw) => {
        try {
          resolveAck((JSON.parse(raw) as RespondAck).ok === true);
        } catch {}
      });
      const timer = setTimeout(() => resolveAck(false), opts.ackTimeoutMs ?? 3000);
      try {
        await opts.bus.publish(
          RUN_CONTROL_CHANNEL,
          encodeRunControl({ kind: 'respond', runId, decision, replyTo }),
        );
        return await acked;
      } finally {
        clearTimeout(timer);
        await unsubscribe();
      }
    },
    active: () => inFlight.size,
    async idle() {
      while (inFlight.size > 0) await Promise.all([...inFlight]);
    },
    async close() {
      closed = true;
      clearInterval(reconcileTimer);
      while (inFlight.size > 0) await Promise.all([...inFlight]);
      await queue.close();
      await connection.quit().catch(() => connection.disconnect());
    },
  };
}
