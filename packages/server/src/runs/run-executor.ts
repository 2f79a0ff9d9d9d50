import type { CrewRun, ProviderSettings, RunEvent, TaskOutput } from '@troupe/agents';
import type { CrewDefinition } from '../crews/crew-definition.js';
import type { Database, Tx } from '../db/database.js';
import type { EventBus } from '../events/event-bus.js';
import { appendRunEvents, type NewRunEvent } from '../events/run-event-log.js';
import { encodeLiveEvent } from '../events/run-event-stream.js';
import type { Prisma } from '../generated/prisma/client.js';
import { toRuntimeCrew } from './crew-runtime-definition.js';

export interface RunJob {
  tenantId: string;
  runId: string;
}

export interface RunExecutor {
  /** Queues a committed run for execution. */
  enqueue(job: RunJob): void;
  /** Aborts a run this executor is running (true), or drops it from the queue (false). */
  cancel(runId: string, reason: string): boolean;
  /** Answers a pending approval of a run this executor holds. */
  respond(runId: string, decision: { taskName: string; approved: boolean; feedback?: string }): boolean;
  /** Runs queued or in progress here. */
  active(): number;
  /** Resolves when nothing is queued or running (tests, graceful shutdown). */
  idle(): Promise<void>;
  close(): Promise<void>;
}

export interface ExecutorOptions {
  database: Database;
  bus: EventBus;
  providers?: ProviderSettings;
  concurrency?: number;
  /** TOKEN events are stored in batches flushed this often; the stream carries the same text. */
  flushMs?: number;
}

export const runChannel = (runId: string) => `run:${runId}`;

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
 * Executes runs in this process (embedded mode, and `troupe dev` where the server is the worker).
 * Every runtime event is appended to the run's durable log and then published; each task's
 * completion is checkpointed in the same transaction, so a run picked up again resumes at its
 * first unfinished task.
 */
export function createInProcessExecutor(opts: ExecutorOptions): RunExecutor {
  const concurrency = opts.concurrency ?? 8;
  const flushMs = opts.flushMs ?? 50;
  const queue: RunJob[] = [];
  const running = new Map<string, CrewRun>();
  let busy = 0;
  let closed = false;
  const idleWaiters: (() => void)[] = [];

  const pump = () => {
    while (!closed && busy < concurrency && queue.length > 0) {
      const job = queue.shift()!;
      busy++;
      execute(job)
        .catch((err) => console.error(`troupe: run ${job.runId} could not be executed:`, err))
        .finally(() => {
          busy--;
          running.delete(job.runId);
          pump();
          if (busy === 0 && queue.length === 0) for (const w of idleWaiters.splice(0)) w();
        });
    }
  };

  async function execute(job: RunJob): Promise<void> {
    const { database, bus } = opts;
    const loaded = await database.withTenant(job.tenantId, async (tx) => {
      const run = await tx.run.findUnique({
        where: { id: job.runId },
        include: { crewVersion: { select: { definition: true } }, taskRuns: true },
      });
      if (!run || ['SUCCEEDED', 'FAILED', 'CANCELLED'].includes(run.status)) return null;
      await tx.run.update({
        where: { id: run.id },
        data: { status: 'RUNNING', startedAt: run.startedAt ?? new Date(), attempts: { increment: 1 } },
      });
      return run;
    });
    if (!loaded) return;
    const taskRunIds = new Map(loaded.taskRuns.map((t) => [t.taskName, t.id]));
    const completedTasks: Record<string, TaskOutput> = {};
    for (const t of loaded.taskRuns) {
      if (t.status === 'SUCCEEDED' && t.output !== null) {
        completedTasks[t.taskName] = {
          output: t.output,
          ...(t.structuredOutput != null ? { structuredOutput: t.structuredOutput } : {}),
        };
      }
    }
    const { runCrew } = await loadRuntime();
    const crewRun = runCrew({
      crew: toRuntimeCrew(loaded.crewVersion.definition as unknown as CrewDefinition),
      inputs: loaded.inputs as Record<string, unknown>,
      providers: opts.providers,
      completedTasks,
      runId: loaded.id,
    });
    running.set(job.runId, crewRun);

    let pending: RunEvent[] = [];
    let timer: NodeJS.Timeout | undefined;
    let chain: Promise<void> = Promise.resolve();
    const flush = () => {
      if (timer) clearTimeout(timer);
      timer = undefined;
      const batch = pending;
      pending = [];
      if (batch.length === 0) return chain;
      chain = chain.then(async () => {
        const stored = await database.withTenant(job.tenantId, async (tx) => {
          const out = await appendRunEvents(
            tx,
            job.tenantId,
            job.runId,
            batch.map((e) => toLogEvent(e, taskRunIds)),
          );
          for (const e of batch)
            if (e.type !== 'TOKEN') await applyState(tx, job.tenantId, job.runId, e, taskRunIds);
          return out;
        });
        for (const e of stored) await bus.publish(runChannel(job.runId), encodeLiveEvent(e));
      });
      return chain;
    };
    for await (const e of crewRun) {
      pending.push(e);
      if (e.type === 'TOKEN') timer ??= setTimeout(flush, flushMs);
      else await flush();
    }
    await flush();
  }

  return {
    enqueue(job) {
      if (closed) throw new Error('executor is closed');
      queue.push(job);
      pump();
    },
    cancel(runId, reason) {
      const queuedAt = queue.findIndex((j) => j.runId === runId);
      const r = running.get(runId);
      if (r) {
        r.cancel(reason);
        return true;
      }
      if (queuedAt >= 0) queue.splice(queuedAt, 1); // the caller records the cancellation
      return false;
    },
    respond(runId, decision) {
      return running.get(runId)?.respond(decision) ?? false;
    },
    active: () => busy + queue.length,
    idle() {
      if (busy === 0 && queue.length === 0) return Promise.resolve();
      return new Promise((resolve) => idleWaiters.push(resolve));
    },
    async close() {
      closed = true;
      queue.length = 0;
      for (const r of running.values()) r.cancel('The server is shutting down.');
      if (busy > 0) await new Promise<void>((resolve) => idleWaiters.push(resolve));
    },
  };
}
