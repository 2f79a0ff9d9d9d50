import type { ProviderSettings } from '@troupe/agents';
import type { Database } from '../db/database.js';
import type { EmbedderSource } from '../documents/document-ingest.js';
import type { EventBus } from '../events/event-bus.js';
import {
  executeRun,
  type RunHandle,
  type RunJob,
  recordRunFailure,
  recordUnstartedCancel,
} from './execute-run.js';
import { FairRunQueue } from './run-fairness.js';
import { DEFAULT_WORKER_CONCURRENCY, RUN_JOB_OPTIONS } from './run-queue.js';

export { loadRuntime, type RunJob } from './execute-run.js';

export type RespondOutcome = 'answered' | 'not-waiting' | 'not-held';

export interface RunExecutor {
  /**
   * Queues a committed run for execution. `fresh`: the run was inserted by this operation and never
   * queued, so the queue cannot hold a job of it: the lookup for one is skipped.
   */
  enqueue(job: RunJob, opts?: { fresh?: boolean }): void;
  /**
   * Cancels a run. true: an executor holds the run and is cancelling it (it records RUN_CANCELLED);
   * false: nothing holds it (it was queued, waiting out a retry's backoff, or left RUNNING by an
   * executor that failed) and nothing will run it now, so the caller records the cancellation.
   * `running`: the database says the run is RUNNING or waiting for an approval.
   */
  cancel(runId: string, reason: string, opts?: { running?: boolean }): boolean | Promise<boolean>;
  /**
   * Answers a pending approval of a run this executor holds. 'answered': the task took it;
   * 'not-waiting': the run is held, but its task waits for no answer now (answered already, or
   * being revised); 'not-held': no executor holds the run right now.
   */
  respond(
    runId: string,
    decision: { taskName: string; approved: boolean; feedback?: string },
  ): RespondOutcome | Promise<RespondOutcome>;
  /** Runs queued or in progress here. */
  active(): number;
  /** Resolves when nothing is queued or running (tests, graceful shutdown). */
  idle(): Promise<void>;
  close(): Promise<void>;
}

export interface ExecutorOptions {
  database: Database;
  bus: EventBus;
  providers?: ProviderSettings;
  concurrency?: number;
  /** TOKEN events are stored in batches flushed this often; the stream carries the same text. */
  flushMs?: number;
  /** The embedder of the `search_documents` tool (TROUPE_EMBEDDINGS). */
  embedder?: EmbedderSource;
  /**
   * A run whose execution fails (the database unreachable, say; a run's own failure is an outcome,
   * not this) is tried again after `delayMs`, doubling, `attempts` times in all, then recorded
   * RUN_FAILED. Default: as a BullMQ worker's jobs, 5 attempts from 1 s.
   */
  retry?: { attempts: number; delayMs: number };
}

/**
 * Queues again the runs a previous process left unfinished (queued, running or waiting for an
 * approval when it stopped or crashed); each resumes after its last finished task. Only for a
 * single process executing runs in-process (`troupe dev`, or `troupe serve` without REDIS_URL).
 */
export async function recoverUnfinishedRuns(database: Database, executor: RunExecutor): Promise<number> {
  const runs = await database.unfinishedRuns();
  for (const r of runs) executor.enqueue({ tenantId: r.tenantId, runId: r.id });
  return runs.length;
}

/**
 * Executes runs in this process (embedded mode, and `troupe dev` where the server is the worker).
 * Every runtime event is appended to the run's durable log and then published; each task's
 * completion is checkpointed in the same transaction, so a run picked up again resumes at its
 * first unfinished task.
 */
export function createInProcessExecutor(opts: ExecutorOptions): RunExecutor {
  const concurrency = opts.concurrency ?? DEFAULT_WORKER_CONCURRENCY;
  const flushMs = opts.flushMs ?? 50;
  // Runs start in fair order between tenants (see run-fairness.ts), as on BullMQ.
  const queue = new FairRunQueue();
  const running = new Map<string, RunHandle>();
  // Cancels of runs this executor has picked up but whose crew has not started yet.
  const pendingCancels = new Map<string, string>();
  const releases = new Map<string, AbortController>();
  // Runs cancelled after their attempt recorded a retry: the retry is not scheduled.
  const cancelledRetries = new Set<string>();
  // Runs waiting out their retry policy's backoff before their next attempt.
  const delayed = new Map<string, NodeJS.Timeout>();
  // Failed executions per run (see ExecutorOptions.retry).
  const failures = new Map<string, number>();
  const retry = opts.retry ?? { attempts: RUN_JOB_OPTIONS.attempts, delayMs: RUN_JOB_OPTIONS.backoff.delay };
  let busy = 0;
  let closed = false;
  const idleWaiters: (() => void)[] = [];

  const settle = () => {
    if (busy === 0 && queue.size === 0 && delayed.size === 0) for (const w of idleWaiters.splice(0)) w();
  };
  /** The run waits `ms`, then is queued again in the place its rank gives it. */
  const retryLater = (job: RunJob, rank: number, ms: number) => {
    if (closed) return;
    delayed.set(
      job.runId,
      setTimeout(() => {
        delayed.delete(job.runId);
        if (closed) return settle();
        queue.push(job, rank);
        pump();
      }, ms),
    );
  };
  const pump = () => {
    while (!closed && busy < concurrency && queue.size > 0) {
      const { job, rank } = queue.shift()!;
      if (releases.has(job.runId)) continue; // already executing here
      busy++;
      const release = new AbortController();
      releases.set(job.runId, release);
      executeRun(
        {
          database: opts.database,
          bus: opts.bus,
          providers: opts.providers,
          ...(opts.embedder ? { embedder: opts.embedder } : {}),
          flushMs,
          signal: release.signal,
          onCrewRun: (run) => {
            running.set(job.runId, run);
            const reason = pendingCancels.get(job.runId);
            if (reason !== undefined) {
              pendingCancels.delete(job.runId);
              run.cancel(reason);
            }
          },
          enqueue: (next) => {
            if (!closed) enqueue(next);
          },
        },
        job,
      )
        .then((outcome) => {
          failures.delete(job.runId);
          if (typeof outcome === 'object' && !cancelledRetries.has(job.runId))
            retryLater(job, rank, outcome.retryInMs);
        })
        .catch((err) => {
          const attempt = (failures.get(job.runId) ?? 0) + 1;
          const last = attempt >= retry.attempts;
          console.error(
            `troupe: run ${job.runId} could not be executed (attempt ${attempt} of ${retry.attempts}${last ? '' : ', trying again'}):`,
            err,
          );
          if (closed) return; // the next start resumes it (recoverUnfinishedRuns)
          if (!last) {
            failures.set(job.runId, attempt);
            retryLater(job, rank, retry.delayMs * 2 ** (attempt - 1));
            return;
          }
          failures.delete(job.runId);
          // Not left RUNNING for ever: RUN_FAILED, as a worker records a job out of attempts.
          return recordRunFailure(
            { database: opts.database, bus: opts.bus, enqueue },
            job,
            (err as Error)?.message ?? String(err),
          ).catch((e) => console.error(`troupe: run ${job.runId}: recording its failure failed:`, e));
        })
        .then(() => {
          // Cancelled before its crew started, which then never did: recorded here.
          const reason = running.has(job.runId) ? undefined : pendingCancels.get(job.runId);
          if (reason === undefined) return;
          // No retry of the failed execution either: it would find the run CANCELLED.
          failures.delete(job.runId);
          const waiting = delayed.get(job.runId);
          if (waiting) {
            clearTimeout(waiting);
            delayed.delete(job.runId);
          }
          return recordUnstartedCancel(
            { database: opts.database, bus: opts.bus, enqueue },
            job,
            reason,
          ).catch((e) => console.error(`troupe: run ${job.runId}: recording its cancellation failed:`, e));
        })
        .finally(() => {
          busy--;
          running.delete(job.runId);
          releases.delete(job.runId);
          pendingCancels.delete(job.runId);
          cancelledRetries.delete(job.runId);
          pump();
          settle();
        });
    }
  };

  const enqueue = (job: RunJob) => {
    if (closed) throw new Error('executor is closed');
    queue.push(job);
    pump();
  };

  return {
    enqueue,
    cancel(runId, reason) {
      const waiting = delayed.get(runId);
      if (waiting) {
        // Waiting for its next attempt (the run is QUEUED): the caller records the cancellation.
        clearTimeout(waiting);
        delayed.delete(runId);
        failures.delete(runId);
        settle();
        return false;
      }
      const r = running.get(runId);
      if (r) {
        if (r.cancel(reason)) return true;
        // Its attempt is over and the retry recorded (the run is QUEUED): no retry is scheduled,
        // and the caller records the cancellation.
        cancelledRetries.add(runId);
        return false;
      }
      if (releases.has(runId)) {
        // Picked up, its crew not started yet: cancelled as soon as it starts.
        pendingCancels.set(runId, reason);
        return true;
      }
      queue.remove(runId);
      // Queued, or held by nothing here (an execution that failed left it RUNNING): the caller
      // records the cancellation.
      return false;
    },
    respond(runId, decision) {
      const handle = running.get(runId);
      if (!handle) return 'not-held';
      return handle.respond(decision) ? 'answered' : 'not-waiting';
    },
    active: () => busy + queue.size + delayed.size,
    idle() {
      if (busy === 0 && queue.size === 0 && delayed.size === 0) return Promise.resolve();
      return new Promise((resolve) => idleWaiters.push(resolve));
    },
    async close() {
      closed = true;
      queue.clear();
      for (const t of delayed.values()) clearTimeout(t);
      delayed.clear();
      // Released, not cancelled: the runs stay unfinished in the database, and the next start
      // resumes them after their last finished task (see recoverUnfinishedRuns).
      for (const r of releases.values()) r.abort();
      if (busy > 0) await new Promise<void>((resolve) => idleWaiters.push(resolve));
    },
  };
}
