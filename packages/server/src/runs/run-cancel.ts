import type { Tx } from '../db/database.js';
import { appendRunEvents, type StoredRunEvent } from '../events/run-event-log.js';
import { releaseNextThreadRun } from '../threads/thread-queue.js';

export const UNFINISHED_RUN_STATUSES = ['QUEUED', 'RUNNING', 'WAITING_FOR_APPROVAL'] as const;
export type UnfinishedRunStatus = (typeof UNFINISHED_RUN_STATUSES)[number];

/**
 * Records the cancellation of a run that no executor holds, in the caller's transaction: the run
 * CANCELLED (only from one of `from`), its unfinished task runs CANCELLED (finished ones keep their
 * checkpoints: a retried run does not pay for them again), RUN_CANCELLED in its log, and for a chat
 * run, its thread's next run released. Null when the run was in none of `from` (it ended, or an
 * executor took it up meanwhile): nothing is written.
 */
export async function recordCancellation(
  tx: Tx,
  run: { tenantId: string; runId: string; threadId: string | null },
  reason: string,
  from: readonly UnfinishedRunStatus[] = UNFINISHED_RUN_STATUSES,
): Promise<{ events: StoredRunEvent[]; next: string | null } | null> {
  const at = new Date();
  // A chat run's thread is locked first, as the run ending before it locks it (appending to the
  // thread's log) and then this run (releasing it): the other order deadlocks with that.
  if (run.threadId)
    await tx.thread.updateMany({ where: { id: run.threadId }, data: { lastSeq: { increment: 0 } } });
  const { count } = await tx.run.updateMany({
    where: { id: run.runId, status: { in: [...from] } },
    data: { status: 'CANCELLED', finishedAt: at },
  });
  if (count === 0) return null;
  await tx.taskRun.updateMany({
    where: { runId: run.runId, status: { in: ['PENDING', 'RUNNING', 'WAITING_FOR_APPROVAL'] } },
    data: { status: 'CANCELLED', finishedAt: at },
  });
  const events = await appendRunEvents(tx, run.tenantId, run.runId, [
    { type: 'RUN_CANCELLED', taskRunId: null, delta: null, data: { reason }, at },
  ]);
  // A chat run that was next in its thread hands the turn on.
  const next = run.threadId ? await releaseNextThreadRun(tx, run.threadId) : null;
  return { events, next };
}
