import type { ScriptRows } from '../db/database.js';
import { type SqlText, sql } from '../db/sql-text.js';

// A run's own columns read in a script (one message, no Prisma), returned as Prisma returns the
// row: for hot reads whose selection needs nothing else (polling a run's status, say).

/** Dates are read as epoch milliseconds: a timestamp without time zone parsed by pg is local time. */
const RUN_COLUMNS = sql`"id", "tenantId", "crewId", "crewVersionId", "threadId", "subject", "status", "inputs",
  "idempotencyKey", "output", "structuredOutput", "error", "attempts", "waitingForThread", "maxAttempts",
  "backoffMs", "failedAttempts", "lastSeq", "promptTokens", "completionTokens", "costUsd",
  (extract(epoch FROM "createdAt") * 1000)::float8 AS "createdAtMs",
  (extract(epoch FROM "startedAt") * 1000)::float8 AS "startedAtMs",
  (extract(epoch FROM "finishedAt") * 1000)::float8 AS "finishedAtMs",
  (extract(epoch FROM "updatedAt") * 1000)::float8 AS "updatedAtMs"`;

/** The run with this id, if the tenant (row-level security) and `scope` (a condition on "Run") see it. */
export function selectRunRow(id: string, scope: SqlText): SqlText {
  return sql`SELECT ${RUN_COLUMNS} FROM "Run" WHERE "id" = ${id} AND ${scope}`;
}

const date = (ms: unknown) => (ms === null || ms === undefined ? null : new Date(Number(ms)));

/** A row of selectRunRow as Prisma's `run.findFirst` returns it (every scalar column). */
export function runFromRow(row: ScriptRows[number]): Record<string, unknown> {
  const { createdAtMs, startedAtMs, finishedAtMs, updatedAtMs, ...columns } = row;
  return {
    ...columns,
    attempts: Number(columns.attempts),
    maxAttempts: Number(columns.maxAttempts),
    backoffMs: Number(columns.backoffMs),
    failedAttempts: Number(columns.failedAttempts),
    lastSeq: Number(columns.lastSeq),
    promptTokens: Number(columns.promptTokens),
    completionTokens: Number(columns.completionTokens),
    costUsd: Number(columns.costUsd),
    createdAt: date(createdAtMs),
    startedAt: date(startedAtMs),
    finishedAt: date(finishedAtMs),
    updatedAt: date(updatedAtMs),
  };
}
