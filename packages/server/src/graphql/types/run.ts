import { encodeGlobalID } from '@pothos/plugin-relay';
import { type GraphQLResolveInfo, Kind } from 'graphql';
import type { CrewDefinition } from '../../crews/crew-definition.js';
import { crewVersionCache } from '../../crews/crew-version-cache.js';
import { idempotencyKeyText, optionalText } from '../../crews/input-rules.js';
import { createId } from '../../db/create-id.js';
import type { ScriptRows } from '../../db/database.js';
import { sql } from '../../db/sql-text.js';
import { badInput, notFound, TroupeServerError } from '../../errors.js';
import { publishCommitted, publishEvents, runChannel } from '../../events/run-channels.js';
import { readRunLogPage, type StoredRunEvent } from '../../events/run-event-log.js';
import { openRunEventStream } from '../../events/run-event-stream.js';
import { Prisma } from '../../generated/prisma/client.js';
import { RunEventType, RunStatus, TaskRunStatus } from '../../generated/prisma/enums.js';
import { recordCancellation, UNFINISHED_RUN_STATUSES } from '../../runs/run-cancel.js';
import { loadRuntime } from '../../runs/run-executor.js';
import { runFromRow, selectRunRow } from '../../runs/run-row-sql.js';
import { publishRunUpdate, type RunUpdate, tenantRunsChannel } from '../../runs/run-updates.js';
import {
  insertedRun,
  insertRunStatement,
  type NewRun,
  runByIdempotencyKey,
  sameJson,
} from '../../runs/start-run-sql.js';
import { assertNotThreadLimited, runActScope, runScope, runScopeSql } from '../../threads/thread-access.js';
import type { JsonValue } from '../builder.js';
import { builder } from '../builder.js';
import { type Context, tenantOf } from '../context.js';
import { parseGlobalId } from '../global-id.js';

const RunStatusEnum = builder.enumType(RunStatus, { name: 'RunStatus' });
const TaskRunStatusEnum = builder.enumType(TaskRunStatus, { name: 'TaskRunStatus' });
export const RunEventTypeEnum = builder.enumType(RunEventType, { name: 'RunEventType' });

const Usage = builder
  .objectRef<{ promptTokens: number; completionTokens: number; costUsd: number }>('Usage')
  .implement({
    description: 'Token usage and cost, summed over every LLM call.',
    fields: (t) => ({
      promptTokens: t.exposeInt('promptTokens'),
      completionTokens: t.exposeInt('completionTokens'),
      totalTokens: t.int({ resolve: (u) => u.promptTokens + u.completionTokens }),
      costUsd: t.exposeFloat('costUsd'),
    }),
  });

const PinnedTask = builder.objectRef<{ name: string; agent: string }>('PinnedTask').implement({
  description: 'A task as it was in the crew version the run pinned.',
  fields: (t) => ({
    name: t.exposeString('name'),
    agentName: t.exposeString('agent'),
  }),
});

function errorMessage(error: unknown): string | null {
  if (error == null) return null;
  if (typeof error === 'object' && 'message' in error) return String((error as { message: unknown }).message);
  return String(error);
}

builder.prismaNode('TaskRun', {
  id: { field: 'id' },
  nullable: true,
  // A task run shows its run's output: only within the runs the caller may see.
  findUnique: (id, ctx) => ({ id, run: runScope(ctx.principal) }),
  fields: (t) => ({
    task: t.field({
      type: PinnedTask,
      select: { taskName: true, run: { select: { crewVersion: { select: { definition: true } } } } },
      resolve: (tr) => {
        const def = tr.run.crewVersion.definition as unknown as CrewDefinition;
        const task = def.tasks?.find((x) => x.name === tr.taskName);
        return { name: tr.taskName, agent: task?.agent ?? '' };
      },
    }),
    status: t.expose('status', { type: TaskRunStatusEnum }),
    output: t.exposeString('output', { nullable: true }),
    structuredOutput: t.expose('structuredOutput', { type: 'JSON', nullable: true }),
    error: t.string({ nullable: true, resolve: (tr) => errorMessage(tr.error) }),
    attempts: t.exposeInt('attempts'),
    usage: t.field({ type: Usage, resolve: (tr) => tr }),
    approved: t.exposeBoolean('approved', { nullable: true }),
    approvalFeedback: t.exposeString('approvalFeedback', { nullable: true }),
    startedAt: t.expose('startedAt', { type: 'DateTime', nullable: true }),
    finishedAt: t.expose('finishedAt', { type: 'DateTime', nullable: true }),
  }),
});

builder.prismaNode('Run', {
  id: { field: 'id' },
  nullable: true,
  findUnique: (id, ctx) => ({ id, AND: [runScope(ctx.principal)] }),
  fields: (t) => ({
    status: t.expose('status', { type: RunStatusEnum }),
    crew: t.relation('crew', {
      nullable: true,
      description: 'Null once the crew is deleted; the run stays.',
    }),
    crewVersion: t.int({
      description: 'The crew version this run executes, pinned when it started.',
      select: { crewVersion: { select: { version: true } } },
      resolve: (r) => r.crewVersion.version,
    }),
    inputs: t.expose('inputs', { type: 'JSON' }),
    output: t.exposeString('output', { nullable: true, description: 'The final task’s output.' }),
    structuredOutput: t.expose('structuredOutput', { type: 'JSON', nullable: true }),
    error: t.string({ nullable: true, resolve: (r) => errorMessage(r.error) }),
    errorDetails: t.expose('error', { type: 'JSON', nullable: true }),
    taskRuns: t.relation('taskRuns', { query: { orderBy: { position: 'asc' } } }),
    usage: t.field({ type: Usage, resolve: (r) => r }),
    attempts: t.exposeInt('attempts'),
    thread: t.relation('thread', { nullable: true, description: 'Set on chat runs.' }),
    lastSeq: t.exposeInt('lastSeq', { description: 'Sequence number of the newest event in the run’s log.' }),
    idempotencyKey: t.exposeString('idempotencyKey', { nullable: true }),
    subject: t.exposeString('subject', {
      nullable: true,
      description:
        'The end user a run outside threads is for (the session token that started it, or StartRunInput.subject); null: the tenant’s, readable by every user’s session tokens.',
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    startedAt: t.expose('startedAt', { type: 'DateTime', nullable: true }),
    finishedAt: t.expose('finishedAt', { type: 'DateTime', nullable: true }),
  }),
});

builder.queryField('run', (t) =>
  t.prismaField({
    type: 'Run',
    nullable: true,
    authScopes: { read: true },
    args: { id: t.arg.id({ required: true }) },
    resolve: async (query, _r, args, ctx, info) => {
      const id = parseGlobalId('id', String(args.id), 'Run');
      if (onlyColumnFields(info)) {
        // Polling a run's status: one message (in a query of this field alone, with its BEGIN,
        // tenant setting and COMMIT), no Prisma.
        const { rows } = await ctx.commitScript([selectRunRow(id, runScopeSql(ctx.principal))]);
        const row = rows[0]?.[0];
        if (!row) throw notFound('Run', String(args.id));
        return runFromRow(row) as never;
      }
      const run = await ctx.db.run.findFirst({ ...query, where: { id, ...runScope(ctx.principal) } });
      if (!run) throw notFound('Run', String(args.id));
      return run;
    },
  }),
);

builder.queryField('runs', (t) =>
  t.prismaConnection({
    type: 'Run',
    cursor: 'id',
    defaultSize: 20,
    maxSize: 100,
    authScopes: { read: true },
    args: {
      status: t.arg({ type: RunStatusEnum }),
      crewId: t.arg.id(),
    },
    description: 'Runs, newest first.',
    resolve: (query, _r, args, ctx) =>
      ctx.db.run.findMany({
        ...query,
        where: {
          // Also row-level security's; stated with its value, the planner can also weigh the tenant's
          // share of the table from statistics (the policy's current_setting() it cannot).
          tenantId: tenantOf(ctx).tenantId,
          ...runScope(ctx.principal),
          // The status as text (a column the database generates): under row-level security only a
          // leakproof comparison, which text's equality is and an enum's is not, can be an index
          // condition, so the enum's would read every run of the tenant.
          ...(args.status ? { statusText: args.status } : {}),
          ...(args.crewId ? { crewId: parseGlobalId('crewId', String(args.crewId), 'Crew') } : {}),
        },
        orderBy: { id: 'desc' },
      }),
  }),
);

const StartRunInput = builder.inputType('StartRunInput', {
  fields: (t) => ({
    crewId: t.id({ required: true }),
    inputs: t.field({
      type: 'JSON',
      description: 'Values for the {{placeholders}} of the crew’s task templates.',
    }),
    idempotencyKey: t.string({
      description:
        'The same key returns the same run instead of starting another, also to requests made at the same moment; with another crew or other inputs it is refused (CONFLICT). At most 200 characters; keys starting "hook:" are kept for inbound hooks.',
    }),
    subject: t.string({
      description:
        'The end user the run is for (API keys): only that user’s session tokens (and API keys) see it, and may cancel, retry or answer it. A session token’s runs are always its own subject’s. Without one, the run is the tenant’s: every user’s session tokens can read it, none can act on it.',
    }),
  }),
});

/** Run fields answered from the run's own columns (no relation, no select of their own). */
const COLUMN_FIELDS = new Set([
  '__typename',
  'id',
  'status',
  'inputs',
  'output',
  'structuredOutput',
  'error',
  'errorDetails',
  'usage',
  'attempts',
  'lastSeq',
  'idempotencyKey',
  'subject',
  'createdAt',
  'startedAt',
  'finishedAt',
]);

/** Whether a `run` field's selection only asks for column fields (plain fields, no fragments). */
function onlyColumnFields(info: GraphQLResolveInfo): boolean {
  return info.fieldNodes.every((node) =>
    (node.selectionSet?.selections ?? []).every(
      (s) =>
        s.kind === Kind.FIELD &&
        COLUMN_FIELDS.has(s.name.value) &&
        (s.name.value !== 'usage' || (s.selectionSet?.selections ?? []).every((u) => u.kind === Kind.FIELD)),
    ),
  );
}

const RunPayload = (name: string) =>
  builder
    .objectRef<{
      id: string /** The run as just inserted, every column (see insertedRun). */;
      row?: unknown;
    }>(name)
    .implement({
      fields: (t) => ({
        run: t.prismaField({
          type: 'Run',
          resolve: (query, p, _a, ctx, info) =>
            p.row && onlyColumnFields(info)
              ? (p.row as never)
              : ctx.db.run.findUniqueOrThrow({ ...query, where: { id: p.id } }),
        }),
      }),
    });

/**
 * Why a run the caller may not act on is refused: FORBIDDEN when it can read it (a session token
 * and the tenant's shared run, say), NOT_FOUND when it cannot even see it.
 */
async function notActable(ctx: Context, id: string, given: string): Promise<TroupeServerError> {
  const visible = await ctx.db.run.findFirst({
    where: { id, ...runScope(ctx.principal) },
    select: { id: true },
  });
  return visible
    ? new TroupeServerError(
        'FORBIDDEN',
        'Not allowed: this run is not this user’s (the tenant’s, or started for another user); only an API key, or a session token of the user it is for, may cancel, retry or answer it.',
      )
    : notFound('Run', given);
}

/** The subject a new run is for: a session token's own; an API key's choice (or none). */
function runSubject(p: Context['principal'], given: string | null | undefined): string | null {
  const named = optionalText('input.subject', given, 200) || null;
  if (p.kind !== 'session') return named;
  if (named !== null && named !== p.subject)
    throw new TroupeServerError(
      'FORBIDDEN',
      'input.subject: a session token starts runs for its own subject only (leave subject out)',
    );
  return p.subject;
}

async function validateInputs(
  def: CrewDefinition,
  inputs: JsonValue | null | undefined,
): Promise<Record<string, JsonValue>> {
  const { templateVariables } = await loadRuntime();
  if (inputs != null && (typeof inputs !== 'object' || Array.isArray(inputs))) {
    throw badInput('input.inputs', 'must be a JSON object of placeholder values');
  }
  const values = (inputs ?? {}) as Record<string, JsonValue>;
  if (JSON.stringify(values).length > 1_000_000)
    throw badInput('input.inputs', 'must be at most 1,000,000 bytes as JSON');
  for (const task of def.tasks) {
    for (const name of templateVariables(task.description)) {
      if (values[name] === undefined || values[name] === null) {
        throw badInput(`input.inputs.${name}`, `is required by task "${task.name}" ({{${name}}})`);
      }
    }
  }
  return values;
}

builder.mutationField('startRun', (t) =>
  t.field({
    type: RunPayload('StartRunPayload'),
    description:
      'Starts a run of the crew’s current version. Inputs are checked against the task templates first.',
    authScopes: { write: true },
    args: { input: t.arg({ type: StartRunInput, required: true }) },
    resolve: async (_r, { input }, ctx) => {
      const { tenantId } = tenantOf(ctx);
      assertNotThreadLimited(ctx.principal, 'start runs (send a message to a thread instead)');
      const crewId = parseGlobalId('input.crewId', String(input.crewId), 'Crew');
      const key = idempotencyKeyText('input.idempotencyKey', input.idempotencyKey);
      const subject = runSubject(ctx.principal, input.subject);
      const versions = crewVersionCache(ctx.database);
      const started = async (id: string, row: Record<string, unknown>, committed: boolean) => {
        const enqueue = async () => {
          await ctx.runs.executor.enqueue({ tenantId, runId: id }, { fresh: true });
          await publishCommitted(() => publishRunUpdate(ctx.runs.bus, tenantId, id));
        };
        // A run committed on its own is queued now; one in the operation's transaction once it commits.
        if (committed) await enqueue();
        else ctx.afterCommit(enqueue);
        return { id, row };
      };
      // A key names one request: its retries get that request's run; another request with it
      // (another crew, other inputs, a message's run) is refused, and is shown nothing of that run.
      const existingRun = (rows: ScriptRows | undefined) => {
        const existing = rows?.[0];
        if (!existing) return null;
        if (existing.threadId != null)
          throw new TroupeServerError('CONFLICT', 'input.idempotencyKey: already used for a message');
        // Another user's run (or the tenant's, for a user's token): refused, and shown nothing of.
        if ((existing.subject ?? null) !== subject)
          throw new TroupeServerError(
            'CONFLICT',
            'input.idempotencyKey: already used for another user’s run',
          );
        if (existing.crewId !== crewId)
          throw new TroupeServerError(
            'CONFLICT',
            'input.idempotencyKey: already used for a run of another crew',
          );
        if (!sameJson(existing.inputs, input.inputs ?? {}))
          throw new TroupeServerError(
            'CONFLICT',
            'input.idempotencyKey: already used for a run with other inputs',
          );
        return { id: existing.id as string };
      };
      const insert = async (run: NewRun, withKeyLookup: boolean) => {
        const id = createId();
        const now = new Date();
        const statements = [
          ...(withKeyLookup && key ? [runByIdempotencyKey(tenantId, key)] : []),
          insertRunStatement(run, id, now),
        ];
        // The usual case is the operation's only write, and atomic: committed on its own (one
        // message with its BEGIN and COMMIT, shared with other scripts under load).
        const { rows, committed } = withKeyLookup
          ? await ctx.commitScript(statements)
          : { rows: await ctx.script(statements), committed: false };
        const existing = withKeyLookup && key ? existingRun(rows[0]) : null;
        return { existing, committed, row: insertedRun(run, now, rows[rows.length - 1]!) };
      };

      // The usual case, one round trip: the crew's version as this tenant last read it, checked by
      // the insert itself (it inserts nothing unless the crew is visible and still at that version).
      const guess = versions.current(tenantId, crewId);
      if (guess) {
        const inputs = await validateInputs(guess.entry.definition, input.inputs).catch(() => null);
        if (inputs) {
          const { existing, row, committed } = await insert(
            {
              tenantId,
              crewId,
              crewVersionId: guess.entry.id,
              crewVersion: guess.version,
              inputs,
              idempotencyKey: key,
              subject,
              taskNames: guess.entry.definition.tasks.map((t) => t.name),
            },
            true,
          );
          if (existing) return existing;
          if (row) return started(row.id as string, row, committed);
        }
      }

      // Otherwise: the idempotency key, then the crew, then its current version.
      const [keyRows, crewRows] = await ctx
        .script([
          ...(key ? [runByIdempotencyKey(tenantId, key)] : []),
          sql`SELECT "version" FROM "Crew" WHERE "id" = ${crewId}`,
        ])
        .then((rows) => (key ? rows : [undefined, rows[0]]));
      const existing = existingRun(keyRows);
      if (existing) return existing;
      const crew = crewRows?.[0];
      if (!crew) throw notFound('Crew', String(input.crewId));
      const crewVersion = Number(crew.version);
      // The crew's current version: immutable, so read once (and cached once that read committed).
      let version = versions.byNumber(crewId, crewVersion);
      if (!version) {
        const row = await ctx.db.crewVersion.findUniqueOrThrow({
          where: { crewId_version: { crewId, version: crewVersion } },
          select: { id: true, crewId: true, version: true, definition: true },
        });
        version = { id: row.id, definition: row.definition as unknown as CrewDefinition };
        ctx.afterCommit(() => void versions.setCurrent(tenantId, crewId, crewVersion, versions.add(row)));
      } else {
        const entry = version;
        ctx.afterCommit(() => versions.setCurrent(tenantId, crewId, crewVersion, entry));
      }
      const def = version.definition;
      const inputs = await validateInputs(def, input.inputs);
      const { row } = await insert(
        {
          tenantId,
          crewId,
          crewVersionId: version.id,
          crewVersion: null,
          inputs,
          idempotencyKey: key,
          subject,
          taskNames: def.tasks.map((t) => t.name),
        },
        false,
      );
      if (!row) {
        // A request with the same key at once may have started it first.
        const again = key ? existingRun((await ctx.script([runByIdempotencyKey(tenantId, key)]))[0]) : null;
        if (again) return again;
        throw notFound('Crew', String(input.crewId));
      }
      return started(row.id as string, row, false);
    },
  }),
);

builder.mutationField('cancelRun', (t) =>
  t.field({
    type: RunPayload('CancelRunPayload'),
    description: 'Cancels a run: a queued run at once; a running one is aborted where it executes.',
    authScopes: { write: true },
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_r, args, ctx) => {
      const { tenantId } = tenantOf(ctx);
      const id = parseGlobalId('id', String(args.id), 'Run');
      const run = await ctx.db.run.findFirst({
        where: { id, ...runActScope(ctx.principal) },
        select: { id: true, status: true, threadId: true },
      });
      if (!run) throw await notActable(ctx, id, String(args.id));
      const unfinished: readonly string[] = UNFINISHED_RUN_STATUSES;
      if (!unfinished.includes(run.status)) return { id };
      const reason = 'Cancelled by request.';
      let status = run.status;
      for (let attempt = 1; ; attempt++) {
        // The executor holding the run cancels it and records RUN_CANCELLED. A run nothing holds
        // (queued, waiting out a retry's backoff, or left RUNNING by a worker that died or failed)
        // is taken off the queue by the executor and recorded here.
        const held = await ctx.runs.executor.cancel(id, reason, { running: status !== 'QUEUED' });
        if (held) return { id };
        // Only from the status the executor was asked about: a queued run that a worker took up
        // meanwhile (its job was still being added, or its thread's turn came) is the worker's to
        // cancel, asked again below, not marked CANCELLED here while it runs on.
        const recorded = await recordCancellation(
          ctx.db,
          { tenantId, runId: id, threadId: run.threadId },
          reason,
          attempt === 1 && status === 'QUEUED' ? ['QUEUED'] : UNFINISHED_RUN_STATUSES,
        );
        if (recorded) {
          ctx.afterCommit(async () => {
            await publishCommitted(() =>
              Promise.all([
                publishEvents(ctx.runs.bus, recorded.events),
                publishRunUpdate(ctx.runs.bus, tenantId, id),
              ]),
            );
            if (recorded.next) await ctx.runs.executor.enqueue({ tenantId, runId: recorded.next });
          });
          return { id };
        }
        if (attempt > 1) return { id };
        const now = await ctx.db.run.findUnique({ where: { id }, select: { status: true } });
        // Ended meanwhile: it keeps its outcome.
        if (!now || !unfinished.includes(now.status)) return { id };
        status = now.status;
      }
    },
  }),
);

const RespondToRunInput = builder.inputType('RespondToRunInput', {
  fields: (t) => ({
    runId: t.id({ required: true }),
    taskRunId: t.id({ required: true }),
    approved: t.boolean({ required: true }),
    feedback: t.string(),
  }),
});

builder.mutationField('respondToRun', (t) =>
  t.field({
    type: RunPayload('RespondToRunPayload'),
    description: 'Approves or rejects (with feedback) a task waiting for approval; the run resumes.',
    authScopes: { write: true },
    args: { input: t.arg({ type: RespondToRunInput, required: true }) },
    resolve: async (_r, { input }, ctx) => {
      tenantOf(ctx);
      const runId = parseGlobalId('input.runId', String(input.runId), 'Run');
      const taskRunId = parseGlobalId('input.taskRunId', String(input.taskRunId), 'TaskRun');
      const tr = await ctx.db.taskRun.findFirst({
        where: { id: taskRunId, runId, run: runActScope(ctx.principal) },
        select: { status: true, taskName: true },
      });
      if (!tr) {
        // A run the caller may act on, and a task run not of it: the task run is not found.
        const actable = await ctx.db.run.findFirst({
          where: { id: runId, ...runActScope(ctx.principal) },
          select: { id: true },
        });
        if (actable) throw notFound('TaskRun', String(input.taskRunId));
        const err = await notActable(ctx, runId, String(input.runId));
        throw err.code === 'FORBIDDEN' ? err : notFound('TaskRun', String(input.taskRunId));
      }
      if (tr.status !== 'WAITING_FOR_APPROVAL') {
        throw new TroupeServerError(
          'CONFLICT',
          `input.taskRunId: task "${tr.taskName}" is ${tr.status}, not waiting for approval`,
        );
      }
      const feedback = optionalText('input.feedback', input.feedback, 20_000);
      const outcome = await ctx.runs.executor.respond(runId, {
        taskName: tr.taskName,
        approved: input.approved,
        ...(feedback ? { feedback } : {}),
      });
      // Not retryable as it is: the answer would go to whatever the task asks next, unseen.
      if (outcome === 'not-waiting')
        throw new TroupeServerError(
          'CONFLICT',
          `input.taskRunId: task "${tr.taskName}" is not waiting for an answer now (answered already, or being revised); read the run again`,
        );
      if (outcome !== 'answered')
        throw new TroupeServerError(
          'UNAVAILABLE',
          'No process is executing the run right now (it may be resuming after a restart); try again shortly.',
        );
      return { id: runId };
    },
  }),
);

const RunEventRef = builder.objectRef<StoredRunEvent>('RunEvent').implement({
  description: 'One entry of a run’s event log.',
  fields: (t) => ({
    seq: t.exposeInt('seq', {
      description: 'Starts at 1, no holes; resume with afterSeq = the last one seen.',
    }),
    type: t.field({ type: RunEventTypeEnum, resolve: (e) => e.type }),
    at: t.expose('at', { type: 'DateTime' }),
    taskRunId: t.id({
      nullable: true,
      resolve: (e) => (e.taskRunId ? encodeGlobalID('TaskRun', e.taskRunId) : null),
    }),
    delta: t.exposeString('delta', { nullable: true, description: 'Token text on TOKEN events.' }),
    data: t.field({ type: 'JSON', nullable: true, resolve: (e) => e.data }),
  }),
});

/** A run's log as the caller may see it: a run outside their scope reads as not visible. */
function runEventSource(ctx: Context, tenantId: string, runId: string) {
  const scope = runScopeSql(ctx.principal);
  return {
    bus: ctx.runs.bus,
    channel: runChannel(runId),
    page: (after: number) => readRunLogPage(ctx.database, tenantId, runId, after, 500, scope),
  };
}

builder.subscriptionField('runEvents', (t) =>
  t.field({
    type: RunEventRef,
    description:
      'A run’s events after afterSeq: the stored log first, then live, without gaps or duplicates; completes when the run ends.',
    authScopes: { read: true },
    args: { runId: t.arg.id({ required: true }), afterSeq: t.arg.int({ defaultValue: 0 }) },
    subscribe: async (_r, args, ctx) => {
      const { tenantId } = tenantOf(ctx);
      const runId = parseGlobalId('runId', String(args.runId), 'Run');
      const afterSeq = args.afterSeq ?? 0;
      if (!Number.isInteger(afterSeq) || afterSeq < 0)
        throw badInput('afterSeq', 'must be 0 or a positive integer');
      // The first page is the check that the caller may see the run (tenant and thread scope):
      // one round trip, and NOT_FOUND is thrown here, as the subscription's one result.
      return openRunEventStream(runEventSource(ctx, tenantId, runId), {
        afterSeq,
        signal: ctx.request?.signal,
        notVisible: () => notFound('Run', String(args.runId)),
      });
    },
    resolve: (e) => e,
  }),
);

builder.mutationField('retryRun', (t) =>
  t.field({
    type: RunPayload('RetryRunPayload'),
    description:
      'Runs a FAILED or CANCELLED run again with its pinned version and inputs. Finished tasks keep their outputs and are not paid for again; the event log continues after its last sequence number.',
    authScopes: { write: true },
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_r, args, ctx) => {
      const { tenantId } = tenantOf(ctx);
      const id = parseGlobalId('id', String(args.id), 'Run');
      const run = await ctx.db.run.findFirst({
        where: { id, ...runActScope(ctx.principal) },
        select: { status: true, threadId: true },
      });
      if (!run) throw await notActable(ctx, id, String(args.id));
      if (run.threadId) {
        throw new TroupeServerError(
          'CONFLICT',
          'id: this run answered a chat message; send the message again instead of retrying the run',
        );
      }
      if (run.status !== 'FAILED' && run.status !== 'CANCELLED') {
        throw new TroupeServerError(
          'CONFLICT',
          `id: the run is ${run.status}; only FAILED or CANCELLED runs can be retried`,
        );
      }
      // Only from the status just read: of two retries at once, the later finds the run QUEUED (or
      // running already) and must not reset it.
      const { count } = await ctx.db.run.updateMany({
        where: { id, status: run.status },
        data: { status: 'QUEUED', error: Prisma.DbNull, finishedAt: null, failedAttempts: 0 },
      });
      if (count === 0)
        throw new TroupeServerError(
          'CONFLICT',
          'id: the run is being retried already; only FAILED or CANCELLED runs can be retried',
        );
      await ctx.db.taskRun.updateMany({
        where: { runId: id, status: { not: 'SUCCEEDED' } },
        data: { status: 'PENDING', error: Prisma.DbNull, finishedAt: null },
      });
      ctx.afterCommit(async () => {
        await ctx.runs.executor.enqueue({ tenantId, runId: id });
        await publishCommitted(() => publishRunUpdate(ctx.runs.bus, tenantId, id));
      });
      return { id };
    },
  }),
);

/** The tenant's run updates as run ids, optionally only those of one crew. */
/**
 * The tenant's run updates, for one subscriber. Its return() (the client went away) ends it at
 * once: a generator waiting for the next update had kept its bus subscription, and for a quiet
 * tenant kept it for good. Updates of one run not yet sent are sent once.
 */
function runUpdates(
  ctx: Context,
  tenantId: string,
  crewId: string | undefined,
): AsyncGenerator<{ id: string }> {
  const queue = new Set<string>();
  let wake: (() => void) | undefined;
  let stopped = false;
  const subscribed = ctx.runs.bus.subscribe(tenantRunsChannel(tenantId), (m) => {
    try {
      queue.add((JSON.parse(m) as RunUpdate).runId);
      wake?.();
    } catch {}
  });
  let unsubscribed: Promise<void> | undefined;
  const stop = () => {
    stopped = true;
    wake?.();
    unsubscribed ??= subscribed.then((unsubscribe) => unsubscribe());
    return unsubscribed;
  };
  async function* updates(): AsyncGenerator<{ id: string }> {
    await subscribed;
    try {
      while (!stopped) {
        for (const runId of queue) {
          queue.delete(runId);
          if (crewId || ctx.principal.kind === 'session') {
            // Only runs the caller may see: a session token's user does not watch other users' chats.
            const r = await ctx.database.withTenant(tenantId, (tx) =>
              tx.run.findFirst({
                where: { id: runId, ...runScope(ctx.principal) },
                select: { crewId: true },
              }),
            );
            if (!r || (crewId && r.crewId !== crewId)) continue;
          }
          if (stopped) return;
          yield { id: runId };
        }
        if (stopped) return;
        await new Promise<void>((resolve) => {
          wake = resolve;
          if (stopped || queue.size > 0) resolve();
        });
        wake = undefined;
      }
    } finally {
      await stop();
    }
  }
  const generator = updates();
  const stream: AsyncGenerator<{ id: string }> = {
    next: (...args) => generator.next(...args),
    async return(value) {
      await stop();
      return generator.return(value);
    },
    async throw(error) {
      await stop();
      return generator.throw(error);
    },
    [Symbol.asyncIterator]() {
      return stream;
    },
  };
  return stream;
}

builder.subscriptionField('runUpdated', (t) =>
  t.prismaField({
    type: 'Run',
    description:
      'A run each time its status may have changed (queued, started, waiting, finished); for dashboards.',
    authScopes: { read: true },
    args: { crewId: t.arg.id({ description: 'Only runs of this crew.' }) },
    subscribe: async (_r, args, ctx) => {
      const { tenantId } = tenantOf(ctx);
      assertNotThreadLimited(ctx.principal, 'watch all runs');
      const crewId = args.crewId ? parseGlobalId('crewId', String(args.crewId), 'Crew') : undefined;
      if (crewId) {
        const crew = await ctx.database.withTenant(tenantId, (tx) =>
          tx.crew.findUnique({ where: { id: crewId }, select: { id: true } }),
        );
        if (!crew) throw notFound('Crew', String(args.crewId));
      }
      return runUpdates(ctx, tenantId, crewId);
    },
    resolve: (query, root, _a, ctx) =>
      ctx.db.run.findUniqueOrThrow({ ...query, where: { id: (root as { id: string }).id } }),
  }),
);
