import { encodeGlobalID } from '@pothos/plugin-relay';
import type { ConversationTurn, CrewRun, ProviderSettings, RunEvent } from '@troupe/agents';
import { crewVersionCache } from '../crews/crew-version-cache.js';
import type { Database, Tx } from '../db/database.js';
import type { EmbedderSource } from '../documents/document-ingest.js';
import { embedderSource } from '../documents/document-search.js';
import { documentSearchTool, SEARCH_DOCUMENTS_TOOL } from '../documents/run-tool.js';
import type { EventBus } from '../events/event-bus.js';
import { publishCommitted, publishEvents } from '../events/run-channels.js';
import {
  appendRunEvents,
  type NewRunEvent,
  type StoredRunEvent,
  TERMINAL_EVENT_TYPES,
} from '../events/run-event-log.js';
import type { Prisma } from '../generated/prisma/client.js';
import { agentChatCrew, CHAT_MESSAGE_INPUT, estimateTokens } from '../threads/chat-crew.js';
import { loadConversation } from '../threads/conversation.js';
import { releaseNextThreadRun } from '../threads/thread-queue.js';
import { toRuntimeCrew } from './crew-runtime-definition.js';
import {
  batchStatements,
  claimRunStatement,
  completedTasksOf,
  parseClaimedRun,
  RunEndedElsewhere,
} from './run-batch-sql.js';
import { recordCancellation } from './run-cancel.js';
import { nextAttemptDelay, recordRunRetry } from './run-retry.js';
import { publishRunUpdate, STATUS_EVENTS } from './run-updates.js';

export interface RunJob {
  tenantId: string;
  runId: string;
}

let sharedEmbedder: { providers: ProviderSettings | undefined; source: EmbedderSource } | undefined;

/** TROUPE_EMBEDDINGS (else local), created once per process and provider settings. */
function defaultEmbedder(providers: ProviderSettings | undefined): EmbedderSource {
  if (!sharedEmbedder || sharedEmbedder.providers !== providers) {
    sharedEmbedder = {
      providers,
      source: embedderSource(process.env.TROUPE_EMBEDDINGS?.trim() || 'local', providers),
    };
  }
  return sharedEmbedder.source;
}

export interface ExecuteRunOptions {
  database: Database;
  bus: EventBus;
  providers?: ProviderSettings;
  /** TOKEN events are stored in batches flushed this often; the stream carries the same text. */
  flushMs?: number;
  /**
   * Releases the run: aborting stops it here without recording an outcome (no RUN_CANCELLED), so
   * that another executor can resume it from its checkpoints. To cancel, use the CrewRun instead.
   */
  signal?: AbortSignal;
  /** Called once the run is under way, with the handle that cancels it or answers approvals. */
  onCrewRun?: (run: RunHandle) => void;
  /** Queues a chat run that waited for this one to end (its thread's ENQUEUE policy). */
  enqueue?: (job: RunJob) => void | Promise<void>;
  /** The embedder of the `search_documents` tool (default: TROUPE_EMBEDDINGS, else local). */
  embedder?: EmbedderSource;
}

/**
 * `skipped`: the run was already over (or gone); `released`: `signal` stopped it unfinished;
 * `{ retryInMs }`: the attempt failed, RUN_RETRYING was recorded and the run is QUEUED again: the
 * executor runs it again after that delay.
 */
export type ExecuteRunOutcome = 'finished' | 'skipped' | 'released' | { retryInMs: number };

/** The log event announcing a thread message (its data is what clients see: global ids). */
export function messageCreatedEvent(message: {
  id: string;
  role: 'USER' | 'ASSISTANT' | 'SYSTEM';
  content: string;
  createdAt: Date;
}): NewRunEvent {
  return {
    type: 'MESSAGE_CREATED',
    taskRunId: null,
    delta: null,
    data: {
      message: {
        id: encodeGlobalID('Message', message.id),
        role: message.role,
        content: message.content,
        createdAt: message.createdAt.toISOString(),
      },
    },
    at: message.createdAt,
  };
}

let runtime: Promise<typeof import('@troupe/agents')> | undefined;
/** The agent runtime (LLM clients, LangChain) loads on the first run, not at server start. */
export function loadRuntime(): Promise<typeof import('@troupe/agents')> {
  runtime ??= import('@troupe/agents');
  return runtime;
}

type DataOf<E> = Omit<E, 'seq' | 'runId' | 'timestamp' | 'type'>;

function toLogEvent(e: RunEvent, taskRunIds: Map<string, string>): NewRunEvent {
  const { seq: _s, runId: _r, timestamp, type, ...rest } = e as RunEvent & Record<string, unknown>;
  const taskName = 'taskName' in e ? (e.taskName as string) : undefined;
  if (type === 'TOKEN') {
    const { delta, ...data } = rest as DataOf<Extract<RunEvent, { type: 'TOKEN' }>>;
    return { type, taskRunId: taskRunIds.get(taskName!) ?? null, delta, data, at: new Date(timestamp) };
  }
  return {
    type,
    taskRunId: taskName ? (taskRunIds.get(taskName) ?? null) : null,
    delta: null,
    data: rest,
    at: new Date(timestamp),
  };
}

/** A batch's logged events, and the thread's next run to queue once they are published. */
interface StoredBatch {
  stored: StoredRunEvent[];
  next: string | null;
}

const json = (v: unknown) => (v === undefined ? undefined : (v as Prisma.InputJsonValue));

/** Applies what an event means to the run's rows, in the transaction that logs it. */
async function applyState(
  tx: Tx,
  tenantId: string,
  runId: string,
  e: RunEvent,
  taskRunIds: Map<string, string>,
): Promise<void> {
  const taskRunId = 'taskName' in e ? taskRunIds.get(e.taskName) : undefined;
  switch (e.type) {
    case 'TASK_STARTED':
      if (taskRunId) {
        await tx.taskRun.update({
          where: { id: taskRunId },
          data: { status: 'RUNNING', startedAt: new Date(e.timestamp), attempts: { increment: 1 } },
        });
      }
      return;
    case 'APPROVAL_REQUESTED':
      if (taskRunId)
        await tx.taskRun.update({
          where: { id: taskRunId },
          data: { status: 'WAITING_FOR_APPROVAL', output: e.output },
        });
      await tx.run.update({ where: { id: runId }, data: { status: 'WAITING_FOR_APPROVAL' } });
      return;
    case 'TASK_COMPLETED':
      if (taskRunId) {
        await tx.taskRun.update({
          where: { id: taskRunId },
          data: {
            status: 'SUCCEEDED',
            output: e.output,
            structuredOutput: json(e.structuredOutput),
            promptTokens: e.usage.promptTokens,
            completionTokens: e.usage.completionTokens,
            costUsd: e.usage.costUsd,
            finishedAt: new Date(e.timestamp),
            ...(e.approval ? { approved: true, approvalFeedback: e.approval.feedback ?? null } : {}),
          },
        });
      }
      await tx.run.updateMany({
        where: { id: runId, status: 'WAITING_FOR_APPROVAL' },
        data: { status: 'RUNNING' },
      });
      return;
    case 'USAGE':
      await tx.usageRecord.create({
        data: {
          tenantId,
          runId,
          taskRunId: taskRunId ?? null,
          agentName: e.agentName,
          provider: e.provider,
          model: e.model,
          promptTokens: e.promptTokens,
          completionTokens: e.completionTokens,
          costUsd: e.costUsd,
          at: new Date(e.timestamp),
        },
      });
      await tx.run.update({
        where: { id: runId },
        data: {
          promptTokens: { increment: e.promptTokens },
          completionTokens: { increment: e.completionTokens },
          costUsd: { increment: e.costUsd },
        },
      });
      return;
    case 'RUN_SUCCEEDED':
      await tx.run.update({
        where: { id: runId },
        data: {
          status: 'SUCCEEDED',
          output: e.output,
          structuredOutput: json(e.structuredOutput),
          finishedAt: new Date(e.timestamp),
        },
      });
      return;
    case 'RUN_FAILED':
      await tx.run.update({
        where: { id: runId },
        data: { status: 'FAILED', error: json(e.error), finishedAt: new Date(e.timestamp) },
      });
      await tx.taskRun.updateMany({
        where: { runId, status: { in: ['RUNNING', 'WAITING_FOR_APPROVAL'] } },
        data: { status: 'FAILED', finishedAt: new Date(e.timestamp) },
      });
      return;
    case 'RUN_CANCELLED':
      await tx.run.update({
        where: { id: runId },
        data: { status: 'CANCELLED', finishedAt: new Date(e.timestamp) },
      });
      await tx.taskRun.updateMany({
        where: { runId, status: { in: ['PENDING', 'RUNNING', 'WAITING_FOR_APPROVAL'] } },
        data: { status: 'CANCELLED', finishedAt: new Date(e.timestamp) },
      });
      return;
    default:
      return;
  }
}

/**
 * Adjacent TOKEN events of one task and agent become one event whose delta is their text: a batch
 * costs one log row, one message and one frame per subscriber instead of one per token. The
 * concatenated deltas are unchanged.
 */
function coalesceTokens(events: RunEvent[]): RunEvent[] {
  const out: RunEvent[] = [];
  for (const e of events) {
    const prev = out.at(-1);
    if (
      e.type === 'TOKEN' &&
      prev?.type === 'TOKEN' &&
      prev.taskName === e.taskName &&
      prev.agentName === e.agentName
    )
      out[out.length - 1] = { ...prev, delta: prev.delta + e.delta };
    else out.push(e);
  }
  return out;
}

const publishFailures = new Set<string>();

/**
 * Live delivery is best effort: the event is already in the durable log, and streams re-read the
 * log after a gap, a bus reconnect or a quiet period. A publish that fails while Redis is briefly
 * unreachable must not fail (or crash) the run; it is reported once per run until publishing works again.
 */
async function publishBestEffort(runId: string, publish: () => Promise<void>): Promise<void> {
  try {
    await publish();
    publishFailures.delete(runId);
  } catch (err) {
    if (publishFailures.has(runId)) return;
    publishFailures.add(runId);
    console.warn(
      `troupe: run ${runId}: live events could not be published (${(err as Error).message}); subscribers will read them from the log`,
    );
  }
}

/** What an executor holds of a run under way: cancelling it, answering its approvals. */
export type RunHandle = Pick<CrewRun, 'respond'> & {
  /**
   * true: this execution ends the run CANCELLED. false: the attempt is over and its retry is
   * recorded (the run is QUEUED again), so the caller must cancel the queued run itself.
   */
  cancel(reason: string): boolean;
};

/**
 * Executes one run: loads it with its pinned crew version, marks it RUNNING, resumes after the
 * tasks its checkpoints say are done, and appends every runtime event to the run's durable log
 * (with the state it implies, in one transaction) before publishing it on the run's channel.
 */

export async function executeRun(opts: ExecuteRunOptions, job: RunJob): Promise<ExecuteRunOutcome> {
  const { database, bus } = opts;
  const flushMs = opts.flushMs ?? 50;
  // One round trip: the run is marked RUNNING and read back with its task checkpoints.
  const [claimRows] = await database.script({ 'app.tenant_id': job.tenantId }, [
    claimRunStatement(job.runId, new Date()),
  ]);
  const loaded = parseClaimedRun(claimRows!);
  if (!loaded) return 'skipped';
  // The pinned crew version (immutable: read once), and for chat runs only their thread and history.
  const versions = crewVersionCache(database);
  const cachedVersion = versions.byId(loaded.crewVersionId);
  const extra =
    cachedVersion && !loaded.threadId
      ? null
      : await database.withTenant(job.tenantId, async (tx) => {
          const version = cachedVersion
            ? null
            : await tx.crewVersion.findUniqueOrThrow({
                where: { id: loaded.crewVersionId },
                select: { id: true, crewId: true, version: true, definition: true },
              });
          const thread = loaded.threadId
            ? await tx.thread.findUnique({
                where: { id: loaded.threadId },
                select: { id: true, historyTokens: true, subject: true, agent: { select: { name: true } } },
              })
            : null;
          const conversation = thread
            ? await loadConversation(tx, thread.id, loaded, thread.historyTokens)
            : [];
          return { version, thread, conversation };
        });
  const crewVersion = cachedVersion ?? versions.add(extra!.version!);
  const thread = extra?.thread ?? null;
  if (opts.signal?.aborted) return 'released';
  const taskRunIds = new Map(loaded.taskRuns.map((t) => [t.taskName, t.id]));
  const completedTasks = completedTasksOf(loaded.taskRuns);
  const { runCrew, templateVariables } = await loadRuntime();
  let def = crewVersion.definition;
  const inputs = loaded.inputs as Record<string, unknown>;
  let conversation: ConversationTurn[] = extra?.conversation ?? [];
  if (thread?.agent) def = agentChatCrew(def, thread.agent.name);
  else if (thread) {
    // A crew whose templates do not quote the message still gets it, as the conversation's last turn.
    const quoted = def.tasks.some((t) => templateVariables(t.description).includes(CHAT_MESSAGE_INPUT));
    if (!quoted)
      conversation = [...conversation, { role: 'user', content: String(inputs[CHAT_MESSAGE_INPUT]) }];
  }
  // Agents that list search_documents search the tenant's documents (and a chat user's own).
  const tools = def.agents.some((a) => a.tools.includes(SEARCH_DOCUMENTS_TOOL))
    ? [
        await documentSearchTool(
          database,
          opts.embedder ?? defaultEmbedder(opts.providers),
          job.tenantId,
          thread?.subject ?? null,
        ),
      ]
    : undefined;
  const crewRun = runCrew({
    crew: toRuntimeCrew(def),
    inputs,
    providers: opts.providers,
    completedTasks,
    runId: loaded.id,
    conversation,
    ...(tools ? { tools } : {}),
  });
  let released = false;
  const release = () => {
    released = true;
    crewRun.cancel('Released by the worker.');
  };
  opts.signal?.addEventListener('abort', release, { once: true });
  // Released while the runtime or a tool loaded (an abort does not fire again for a late listener).
  if (opts.signal?.aborted) release();
  // A cancel that comes once the attempt has failed is too late for the runtime; it is noted here
  // so that the run ends cancelled instead of waiting for another attempt.
  let cancelRequested: string | undefined;
  // Set once a retry is recorded and no cancel came meanwhile: later cancels are the caller's.
  let retryRecorded = false;
  opts.onCrewRun?.({
    cancel: (reason) => {
      if (retryRecorded) return false;
      cancelRequested ??= reason;
      crewRun.cancel(reason);
      return true;
    },
    respond: (decision) => crewRun.respond(decision),
  });

  // A batch of events with the state it implies, in one transaction: one round trip.
  const storeBatch = async (batch: RunEvent[]): Promise<StoredBatch> => {
    const { statements, storedEvents } = batchStatements({
      tenantId: job.tenantId,
      runId: job.runId,
      crewId: loaded.crewId,
      batch,
      log: batch.map((e) => toLogEvent(e, taskRunIds)),
      taskRunIds,
    });
    const [first] = await database.script({ 'app.tenant_id': job.tenantId }, statements);
    return { stored: storedEvents(first!), next: null };
  };
  // A chat run's batch: its reply joins the thread, its events the thread's log, and its end
  // releases the thread's next run.
  const storeChatBatch = (batch: RunEvent[]): Promise<StoredBatch> =>
    database.withTenant(job.tenantId, async (tx) => {
      // Only while the run is unfinished (see batchStatements): locked, as appending would.
      const live = await tx.$queryRaw<unknown[]>`SELECT 1 FROM "Run" WHERE "id" = ${job.runId}
        AND "status" NOT IN ('SUCCEEDED', 'FAILED', 'CANCELLED') FOR UPDATE`;
      if (live.length === 0) throw new RunEndedElsewhere(job.runId);
      const log: NewRunEvent[] = [];
      for (const e of batch) {
        if (e.type === 'RUN_SUCCEEDED' && thread) {
          // The reply joins the thread in the transaction that ends the run, announced just before.
          const message = await tx.message.create({
            data: {
              tenantId: job.tenantId,
              threadId: thread.id,
              runId: job.runId,
              role: 'ASSISTANT',
              content: e.output,
              tokenCount: estimateTokens(e.output),
            },
          });
          log.push(messageCreatedEvent(message));
        }
        log.push(toLogEvent(e, taskRunIds));
      }
      // State first: the webhook deliveries that appending a terminal event queues carry the run's
      // totals, this batch's USAGE included.
      for (const e of batch)
        if (e.type !== 'TOKEN') await applyState(tx, job.tenantId, job.runId, e, taskRunIds);
      const stored = await appendRunEvents(tx, job.tenantId, job.runId, log);
      const next =
        thread && stored.some((e) => TERMINAL_EVENT_TYPES.has(e.type))
          ? await releaseNextThreadRun(tx, thread.id)
          : null;
      return { stored, next };
    });

  let retryInMs: number | null = null;
  let endedElsewhere = false;
  let pending: RunEvent[] = [];
  let timer: NodeJS.Timeout | undefined;
  let chain: Promise<void> = Promise.resolve();
  // The last batch's publish (best effort: it never rejects); the run ends once it has settled.
  let published: Promise<void> = Promise.resolve();
  const flush = () => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    const batch = coalesceTokens(pending);
    pending = [];
    if (batch.length === 0 || released) return chain;
    chain = chain.then(async () => {
      const { stored, next } = thread ? await storeChatBatch(batch) : await storeBatch(batch);
      // Published in order (one bus connection sends in the order asked), but not waited for: the
      // next batch is stored even while Redis is away and publishes wait out their timeout.
      published = publishBestEffort(job.runId, () =>
        Promise.all([
          publishEvents(bus, stored),
          stored.some((e) => STATUS_EVENTS.has(e.type)) && publishRunUpdate(bus, job.tenantId, job.runId),
        ]).then(() => {}),
      );
      if (next) await queueNext(opts, { tenantId: job.tenantId, runId: next });
    });
    return chain;
  };
  // A flush started by the timer is awaited by nobody: its failure must not be an unhandled
  // rejection (which ends the process). The chain stays rejected, so the next awaited flush throws.
  let failure: unknown;
  const flushLater = () =>
    void flush().catch((err) => {
      failure ??= err;
    });
  // Group commit: other events are stored one tick later, together with whatever the run emitted
  // meanwhile (RUN_STARTED with TASK_STARTED, USAGE with TASK_COMPLETED, ...), in one transaction.
  // The runtime does not wait for the store anyway (its event channel buffers), so awaiting each
  // event only cost a transaction per event.
  let soon: NodeJS.Immediate | undefined;
  const flushSoon = () => {
    soon ??= setImmediate(() => {
      soon = undefined;
      flushLater();
    });
  };
  // Tokens are flushed at most once per flushMs, the first at once (leading edge): a stream's
  // first token is not held back for a whole interval. "At once" is one tick later, like other
  // events: what arrived with the token (a short answer's completion, usage and the run's end come
  // in the same chunk) joins its transaction instead of paying for another.
  let tokensFlushedAt = Number.NEGATIVE_INFINITY;
  const flushTokens = () => {
    tokensFlushedAt = performance.now();
    if (timer) clearTimeout(timer);
    timer = undefined;
    flushSoon();
  };
  try {
    for await (const e of crewRun) {
      // Once released, nothing more is recorded: the run's outcome belongs to whoever resumes it.
      if (released) break;
      if (e.type === 'RUN_FAILED') {
        // The crew's retry policy: a failure with attempts left is logged as RUN_RETRYING instead.
        retryInMs = nextAttemptDelay(loaded, e.error);
        if (retryInMs !== null) {
          await flush();
          if (cancelRequested === undefined) {
            await recordRunRetry({ database, bus }, job, e, loaded, retryInMs);
            // No cancel while the retry was recorded: from here on, a cancel finds the run QUEUED.
            if (cancelRequested === undefined) {
              retryRecorded = true;
              break;
            }
          }
          // Cancelled after the attempt failed (before or while its retry was recorded): the run
          // ends here instead of waiting for another attempt.
          retryInMs = null;
          pending.push({
            type: 'RUN_CANCELLED',
            runId: e.runId,
            seq: e.seq,
            timestamp: e.timestamp,
            reason: cancelRequested,
            usage: e.usage,
          });
          break;
        }
      }
      withoutNul(e);
      pending.push(e);
      if (e.type === 'TOKEN') {
        if (timer === undefined && performance.now() - tokensFlushedAt >= flushMs) flushTokens();
        else timer ??= setTimeout(flushTokens, flushMs);
      } else flushSoon();
      // A failed store stops the run here (the job is retried) instead of at its end.
      if (failure) throw failure;
    }
    if (soon) clearImmediate(soon);
    await flush();
  } catch (err) {
    if (!(err instanceof RunEndedElsewhere)) throw err;
    // Its end is recorded already (a cancel that found nobody holding it): stop, quietly.
    endedElsewhere = true;
    crewRun.cancel('The run ended elsewhere.');
  } finally {
    if (timer) clearTimeout(timer);
    if (soon) clearImmediate(soon);
    opts.signal?.removeEventListener('abort', release);
    await published;
    publishFailures.delete(job.runId);
  }
  if (endedElsewhere) return 'skipped';
  if (released) return 'released';
  return retryInMs !== null ? { retryInMs } : 'finished';
}

/**
 * Drops NUL characters from an event's text (in place): Postgres text and jsonb cannot hold them,
 * and a model or tool that produced one failed every attempt to store the run's events.
 */
function withoutNul(e: RunEvent): void {
  if (e.type === 'TOKEN') {
    if (e.delta.includes('\0')) e.delta = e.delta.replaceAll('\0', '');
    return;
  }
  const seen = new WeakSet<object>();
  const clean = (v: unknown): unknown => {
    if (typeof v === 'string') return v.includes('\0') ? v.replaceAll('\0', '') : v;
    if (v === null || typeof v !== 'object' || seen.has(v)) return v;
    seen.add(v);
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) v[i] = clean(v[i]);
      return v;
    }
    for (const [k, x] of Object.entries(v)) {
      const y = clean(x);
      if (y !== x) (v as Record<string, unknown>)[k] = y;
    }
    return v;
  };
  clean(e);
}

async function queueNext(opts: Pick<ExecuteRunOptions, 'enqueue'>, job: RunJob): Promise<void> {
  try {
    await opts.enqueue?.(job);
  } catch (err) {
    console.error(`troupe: run ${job.runId} could not be queued after its thread's previous run:`, err);
  }
}

/**
 * A cancel acknowledged while the executor had taken the run up but not started its crew, when
 * the crew never started (the execution failed or was handed back): nobody else records it, so it
 * is recorded here, and a later attempt finds the run CANCELLED.
 */
export async function recordUnstartedCancel(
  opts: Pick<ExecuteRunOptions, 'database' | 'bus' | 'enqueue'>,
  job: RunJob,
  reason: string,
): Promise<void> {
  const stored = await opts.database.withTenant(job.tenantId, async (tx) => {
    const run = await tx.run.findUnique({ where: { id: job.runId }, select: { threadId: true } });
    return run
      ? recordCancellation(tx, { tenantId: job.tenantId, runId: job.runId, threadId: run.threadId }, reason)
      : null;
  });
  if (!stored) return;
  await publishCommitted(() =>
    Promise.all([
      publishEvents(opts.bus, stored.events),
      publishRunUpdate(opts.bus, job.tenantId, job.runId),
    ]),
  );
  if (stored.next) await queueNext(opts, { tenantId: job.tenantId, runId: stored.next });
}

/**
 * Ends a run that could not be executed at all (every attempt of its job failed): RUN_FAILED with
 * INTERNAL_ERROR is logged and published, so that the run does not stay RUNNING for ever.
 */
export async function recordRunFailure(
  opts: Pick<ExecuteRunOptions, 'database' | 'bus' | 'enqueue'>,
  job: RunJob,
  message: string,
): Promise<void> {
  const stored = await opts.database.withTenant(job.tenantId, async (tx) => {
    const run = await tx.run.findUnique({ where: { id: job.runId } });
    if (!run || ['SUCCEEDED', 'FAILED', 'CANCELLED'].includes(run.status)) return { out: [], next: null };
    const e: RunEvent = {
      type: 'RUN_FAILED',
      runId: run.id,
      seq: 0,
      timestamp: new Date().toISOString(),
      error: { code: 'INTERNAL_ERROR', message: `The run could not be executed: ${message}`, details: {} },
      usage: {
        promptTokens: run.promptTokens,
        completionTokens: run.completionTokens,
        totalTokens: run.promptTokens + run.completionTokens,
        costUsd: Number(run.costUsd),
        calls: 0,
      },
    };
    const out = await appendRunEvents(tx, job.tenantId, job.runId, [toLogEvent(e, new Map())]);
    await applyState(tx, job.tenantId, job.runId, e, new Map());
    const next = run.threadId ? await releaseNextThreadRun(tx, run.threadId) : null;
    return { out, next };
  });
  await publishCommitted(() =>
    Promise.all([
      publishEvents(opts.bus, stored.out),
      stored.out.length > 0 && publishRunUpdate(opts.bus, job.tenantId, job.runId),
    ]),
  );
  if (stored.next) await queueNext(opts, { tenantId: job.tenantId, runId: stored.next });
}
