import type { RunEvent, TaskOutput } from '@troupe/agents';
import { createId } from '../db/create-id.js';
import type { ScriptRows } from '../db/database.js';
import { joinSql, jsonb, SqlText, sql } from '../db/sql-text.js';
import type { NewRunEvent, StoredRunEvent } from '../events/run-event-log.js';
import { webhookEventOf, webhookPayload } from '../webhooks/webhook-outbox.js';

// A run's hot path as SQL scripts (Database.script: one round trip each): claiming the run when an
// executor picks it up, and storing a batch of its events with the state they imply. Chat runs
// (messages, the thread's log and queue) keep the Prisma path in execute-run.

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
const setJson = (column: SqlText, v: unknown): SqlText[] =>
  v === undefined ? [] : [sql`${column} = ${jsonb(v)}`];
const col = (name: 'structuredOutput' | 'error') => new SqlText(`"${name}"`);

/** The statements that apply what an event means to the run's rows (as execute-run's applyState). */
function stateStatements(
  tenantId: string,
  runId: string,
  e: RunEvent,
  taskRunId: string | undefined,
): SqlText[] {
  const at = new Date(e.timestamp);
  switch (e.type) {
    case 'TASK_STARTED':
      return taskRunId
        ? [
            sql`UPDATE "TaskRun" SET "status" = 'RUNNING', "startedAt" = ${at}, "attempts" = "attempts" + 1
WHERE "id" = ${taskRunId}`,
          ]
        : [];
    case 'APPROVAL_REQUESTED':
      return [
        ...(taskRunId
          ? [
              sql`UPDATE "TaskRun" SET "status" = 'WAITING_FOR_APPROVAL', "output" = ${e.output} WHERE "id" = ${taskRunId}`,
            ]
          : []),
        sql`UPDATE "Run" SET "status" = 'WAITING_FOR_APPROVAL', "updatedAt" = ${new Date()} WHERE "id" = ${runId}`,
      ];
    case 'TASK_COMPLETED': {
      const sets = [
        sql`"status" = 'SUCCEEDED'`,
        sql`"output" = ${e.output}`,
        ...setJson(col('structuredOutput'), e.structuredOutput),
        sql`"promptTokens" = ${e.usage.promptTokens}`,
        sql`"completionTokens" = ${e.usage.completionTokens}`,
        sql`"costUsd" = ${e.usage.costUsd}`,
        sql`"finishedAt" = ${at}`,
        ...(e.approval
          ? [sql`"approved" = TRUE`, sql`"approvalFeedback" = ${e.approval.feedback ?? null}`]
          : []),
      ];
      return [
        ...(taskRunId ? [sql`UPDATE "TaskRun" SET ${joinSql(sets)} WHERE "id" = ${taskRunId}`] : []),
        sql`UPDATE "Run" SET "status" = 'RUNNING', "updatedAt" = ${new Date()}
WHERE "id" = ${runId} AND "status" = 'WAITING_FOR_APPROVAL'`,
      ];
    }
    case 'USAGE':
      return [
        sql`INSERT INTO "UsageRecord" ("id", "tenantId", "runId", "taskRunId", "agentName", "provider", "model",
  "promptTokens", "completionTokens", "costUsd", "at")
VALUES (${createId()}, ${tenantId}, ${runId}, ${taskRunId ?? null}, ${e.agentName}, ${e.provider}, ${e.model},
  ${e.promptTokens}, ${e.completionTokens}, ${e.costUsd}, ${at})`,
        sql`UPDATE "Run" SET "promptTokens" = "promptTokens" + ${e.promptTokens},
  "completionTokens" = "completionTokens" + ${e.completionTokens}, "costUsd" = "costUsd" + ${e.costUsd},
  "updatedAt" = ${new Date()}
WHERE "id" = ${runId}`,
      ];
    case 'RUN_SUCCEEDED':
      return [
        sql`UPDATE "Run" SET ${joinSql([
          sql`"status" = 'SUCCEEDED'`,
          sql`"output" = ${e.output}`,
          ...setJson(col('structuredOutput'), e.structuredOutput),
          sql`"finishedAt" = ${at}`,
          sql`"updatedAt" = ${new Date()}`,
        ])} WHERE "id" = ${runId}`,
      ];
    case 'RUN_FAILED':
      return [
        sql`UPDATE "Run" SET ${joinSql([
          sql`"status" = 'FAILED'`,
          ...setJson(col('error'), e.error),
          sql`"finishedAt" = ${at}`,
          sql`"updatedAt" = ${new Date()}`,
        ])} WHERE "id" = ${runId}`,
        sql`UPDATE "TaskRun" SET "status" = 'FAILED', "finishedAt" = ${at}
WHERE "runId" = ${runId} AND "status" IN ('RUNNING', 'WAITING_FOR_APPROVAL')`,
      ];
    case 'RUN_CANCELLED':
      return [
        sql`UPDATE "Run" SET "status" = 'CANCELLED', "finishedAt" = ${at}, "updatedAt" = ${new Date()} WHERE "id" = ${runId}`,
        sql`UPDATE "TaskRun" SET "status" = 'CANCELLED', "finishedAt" = ${at}
WHERE "runId" = ${runId} AND "status" IN ('PENDING', 'RUNNING', 'WAITING_FOR_APPROVAL')`,
      ];
    default:
      return [];
  }
}

/**
 * A batch of a (non-chat) run's events as one script: the log numbers them after Run.lastSeq (the
 * UPDATE locks the run's row, so concurrent writers get consecutive numbers), stores them, applies
 * the state they imply and, for a terminal event, writes its webhook deliveries (the outbox) with
 * the run's final totals. `storedEvents` turns the script's first result into the logged events.
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
  const lastSeq = sql`(SELECT "lastSeq" FROM "Run" WHERE "id" = ${runId})`;
  const rows = log.map(
    (e, i) =>
      sql`(${tenantId}, ${runId}, ${lastSeq} - ${n - 1 - i}, ${e.type}, ${e.taskRunId}, ${e.delta}, ${jsonb(e.data)}, ${e.at ?? now})`,
  );
  const statements = [
    sql`UPDATE "Run" SET "lastSeq" = "lastSeq" + ${n}, "updatedAt" = ${now} WHERE "id" = ${runId} RETURNING "lastSeq"`,
    sql`INSERT INTO "RunEvent" ("tenantId", "runId", "seq", "type", "taskRunId", "delta", "data", "at")
VALUES ${joinSql(rows)}`,
  ];
  for (const e of opts.batch) {
    if (e.type === 'TOKEN') continue;
    const taskRunId = 'taskName' in e ? opts.taskRunIds.get(e.taskName) : undefined;
    statements.push(...stateStatements(tenantId, runId, e, taskRunId));
  }
  const terminal = webhookEventOf(log.map((e) => ({ ...e, at: e.at ?? now })));
  if (terminal && opts.crewId) {
    // One delivery per enabled webhook of the run's crew that subscribes to the event; usage is
    // the run's total once this batch's USAGE events are applied (the statements above).
    const payload = webhookPayload(terminal.type, runId, opts.crewId, terminal, {
      promptTokens: 0,
      completionTokens: 0,
      costUsd: 0,
    });
    statements.push(sql`INSERT INTO "WebhookDelivery" ("id", "tenantId", "webhookId", "runId", "event", "payload", "nextAttemptAt",
  "createdAt")
SELECT ${createId().slice(0, 21)} || lpad((row_number() OVER (ORDER BY w."id"))::text, 4, '0'), ${tenantId}, w."id", r."id",
  ${terminal.type}::"WebhookEvent",
  ${jsonb(payload)} || jsonb_build_object('usage', jsonb_build_object('promptTokens', r."promptTokens",
    'completionTokens', r."completionTokens", 'totalTokens', r."promptTokens" + r."completionTokens",
    'costUsd', r."costUsd")),
  ${terminal.at}, ${now}
FROM "Webhook" w JOIN "Run" r ON r."crewId" = w."crewId"
WHERE r."id" = ${runId} AND w."enabled" AND ${terminal.type}::"WebhookEvent" = ANY (w."events")`);
  }
  return {
    statements,
    storedEvents(first) {
      const last = Number(first[0]?.lastSeq);
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
