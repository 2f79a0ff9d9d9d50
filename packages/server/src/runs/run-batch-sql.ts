import type { RunEvent, TaskOutput } from '@troupe/agents';
import { createId } from '../db/create-id.js';
import type { ScriptRows } from '../db/database.js';
import { joinSql, jsonb, SqlText, sql } from '../db/sql-text.js';
import type { NewRunEvent, StoredRunEvent } from '../events/run-event-log.js';
import { webhookEventOf, webhookPayload } from '../webhooks/webhook-outbox.js';

// A run's hot path as SQL scripts (Database.script: one round trip each): claiming the run when an
// executor picks it up, and storing a batch of its events with the state they imply. Chat runs
// (messages, the thread's log and queue) keep the Prisma path in execute-run.

/**
 * The run ended (or was deleted) while this executor ran it: another writer recorded its end. The
 * executor stops, writing nothing more.
 */
export class RunEndedElsewhere extends Error {
  constructor(runId: string) {
    super(`run ${runId} ended elsewhere while it was executing here`);
    this.name = 'RunEndedElsewhere';
  }
}

/** Marks the run RUNNING unless it is over, and returns it with its task checkpoints. */
export function claimRunStatement(runId: string, now: Date): SqlText {
  return sql`UPDATE "Run" SET "status" = 'RUNNING', "startedAt" = COALESCE("startedAt", ${now}),
  "attempts" = "attempts" + 1, "updatedAt" = ${now}
WHERE "id" = ${runId} AND "status" NOT IN ('SUCCEEDED', 'FAILED', 'CANCELLED')
RETURNING "id", "crewId", "crewVersionId", "threadId", "inputs", "maxAttempts", "backoffMs", "failedAttempts",
  (extract(epoch FROM "createdAt") * 1000)::float8 AS "createdAtMs",
  (SELECT coalesce(jsonb_agg(jsonb_build_object('id', t."id", 'taskName', t."taskName", 'status', t."status",
     'output', t."output", 'structuredOutput', t."structuredOutput")), '[]'::jsonb)
   FROM "TaskRun" t WHERE t."runId" = "Run"."id") AS "taskRuns"`;
}

export interface ClaimedRun {
  id: string;
  crewId: string | null;
  crewVersionId: string;
  threadId: string | null;
  inputs: unknown;
  maxAttempts: number;
  backoffMs: number;
  failedAttempts: number;
  createdAt: Date;
  taskRuns: {
    id: string;
    taskName: string;
    status: string;
    output: string | null;
    structuredOutput: unknown;
  }[];
}

/** The claimed run, or null when it was over (or gone). */
export function parseClaimedRun(rows: ScriptRows): ClaimedRun | null {
  const r = rows[0];
  if (!r) return null;
  return {
    id: r.id as string,
    crewId: (r.crewId as string | null) ?? null,
    crewVersionId: r.crewVersionId as string,
    threadId: (r.threadId as string | null) ?? null,
    inputs: r.inputs,
    maxAttempts: Number(r.maxAttempts),
    backoffMs: Number(r.backoffMs),
    failedAttempts: Number(r.failedAttempts),
    createdAt: new Date(Number(r.createdAtMs)),
    taskRuns: r.taskRuns as ClaimedRun['taskRuns'],
  };
}

/** Task checkpoints of a claimed run: the outputs of the tasks that already succeeded. */
export function completedTasksOf(taskRuns: ClaimedRun['taskRuns']): Record<string, TaskOutput> {
  const done: Record<string, TaskOutput> = {};
  for (const t of taskRuns) {
    if (t.status === 'SUCCEEDED' && t.output !== null) {
      done[t.taskName] = {
        output: t.output,
        ...(t.structuredOutput != null ? { structuredOutput: t.structuredOutput } : {}),
      };
    }
  }
  return done;
}

/** A column assignment only when the value is given (Prisma's `undefined`: leave it as it is). */
const col = (name: string) => new SqlText(`"${name}"`);

/** Column assignments of one UPDATE, in order; a later assignment to a column replaces an earlier one. */
class Assignments {
  private readonly sets = new Map<string, SqlText>();
  set(column: string, value: SqlText): this {
    this.sets.set(column, value);
    return this;
  }
  /** `undefined`: leave the column as it is (Prisma's convention). */
  setJson(column: string, v: unknown): this {
    return v === undefined ? this : this.set(column, jsonb(v));
  }
  get(column: string): SqlText | undefined {
    return this.sets.get(column);
  }
  sql(): SqlText {
    return joinSql([...this.sets].map(([c, v]) => sql`${col(c)} = ${v}`));
  }
}

const value = (v: Parameters<typeof sql>[1]) => sql`${v}`;
const WAITING = "'WAITING_FOR_APPROVAL'";
/** TASK_COMPLETED resumes a run that waited for approval, and leaves any other status alone. */
const RESUMED = new SqlText(`CASE WHEN "status" = ${WAITING} THEN 'RUNNING'::"RunStatus" ELSE "status" END`);

/**
 * What a batch of events means for the run's row and its task runs, merged into one assignment list
 * per row (an UPDATE per row instead of one per event; same final state as applying the events one
 * after another, as execute-run's applyState does for chat runs).
 */
function batchState(
  runId: string,
  batch: readonly RunEvent[],
  taskRunIds: ReadonlyMap<string, string>,
  now: Date,
) {
  const run = new Assignments();
  const usage: { promptTokens: SqlText[]; completionTokens: SqlText[]; costUsd: SqlText[] } = {
    promptTokens: [],
    completionTokens: [],
    costUsd: [],
  };
  const tasks = new Map<string, Assignments>();
  const attempts = new Map<string, number>();
  /** RUN_FAILED / RUN_CANCELLED: every task run still open in that state, after the per-task updates. */
  let openTasksEnd: 'FAILED' | 'CANCELLED' | null = null;
  let endedAt: Date | null = null;
  const task = (id: string) => {
    let a = tasks.get(id);
    if (!a) {
      a = new Assignments();
      tasks.set(id, a);
    }
    return a;
  };
  for (const e of batch) {
    const at = new Date(e.timestamp);
    const taskRunId = 'taskName' in e ? taskRunIds.get(e.taskName) : undefined;
    switch (e.type) {
      case 'TASK_STARTED':
        if (taskRunId) {
          task(taskRunId).set('status', value('RUNNING')).set('startedAt', value(at));
          attempts.set(taskRunId, (attempts.get(taskRunId) ?? 0) + 1);
        }
        break;
      case 'APPROVAL_REQUESTED':
        if (taskRunId)
          task(taskRunId).set('status', value('WAITING_FOR_APPROVAL')).set('output', value(e.output));
        run.set('status', new SqlText(WAITING));
        break;
      case 'TASK_COMPLETED': {
        if (taskRunId) {
          const t = task(taskRunId)
            .set('status', value('SUCCEEDED'))
            .set('output', value(e.output))
            .setJson('structuredOutput', e.structuredOutput)
            .set('promptTokens', value(e.usage.promptTokens))
            .set('completionTokens', value(e.usage.completionTokens))
            .set('costUsd', value(e.usage.costUsd))
            .set('finishedAt', value(at));
          if (e.approval)
            t.set('approved', value(true)).set('approvalFeedback', value(e.approval.feedback ?? null));
        }
        const status = run.get('status');
        if (!status) run.set('status', RESUMED);
        else if (status.text === WAITING) run.set('status', value('RUNNING'));
        break;
      }
      case 'USAGE':
        usage.promptTokens.push(value(e.promptTokens));
        usage.completionTokens.push(value(e.completionTokens));
        usage.costUsd.push(value(e.costUsd));
        break;
      case 'RUN_SUCCEEDED':
        run
          .set('status', value('SUCCEEDED'))
          .set('output', value(e.output))
          .setJson('structuredOutput', e.structuredOutput)
          .set('finishedAt', value(at));
        break;
      case 'RUN_FAILED':
        run.set('status', value('FAILED')).setJson('error', e.error).set('finishedAt', value(at));
        openTasksEnd = 'FAILED';
        endedAt = at;
        break;
      case 'RUN_CANCELLED':
        run.set('status', value('CANCELLED')).set('finishedAt', value(at));
        openTasksEnd = 'CANCELLED';
        endedAt = at;
        break;
      default:
        break;
    }
  }
  for (const [id, n] of attempts) task(id).set('attempts', sql`"attempts" + ${n}`);
  // Usage adds up term by term, as the separate increments did (exact NUMERIC sums, no float rounding).
  for (const c of ['promptTokens', 'completionTokens', 'costUsd'] as const)
    if (usage[c].length) run.set(c, joinSql([new SqlText(`"${c}"`), ...usage[c]], ' + '));
  run.set('updatedAt', value(now));
  const closeOpenTasks =
    openTasksEnd &&
    sql`UPDATE "TaskRun" SET "status" = ${openTasksEnd}, "finishedAt" = ${endedAt}
WHERE "runId" = ${runId} AND "status" IN (${joinSql(
      (openTasksEnd === 'CANCELLED'
        ? ['PENDING', 'RUNNING', 'WAITING_FOR_APPROVAL']
        : ['RUNNING', 'WAITING_FOR_APPROVAL']
      ).map((s) => value(s)),
    )})`;
  return { run, tasks, closeOpenTasks };
}

/**
 * A batch of a (non-chat) run's events, as few statements as its meaning allows (usually one): the
 * log numbers them after Run.lastSeq (the UPDATE locks the run's row, so concurrent writers get
 * consecutive numbers), stores them, applies the state they imply and, for a terminal event, writes
 * its webhook deliveries (the outbox) with the run's final totals. The run's row, its events, task
 * runs, usage records and deliveries are written by one statement whose parts are data-modifying
 * CTEs; a failed or cancelled run's remaining task runs are closed by a second one (a CTE cannot
 * update a row another part of the same statement updates). `storedEvents` turns the script's first
 * result into the logged events.
 */
export function batchStatements(opts: {
  tenantId: string;
  runId: string;
  crewId: string | null;
  batch: readonly RunEvent[];
  log: readonly NewRunEvent[];
  taskRunIds: ReadonlyMap<string, string>;
}): { statements: SqlText[]; storedEvents(first: ScriptRows): StoredRunEvent[] } {
  const { tenantId, runId, log } = opts;
  const n = log.length;
  const now = new Date();
  const { run, tasks, closeOpenTasks } = batchState(runId, opts.batch, opts.taskRunIds, now);
  run.set('lastSeq', sql`"lastSeq" + ${n}`);
  const parts: SqlText[] = [
    // Only while the run is unfinished: a run that ended elsewhere meanwhile (cancelled by a server
    // that found nobody holding it, say) keeps its end, and this batch writes nothing (no events,
    // no task state, no webhook deliveries) but its usage, which was spent.
    sql`u AS (UPDATE "Run" SET ${run.sql()} WHERE "id" = ${runId} AND "status" NOT IN ('SUCCEEDED', 'FAILED', 'CANCELLED')
  RETURNING "lastSeq", "promptTokens", "completionTokens", "costUsd")`,
  ];
  const rows = log.map(
    (e, i) => sql`(${n - 1 - i}, ${e.type}, ${e.taskRunId}, ${e.delta}, ${jsonb(e.data)}, ${e.at ?? now})`,
  );
  parts.push(sql`e AS (INSERT INTO "RunEvent" ("tenantId", "runId", "seq", "type", "taskRunId", "delta", "data", "at")
  SELECT ${tenantId}, ${runId}, u."lastSeq" - v.back, v.type::"RunEventType", v.task, v.delta, v.data::jsonb, v.at::timestamp(3)
  FROM u, (VALUES ${joinSql(rows)}) AS v(back, type, task, delta, data, at))`);
  const taskUpdates = [...tasks].map(([id, a]) => sql`UPDATE "TaskRun" SET ${a.sql()} WHERE "id" = ${id}`);
  // Task runs are updated by the main statement unless the second one updates them too.
  if (!closeOpenTasks)
    for (const [i, [id, a]] of [...tasks].entries())
      parts.push(
        sql`t${new SqlText(String(i))} AS (UPDATE "TaskRun" SET ${a.sql()} WHERE "id" = ${id} AND EXISTS (SELECT 1 FROM u))`,
      );
  const usage = opts.batch.filter((e) => e.type === 'USAGE');
  if (usage.length) {
    const values = usage.map((e) => {
      const taskRunId = opts.taskRunIds.get(e.taskName) ?? null;
      return sql`(${createId()}, ${tenantId}, ${runId}, ${taskRunId}, ${e.agentName}, ${e.provider}, ${e.model},
  ${e.promptTokens}, ${e.completionTokens}, ${e.costUsd}, ${new Date(e.timestamp)})`;
    });
    parts.push(sql`r AS (INSERT INTO "UsageRecord" ("id", "tenantId", "runId", "taskRunId", "agentName", "provider", "model",
  "promptTokens", "completionTokens", "costUsd", "at")
VALUES ${joinSql(values)})`);
  }
  const terminal = webhookEventOf(log.map((e) => ({ ...e, at: e.at ?? now })));
  if (terminal && opts.crewId) {
    // One delivery per enabled webhook of the run's crew that subscribes to the event; usage is
    // the run's total with this batch's USAGE events (the run's row as the UPDATE left it).
    const payload = webhookPayload(terminal.type, runId, opts.crewId, terminal, {
      promptTokens: 0,
      completionTokens: 0,
      costUsd: 0,
    });
    parts.push(sql`w AS (INSERT INTO "WebhookDelivery" ("id", "tenantId", "webhookId", "runId", "event", "payload",
  "nextAttemptAt", "createdAt")
SELECT ${createId().slice(0, 21)} || lpad((row_number() OVER (ORDER BY w."id"))::text, 4, '0'), ${tenantId}, w."id", ${runId},
  ${terminal.type}::"WebhookEvent",
  ${jsonb(payload)} || jsonb_build_object('usage', jsonb_build_object('promptTokens', u."promptTokens",
    'completionTokens', u."completionTokens", 'totalTokens', u."promptTokens" + u."completionTokens",
    'costUsd', u."costUsd")),
  ${terminal.at}, ${now}
FROM "Webhook" w, u
WHERE w."crewId" = ${opts.crewId} AND w."enabled" AND ${terminal.type}::"WebhookEvent" = ANY (w."events"))`);
  }
  const statements = [sql`WITH ${joinSql(parts, ',\n')}\nSELECT "lastSeq" FROM u`];
  if (closeOpenTasks) statements.push(...taskUpdates, closeOpenTasks);
  return {
    statements,
    storedEvents(first) {
      if (!first[0]) throw new RunEndedElsewhere(runId);
      const last = Number(first[0].lastSeq);
      if (!Number.isInteger(last)) throw new Error(`run ${runId} not found while logging its events`);
      return log.map((e, i) => ({
        runId,
        seq: last - n + 1 + i,
        type: e.type,
        at: e.at ?? now,
        taskRunId: e.taskRunId,
        delta: e.delta,
        data: e.data ?? null,
        threadId: null,
        threadSeq: null,
      }));
    },
  };
}
