import type { Database, Tx } from '../db/database.js';
import { SqlText, sql } from '../db/sql-text.js';
import type { Prisma } from '../generated/prisma/client.js';
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

/** A page of a run's log and where the log stood when it was read. */
export interface RunLogPage {
  /** Events after the requested number, ascending, at most the page size. */
  events: StoredRunEvent[];
  /** The run's last sequence number (read no later than the events). */
  lastSeq: number;
  /** The run has ended (or is gone): its log ends at lastSeq. */
  closed: boolean;
  /**
   * The log's owner (the run; a thread for a thread's log) exists and the reader may see it
   * (row-level security, and the scope condition the page was read with). When false the page is
   * empty and closed.
   */
  visible: boolean;
}

type ScriptRow = Record<string, unknown>;

/** A RunEvent row as the page reads select it (EVENT_COLUMNS). */
function pageEvent(e: ScriptRow, runId = e.runId as string): StoredRunEvent {
  return {
    runId,
    seq: Number(e.seq),
    type: e.type as RunEventType,
    at: new Date(Number(e.atMs)),
    taskRunId: (e.taskRunId as string | null) ?? null,
    delta: (e.delta as string | null) ?? null,
    data: e.data ?? null,
    threadId: (e.threadId as string | null) ?? null,
    threadSeq: e.threadSeq == null ? null : Number(e.threadSeq),
  };
}

const EVENT_COLUMNS = new SqlText(
  `"seq", "type", "taskRunId", "delta", "data", (extract(epoch FROM "at") * 1000)::float8 AS "atMs", "threadId", "threadSeq"`,
);

/**
 * Events of a run after `afterSeq` and the run's state, in one round trip: what a stream re-reads
 * when it (re)joins the log. The run's row is read first, so `lastSeq` never runs ahead of `events`.
 * `scope`, a condition on "Run" (see runScopeSql), narrows which run the reader may see: a run
 * outside it reads as not `visible`, with no events. The first page of a subscription is thus its
 * authorisation too.
 */
export async function readRunLogPage(
  database: Database,
  tenantId: string,
  runId: string,
  afterSeq: number,
  limit = 500,
  scope: SqlText = new SqlText('TRUE'),
): Promise<RunLogPage> {
  const [run, rows] = await database.script({ 'app.tenant_id': tenantId }, [
    sql`SELECT "status", "lastSeq" FROM "Run" WHERE "id" = ${runId} AND ${scope}`,
    // Read whatever the scope says (row-level security keeps other tenants' out): the rows of a
    // run outside the scope are dropped below, unseen.
    sql`SELECT ${EVENT_COLUMNS} FROM "RunEvent" WHERE "runId" = ${runId} AND "seq" > ${afterSeq} ORDER BY "seq" LIMIT ${limit}`,
  ]);
  const r = run![0];
  if (!r) return { events: [], lastSeq: 0, closed: true, visible: false };
  return {
    events: rows!.map((e) => pageEvent(e, runId)),
    lastSeq: Number(r.lastSeq),
    closed: TERMINAL_RUN_STATUSES.has(r.status as string),
    visible: true,
  };
}

/**
 * Events of a thread's log (every chat run's events, numbered by `threadSeq`) after `afterSeq`, and
 * the thread's last number, in one round trip. A thread's log stays open while the thread exists:
 * the page is `closed` only when the thread is gone, or not `visible` under `scope` (a condition
 * on "Thread", see threadScopeSql).
 */
export async function readThreadLogPage(
  database: Database,
  tenantId: string,
  threadId: string,
  afterSeq: number,
  limit = 500,
  scope: SqlText = new SqlText('TRUE'),
): Promise<RunLogPage> {
  const [thread, rows] = await database.script({ 'app.tenant_id': tenantId }, [
    sql`SELECT "lastSeq" FROM "Thread" WHERE "id" = ${threadId} AND ${scope}`,
    sql`SELECT "runId", ${EVENT_COLUMNS} FROM "RunEvent" WHERE "threadId" = ${threadId} AND "threadSeq" > ${afterSeq} ORDER BY "threadSeq" LIMIT ${limit}`,
  ]);
  const t = thread![0];
  if (!t) return { events: [], lastSeq: 0, closed: true, visible: false };
  return { events: rows!.map((e) => pageEvent(e)), lastSeq: Number(t.lastSeq), closed: false, visible: true };
}

const TERMINAL_RUN_STATUSES: ReadonlySet<string> = new Set(['SUCCEEDED', 'FAILED', 'CANCELLED']);
