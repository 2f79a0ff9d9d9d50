import { createId } from '../db/create-id.js';
import type { ScriptRows } from '../db/database.js';
import { joinSql, jsonb, type SqlText, sql } from '../db/sql-text.js';

// startRun as statements for the operation's script (ctx.script): the run and its task runs in one
// statement, the payload answered from what was inserted instead of read back.

export interface NewRun {
  tenantId: string;
  crewId: string;
  crewVersionId: string;
  /** Insert only while the crew is at this version (null: whatever version it is at). */
  crewVersion: number | null;
  inputs: Record<string, unknown>;
  idempotencyKey: string | null;
  /** The end user the run is for (see Run.subject), or null. */
  subject: string | null;
  taskNames: readonly string[];
}

/** The run with this idempotency key, if the tenant has one (what it was started with, to compare). */
export function runByIdempotencyKey(tenantId: string, key: string): SqlText {
  return sql`SELECT "id", "crewId", "threadId", "subject", "inputs" FROM "Run" WHERE "tenantId" = ${tenantId} AND "idempotencyKey" = ${key}`;
}

/**
 * Inserts the run (QUEUED, the crew's retry policy) and its task runs, in one statement. Nothing is
 * inserted when the crew is not visible (row-level security), not at `crewVersion`, or (with an
 * idempotency key) a run with the key exists: the statement then returns no row.
 */
export function insertRunStatement(run: NewRun, id: string, now: Date): SqlText {
  const crewAt = run.crewVersion === null ? sql`` : sql` AND "version" = ${run.crewVersion}`;
  const unused =
    run.idempotencyKey === null
      ? sql``
      : sql` WHERE NOT EXISTS (SELECT 1 FROM "Run" WHERE "tenantId" = ${run.tenantId} AND "idempotencyKey" = ${run.idempotencyKey})`;
  // The same key in a request at once: the later insert waits for the earlier one's commit, then
  // inserts nothing (and the caller reads that run), instead of failing on the unique index.
  const conflict =
    run.idempotencyKey === null ? sql`` : sql` ON CONFLICT ("tenantId", "idempotencyKey") DO NOTHING`;
  const tasks = run.taskNames.map((name, position) => sql`(${createId()}, ${name}, ${position})`);
  return sql`WITH c AS (SELECT "id", "maxAttempts", "backoffMs" FROM "Crew" WHERE "id" = ${run.crewId}${crewAt}),
r AS (INSERT INTO "Run" ("id", "tenantId", "crewId", "crewVersionId", "subject", "inputs", "idempotencyKey",
  "maxAttempts", "backoffMs", "createdAt", "updatedAt")
SELECT ${id}, ${run.tenantId}, c."id", ${run.crewVersionId}, ${run.subject}, ${jsonb(run.inputs)}, ${run.idempotencyKey},
  c."maxAttempts", c."backoffMs", ${now}, ${now} FROM c${unused}${conflict}
RETURNING "id", "maxAttempts", "backoffMs")${
    tasks.length === 0
      ? sql``
      : sql`,
t AS (INSERT INTO "TaskRun" ("id", "tenantId", "runId", "taskName", "position")
SELECT v.id, ${run.tenantId}, r."id", v.name, v.position FROM r,
  (VALUES ${joinSql(tasks)}) AS v(id, name, position))`
  }
SELECT "id", "maxAttempts", "backoffMs" FROM r`;
}

/** The inserted run as Prisma would read it back (every other column at its default), or null. */
export function insertedRun(run: NewRun, now: Date, rows: ScriptRows): Record<string, unknown> | null {
  const r = rows[0];
  if (!r) return null;
  return {
    id: r.id as string,
    tenantId: run.tenantId,
    crewId: run.crewId,
    crewVersionId: run.crewVersionId,
    threadId: null,
    subject: run.subject,
    status: 'QUEUED',
    inputs: run.inputs,
    idempotencyKey: run.idempotencyKey,
    output: null,
    structuredOutput: null,
    error: null,
    attempts: 0,
    waitingForThread: false,
    maxAttempts: Number(r.maxAttempts),
    backoffMs: Number(r.backoffMs),
    failedAttempts: 0,
    lastSeq: 0,
    promptTokens: 0,
    completionTokens: 0,
    costUsd: 0,
    createdAt: now,
    startedAt: null,
    finishedAt: null,
    updatedAt: now,
  };
}

/** Whether two JSON values are the same, whatever the order of their objects' keys (as jsonb keeps them). */
export function sameJson(a: unknown, b: unknown): boolean {
  const canonical = (v: unknown): unknown =>
    Array.isArray(v)
      ? v.map(canonical)
      : v !== null && typeof v === 'object'
        ? Object.fromEntries(
            Object.keys(v)
              .sort()
              .map((k) => [k, canonical((v as Record<string, unknown>)[k])]),
          )
        : v;
  return JSON.stringify(canonical(a)) === JSON.stringify(canonical(b));
}
