import type { Tx } from '../db/database.js';
import type { Prisma, RunEvent as RunEventRow } from '../generated/prisma/client.js';
import type { RunEventType } from '../generated/prisma/enums.js';
import { enqueueWebhookDeliveries } from '../webhooks/webhook-outbox.js';

/** One entry of a run's durable event log. `seq` starts at 1 and has no holes. */
export interface StoredRunEvent {
  runId: string;
  seq: number;
  type: RunEventType;
  at: Date;
  taskRunId: string | null;
  /** Token text on TOKEN events. */
  delta: string | null;
  data: unknown;
  /** Chat runs: the thread's log holds the event too, as number `threadSeq`. */
  threadId?: string | null;
  threadSeq?: number | null;
}

export type NewRunEvent = Omit<StoredRunEvent, 'runId' | 'seq' | 'at' | 'threadId' | 'threadSeq'> & {
  at?: Date;
};

export const TERMINAL_EVENT_TYPES: ReadonlySet<RunEventType> = new Set([
  'RUN_SUCCEEDED',
  'RUN_FAILED',
  'RUN_CANCELLED',
]);

/**
 * Appends events to a run's log, numbering them after the run's last sequence number. The
 * UPDATE of Run.lastSeq locks the run's row, so concurrent writers get consecutive, unique
 * numbers; the caller's transaction makes the batch all-or-nothing. A chat run's events are
 * numbered in its thread's log as well (Thread.lastSeq, locked the same way, run row first).
 */
export async function appendRunEvents(
  tx: Tx,
  tenantId: string,
  runId: string,
  events: NewRunEvent[],
): Promise<StoredRunEvent[]> {
  if (events.length === 0) return [];
  const run = await tx.run.update({
    where: { id: runId },
    data: { lastSeq: { increment: events.length } },
    select: { lastSeq: true, threadId: true },
  });
  const first = run.lastSeq - events.length + 1;
  let threadFirst: number | null = null;
  if (run.threadId) {
    const thread = await tx.thread.update({
      where: { id: run.threadId },
      data: { lastSeq: { increment: events.length } },
      select: { lastSeq: true },
    });
    threadFirst = thread.lastSeq - events.length + 1;
  }
  const now = new Date();
  const stored: StoredRunEvent[] = events.map((e, i) => ({
    runId,
    seq: first + i,
    type: e.type,
    at: e.at ?? now,
    taskRunId: e.taskRunId,
    delta: e.delta,
    data: e.data ?? null,
    threadId: run.threadId,
    threadSeq: threadFirst === null ? null : threadFirst + i,
  }));
  await tx.runEvent.createMany({
    data: stored.map((e) => ({
      tenantId,
      runId,
      seq: e.seq,
      type: e.type,
      at: e.at,
      taskRunId: e.taskRunId,
      delta: e.delta,
      data: (e.data ?? undefined) as Prisma.InputJsonValue | undefined,
      threadId: e.threadId ?? null,
      threadSeq: e.threadSeq ?? null,
    })),
  });
  // Outbox: a terminal event's webhook deliveries commit (or roll back) with it.
  if (stored.some((e) => TERMINAL_EVENT_TYPES.has(e.type)))
    await enqueueWebhookDeliveries(tx, tenantId, runId, stored);
  return stored;
}

function toStoredEvent(r: RunEventRow): StoredRunEvent {
  const { tenantId: _t, ...event } = r;
  return event;
}

/** Events of a run after `afterSeq`, in order, at most `limit`. */
export async function readRunEvents(
  tx: Tx,
  runId: string,
  afterSeq: number,
  limit = 1000,
): Promise<StoredRunEvent[]> {
  const rows = await tx.runEvent.findMany({
    where: { runId, seq: { gt: afterSeq } },
    orderBy: { seq: 'asc' },
    take: limit,
  });
  return rows.map(toStoredEvent);
}

/** Events of a thread's log (every chat run's events) after `afterSeq`, in order, at most `limit`. */
export async function readThreadEvents(
  tx: Tx,
  threadId: string,
  afterSeq: number,
  limit = 1000,
): Promise<StoredRunEvent[]> {
  const rows = await tx.runEvent.findMany({
    where: { threadId, threadSeq: { gt: afterSeq } },
    orderBy: { threadSeq: 'asc' },
    take: limit,
  });
  return rows.map(toStoredEvent);
}
