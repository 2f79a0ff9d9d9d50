import type { ProviderSettings } from '@troupe/agents';
import { DelayedError, Queue, WaitingError, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import type { Database } from '../db/database.js';
import type { EventBus } from '../events/event-bus.js';
import {
  executeRun,
  type RunHandle,
  type RunJob,
  recordRunFailure,
  recordUnstartedCancel,
} from './execute-run.js';
import { decodeRunControl, type RespondAck, RUN_CONTROL_CHANNEL } from './run-control.js';
import { createRunRanker } from './run-fairness.js';
import {
  addRunJob,
  DEFAULT_QUEUE_NAME,
  DEFAULT_QUEUE_PREFIX,
  DEFAULT_WORKER_CONCURRENCY,
  type RunQueueOptions,
} from './run-queue.js';

export interface RunWorkerOptions extends RunQueueOptions {
  database: Database;
  /** Redis bus shared with the servers: events are published on it, control messages arrive on it. */
  bus: EventBus;
  /** Runs executed at once by this worker. Default 32 (as TROUPE_WORKER_CONCURRENCY's). */
  concurrency?: number;
  providers?: ProviderSettings;
  /** On close, how long runs in progress may take to finish before they are handed back. Default 10 s. */
  graceMs?: number;
  /**
   * A job whose worker stopped renewing its lock (crashed, killed) is given to another worker after
   * at most about 1.5 times this. Default 4 s.
   */
  lockMs?: number;
  flushMs?: number;
}

export interface RunWorker {
  /** Runs in progress on this worker. */
  active(): number;
  /**
   * Stops taking runs, lets those in progress finish for up to `graceMs`, then hands the rest back
   * to the queue unfinished (not cancelled): another worker resumes them from their checkpoints.
   */
  close(): Promise<void>;
}

/**
 * Executes queued runs (`troupe worker`). Each run's events go to its durable log and its bus
 * channel exactly as in the in-process executor; cancellations and approval answers from any
 * server reach the worker that holds the run over the bus.
 */
export async function startRunWorker(opts: RunWorkerOptions): Promise<RunWorker> {
  const lockMs = opts.lockMs ?? 4000;
  const graceMs = opts.graceMs ?? 10_000;
  const held = new Map<string, RunHandle>();
  const releases = new Map<string, AbortController>();
  // Cancels of runs this worker has picked up but whose crew has not started yet.
  const pendingCancels = new Map<string, string>();
  const ack = (m: { runId: string; replyTo?: string }, ok: boolean) => {
    if (m.replyTo)
      opts.bus
        .publish(m.replyTo, JSON.stringify({ ok } satisfies RespondAck))
        .catch((err) => console.error(`troupe: run ${m.runId}: acknowledgement failed:`, err));
  };

  const unsubscribe = await opts.bus.subscribe(RUN_CONTROL_CHANNEL, (raw) => {
    const m = decodeRunControl(raw);
    if (!m) return;
    const run = held.get(m.runId);
    if (m.kind === 'cancel') {
      // Only the worker holding the run answers; the server records the cancellation of a run
      // nobody holds (see the BullMQ executor's cancel).
      if (run) {
        // The attempt is over and its retry recorded: silence, so that the server takes the job off
        // the queue once this worker has let go of it, and records the cancellation.
        if (!run.cancel(m.reason)) return;
      } else if (releases.has(m.runId)) pendingCancels.set(m.runId, m.reason);
      else return;
      ack(m, true);
    } else if (run) {
      ack(m, run.respond(m.decision));
    }
  });

  const connection = new Redis(opts.redisUrl, { maxRetriesPerRequest: null });
  connection.on('error', (err) => {
    if (process.env.TROUPE_DEBUG_REDIS) console.warn('troupe: redis (worker):', err.message);
  });
  // Chat runs that waited for their thread's previous run are queued by the worker that ends it.
  const queueConnection = new Redis(opts.redisUrl, { maxRetriesPerRequest: null });
  queueConnection.on('error', (err) => {
    if (process.env.TROUPE_DEBUG_REDIS) console.warn('troupe: redis (worker queue):', err.message);
  });
  const queue = new Queue<RunJob>(opts.queueName ?? DEFAULT_QUEUE_NAME, {
    connection: queueConnection,
    prefix: opts.prefix ?? DEFAULT_QUEUE_PREFIX,
  });
  queue.on('error', () => {});
  // Runs start in fair order between tenants (their jobs' priorities); each start moves the
  // queue's virtual time on.
  const ranker = createRunRanker(queue, queueConnection);
  const enqueue = async (next: RunJob) => {
    await addRunJob(queue, ranker, next);
  };
  const worker = new Worker<RunJob>(
    opts.queueName ?? DEFAULT_QUEUE_NAME,
    async (job, token) => {
      const { runId } = job.data;
      ranker.started(job);
      let mine: RunHandle | undefined;
      const release = new AbortController();
      releases.set(runId, release);
      // Back to the queue (a retry, handed back, a failed attempt): its place, no better than first in line.
      const keepPlace = () => ranker.keepPlace(job.id ?? runId).catch(() => {});
      try {
        const outcome = await executeRun(
          {
            database: opts.database,
            bus: opts.bus,
            providers: opts.providers,
            flushMs: opts.flushMs,
            signal: release.signal,
            enqueue,
            onCrewRun: (run) => {
              mine = run;
              held.set(runId, run);
              const reason = pendingCancels.get(runId);
              if (reason !== undefined) {
                pendingCancels.delete(runId);
                run.cancel(reason);
              }
            },
          },
          job.data,
        ).catch(async (err) => {
          // BullMQ tries the job again after its backoff (or gives up: then nothing waits on it).
          await keepPlace();
          throw err;
        });
        if (typeof outcome === 'object' && token) {
          await keepPlace();
          // The crew's retry policy: the same job (its id is the run's) waits, delayed, for the next
          // attempt without spending one of the job's own attempts; cancelRun removes it from the queue.
          await job.moveToDelayed(Date.now() + outcome.retryInMs, token);
          throw new DelayedError();
        }
        if (outcome === 'released' && token && pendingCancels.has(runId) && !mine) {
          // Cancelled before its crew started: recorded now, while this worker still holds the job,
          // and the job ends here, instead of going back to the queue for another worker to run
          // while this one writes CANCELLED.
          const reason = pendingCancels.get(runId)!;
          pendingCancels.delete(runId);
          await recordUnstartedCancel({ database: opts.database, bus: opts.bus, enqueue }, job.data, reason);
          return;
        }
        if (outcome === 'released' && token) {
          await keepPlace();
          // Back to the queue without spending an attempt; the next worker resumes the run.
          await job.moveToWait(token);
          throw new WaitingError();
        }
      } finally {
        // Only this execution's entries: the same run picked up again here (its lock lost and the
        // job handed back) may already have its own.
        if (held.get(runId) === mine) held.delete(runId);
        if (releases.get(runId) === release) {
          releases.delete(runId);
          const reason = pendingCancels.get(runId);
          pendingCancels.delete(runId);
          // Cancelled (and acknowledged) before its crew started, which then never did: recorded
          // here, so that the job's next attempt finds the run CANCELLED.
          if (reason !== undefined && !mine)
            await recordUnstartedCancel(
              { database: opts.database, bus: opts.bus, enqueue },
              job.data,
              reason,
            ).catch((e) => console.error(`troupe: run ${runId}: recording its cancellation failed:`, e));
        }
      }
    },
    {
      connection,
      prefix: opts.prefix ?? DEFAULT_QUEUE_PREFIX,
      concurrency: opts.concurrency ?? DEFAULT_WORKER_CONCURRENCY,
      lockDuration: lockMs,
      stalledInterval: Math.max(500, Math.round(lockMs / 2)),
      // A run is resumable: a crash loop is stopped by the job's attempts, not by stall counting.
      maxStalledCount: 10,
      autorun: true,
    },
  );
  worker.on('error', (err) => console.error('troupe: worker:', err.message));
  // This worker's lock on a run's job is gone. If the job is held under another lock (this
  // worker's event loop stalled past the lock's lifetime, and BullMQ handed the job on), this
  // worker stops at once, writing nothing more, instead of executing the run alongside the other.
  // If the job itself is gone (Redis restarted without persistence), nobody else has it: it goes
  // on. Job ids are run ids.
  worker.on('lockRenewalFailed', (jobIds) => {
    for (const runId of jobIds) {
      const release = releases.get(runId);
      if (!release || release.signal.aborted) continue;
      queue
        .getJob(runId)
        .then((job) => {
          if (!job || release.signal.aborted) return;
          console.warn(
            `troupe: run ${runId}: this worker lost its lock on the run; it stops here (another worker resumes it)`,
          );
          release.abort();
        })
        .catch(() => {}); // Redis unreachable: the next renewal tells again
    }
  });
  worker.on('failed', (job, err) => {
    if (!job) return;
    const last = job.attemptsMade >= (job.opts.attempts ?? 1);
    console.error(
      `troupe: run ${job.data.runId} could not be executed (attempt ${job.attemptsMade}${last ? ', the last' : ''}):`,
      err.message,
    );
    if (last)
      recordRunFailure({ ...opts, enqueue }, job.data, err.message).catch((e) =>
        console.error(`troupe: run ${job.data.runId}: recording its failure failed:`, e),
      );
  });
  await worker.waitUntilReady();

  let closing: Promise<void> | undefined;
  return {
    active: () => releases.size,
    close() {
      closing ??= (async () => {
        const finished = worker.close();
        const timer = setTimeout(() => {
          for (const r of releases.values()) r.abort();
        }, graceMs);
        try {
          await finished;
        } finally {
          clearTimeout(timer);
          await unsubscribe();
          await queue.close().catch(() => {});
          await queueConnection.quit().catch(() => queueConnection.disconnect());
          await connection.quit().catch(() => connection.disconnect());
        }
      })();
      return closing;
    },
  };
}
