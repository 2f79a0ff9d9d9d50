import { randomUUID } from 'node:crypto';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import type { Database } from '../db/database.js';
import { TroupeServerError } from '../errors.js';
import type { EventBus } from '../events/event-bus.js';
import type { RunJob } from './execute-run.js';
import {
  encodeRunControl,
  type RespondAck,
  RUN_CONTROL_CHANNEL,
  type RunControlMessage,
} from './run-control.js';
import type { RunExecutor } from './run-executor.js';
import { createRunRanker } from './run-fairness.js';
import {
  addRunJob,
  DEFAULT_QUEUE_NAME,
  DEFAULT_QUEUE_PREFIX,
  freshRunJobs,
  RUN_JOB_OPTIONS,
  type RunQueueOptions,
} from './run-queue.js';

/**
 * How long cancelRun waits for a run's job to be either acknowledged by the worker holding it or
 * let go: a crashed worker's lock lapses after its lockMs (4 s by default).
 */
const CANCEL_HOLDER_WAIT_MS = 10_000;

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
  const ranker = createRunRanker(queue, connection);
  const addFresh = freshRunJobs(queue, ranker);
  const inFlight = new Set<Promise<unknown>>();
  let closed = false;
  const track = (p: Promise<unknown>, what: string) => {
    const t = p.catch((err) => console.error(`troupe: ${what}:`, err)).finally(() => inFlight.delete(t));
    inFlight.add(t);
  };
  // The database is the source of truth: unfinished runs the Redis queue no longer holds are
  // queued again. QUEUED ones whose job Redis lost; RUNNING (or waiting for an approval) ones whose
  // job BullMQ has given up on (failed past its last attempt or its stall limit, with the failure
  // not recorded because the database was down too). They resume from their checkpoints. A
  // RUNNING run whose job Redis lost is left alone: its worker may still be executing it (Redis
  // restarted without persistence), and a second execution would interleave with it; cancelRun
  // ends it should no worker be.
  let reconciling = false;
  const reconcile = () => {
    if (closed || reconciling) return;
    reconciling = true;
    const work = (async () => {
      let requeued = 0;
      let resumed = 0;
      for (const run of await opts.database.unfinishedRuns()) {
        if (closed) break;
        const job = { tenantId: run.tenantId, runId: run.id };
        if (run.status === 'QUEUED') {
          if (await addRunJob(queue, ranker, job)) requeued++;
          continue;
        }
        const held = await queue.getJob(run.id);
        // Active: a worker holds it (or its lock lapses and BullMQ hands it on). Waiting or
        // delayed: a worker will. Missing: see above. A completed job's run read as RUNNING just
        // before its end is claimed again, and the claim, seeing it ended, does nothing.
        const state = held ? await held.getState() : 'missing';
        if (state !== 'failed' && state !== 'completed') continue;
        if (await addRunJob(queue, ranker, job)) resumed++;
      }
      if (requeued > 0)
        console.warn(
          `troupe: queued ${requeued} run${requeued === 1 ? '' : 's'} again that the Redis queue did not hold (was Redis restarted without persistence, or unreachable?)`,
        );
      if (resumed > 0)
        console.warn(
          `troupe: queued ${resumed} unfinished run${resumed === 1 ? '' : 's'} again whose job had failed without the run being ended (was the database down too?); ${resumed === 1 ? 'it resumes' : 'they resume'} after ${resumed === 1 ? 'its' : 'their'} finished tasks`,
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
  /**
   * Sends a control message to the worker holding its run: its answer (true: done; false: it holds
   * the run but could not), or null when no worker answered in time.
   */
  const ask = async (message: RunControlMessage, timeoutMs: number): Promise<boolean | null> => {
    const replyTo = `run-control-ack:${randomUUID()}`;
    let resolveAck!: (ok: boolean | null) => void;
    const acked = new Promise<boolean | null>((resolve) => {
      resolveAck = resolve;
    });
    const unsubscribe = await opts.bus.subscribe(replyTo, (raw) => {
      try {
        resolveAck((JSON.parse(raw) as RespondAck).ok === true);
      } catch {}
    });
    const timer = setTimeout(() => resolveAck(null), timeoutMs);
    try {
      await opts.bus.publish(RUN_CONTROL_CHANNEL, encodeRunControl({ ...message, replyTo }));
      return await acked;
    } finally {
      clearTimeout(timer);
      await unsubscribe();
    }
  };

  return {
    enqueue(job, enqueueOpts) {
      if (closed) throw new Error('executor is closed');
      track(
        enqueueOpts?.fresh ? addFresh(job) : addRunJob(queue, ranker, job),
        `run ${job.runId} could not be queued`,
      );
    },
    async cancel(runId, reason, cancelOpts) {
      const deadline = Date.now() + CANCEL_HOLDER_WAIT_MS;
      for (;;) {
        // A job no worker holds (waiting, delayed, finished, or none at all) is removed, and then
        // nothing will run it: the caller records the cancellation. Only a live lock keeps it.
        const removed = await queue.remove(runId).catch((err: Error) => {
          throw new TroupeServerError(
            'UNAVAILABLE',
            `The run queue (Redis) could not be reached, so the run was not cancelled; try again. (${err.message})`,
          );
        });
        // Nothing held the job. A run the database says is running may still be executing without
        // one (Redis restarted and lost its job): its worker answers; silence means nobody is.
        if (removed === 1) {
          ranker.removed(runId); // no longer waits (if it still did)
          return cancelOpts?.running
            ? (await ask({ kind: 'cancel', runId, reason }, Math.min(opts.ackTimeoutMs ?? 3000, 1000))) ===
                true
            : false;
        }
        // Locked: the worker holding the job answers. A worker that died keeps its lock until the
        // lock lapses (the worker's lockMs, 4 s by default); then the job can be removed.
        if (
          (await ask({ kind: 'cancel', runId, reason }, Math.min(opts.ackTimeoutMs ?? 3000, 1000))) === true
        )
          return true;
        if (Date.now() >= deadline)
          throw new TroupeServerError(
            'UNAVAILABLE',
            'The worker holding the run neither answered nor let go of it; the run was not cancelled. Try again.',
          );
      }
    },
    async respond(runId, decision) {
      // Only the worker holding the run answers; silence means no worker holds it right now.
      const ok = await ask({ kind: 'respond', runId, decision }, opts.ackTimeoutMs ?? 3000);
      return ok === null ? 'not-held' : ok ? 'answered' : 'not-waiting';
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
