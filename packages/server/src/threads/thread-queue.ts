import type { Tx } from '../db/database.js';

/** Run states in which a chat run holds its thread: later messages wait or are refused. */
export const THREAD_BUSY_STATUSES = ['QUEUED', 'RUNNING', 'WAITING_FOR_APPROVAL'] as const;

/**
 * After a chat run ended: the thread's oldest run waiting for it (ENQUEUE policy) is released and
 * returned, to be queued once the transaction commits. The caller's transaction must hold the
 * thread's row lock (appending to the thread's log takes it), so two enders never release twice.
 */
export async function releaseNextThreadRun(tx: Tx, threadId: string): Promise<string | null> {
  const busy = await tx.run.count({
    where: { threadId, waitingForThread: false, status: { in: [...THREAD_BUSY_STATUSES] } },
  });
  if (busy > 0) return null;
  const next = await tx.run.findFirst({
    where: { threadId, waitingForThread: true, status: 'QUEUED' },
    orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
    select: { id: true },
  });
  if (!next) return null;
  await tx.run.update({ where: { id: next.id }, data: { waitingForThread: false } });
  return next.id;
}
