import type { RunErrorInfo, RunFailedEvent } from '@troupe/agents';
import type { Database } from '../db/database.js';
import type { EventBus } from '../events/event-bus.js';
import { publishCommitted, publishEvents } from '../events/run-channels.js';
import { appendRunEvents } from '../events/run-event-log.js';
import type { Prisma } from '../generated/prisma/client.js';
import { publishRunUpdate } from './run-updates.js';

/** A run's retry policy, snapshotted from its crew when it was started. */
export interface RunRetryPolicy {
  maxAttempts: number;
  backoffMs: number;
  /** Attempts of this run that already failed and were retried. */
  failedAttempts: number;
}

/** Bounds of a crew's retry policy (createCrew / updateCrew `retry`). */
export const RETRY_LIMITS = { maxAttempts: 10, backoffMs: 3_600_000 } as const;

/** Longest wait between two attempts, whatever the doubling gives. */
const MAX_DELAY_MS = 6 * 3_600_000;

/**
 * Failures that another attempt cannot fix: the crew or its inputs are wrong, the provider refuses
 * the credentials or the model, a guardrail or a reviewer said no, the model broke the task's
 * structured-output schema or looped past maxIterations (both already retried inside the attempt).
 * Everything else — provider 5xx / 429 / unreachable / timeouts, tool errors, internal errors — is
 * retried while attempts remain.
 */
const PERMANENT_CODES: ReadonlySet<string> = new Set([
  'MISSING_INPUT',
  'INVALID_CREW',
  'INVALID_TOOL',
  'PROVIDER_AUTH',
  'MODEL_NOT_FOUND',
  'INVALID_ARGUMENT',
  'STRUCTURED_OUTPUT_INVALID',
  'GUARDRAIL_FAILED',
  'APPROVAL_REJECTED',
  'MAX_ITERATIONS',
  'CANCELLED',
]);

/** Whether a failed attempt is worth another one (see PERMANENT_CODES). */
export function isRetryableFailure(error: RunErrorInfo): boolean {
  if (PERMANENT_CODES.has(error.code)) return false;
  // A provider that refused the request itself (4xx other than 429) would refuse it again.
  if (error.code === 'PROVIDER_ERROR' && error.details?.retryable === false) return false;
  return true;
}

/**
 * The delay before the next attempt, or null when the failure is final (attempts exhausted or a
 * failure that cannot succeed on retry). Exponential: backoffMs · 2^(attempt-1).
 */
export function nextAttemptDelay(policy: RunRetryPolicy, error: RunErrorInfo): number | null {
  const attempt = policy.failedAttempts + 1;
  if (attempt >= policy.maxAttempts || !isRetryableFailure(error)) return null;
  return Math.min(MAX_DELAY_MS, policy.backoffMs * 2 ** (attempt - 1));
}

/**
 * Records that an attempt failed and will be retried: RUN_RETRYING goes to the log (instead of the
 * terminal RUN_FAILED, so streams stay open; the error is in its data), the run is QUEUED again (cancelRun cancels it during
 * the wait) and its unfinished tasks PENDING; finished tasks keep their checkpoints.
 */
export async function recordRunRetry(
  opts: { database: Database; bus: EventBus },
  job: { tenantId: string; runId: string },
  failed: RunFailedEvent,
  policy: RunRetryPolicy,
  delayMs: number,
): Promise<void> {
  const attempt = policy.failedAttempts + 1;
  const at = new Date(failed.timestamp);
  const stored = await opts.database.withTenant(job.tenantId, async (tx) => {
    const events = await appendRunEvents(tx, job.tenantId, job.runId, [
      {
        type: 'RUN_RETRYING',
        taskRunId: null,
        delta: null,
        data: {
          attempt,
          maxAttempts: policy.maxAttempts,
          delayMs,
          nextAttemptAt: new Date(at.getTime() + delayMs).toISOString(),
          error: failed.error,
        } as unknown as Prisma.InputJsonValue,
        at,
      },
    ]);
    await tx.run.update({
      where: { id: job.runId },
      data: {
        status: 'QUEUED',
        failedAttempts: { increment: 1 },
      },
    });
    await tx.taskRun.updateMany({
      where: { runId: job.runId, status: { in: ['RUNNING', 'WAITING_FOR_APPROVAL', 'FAILED'] } },
      data: { status: 'PENDING' },
    });
    return events;
  });
  await publishCommitted(() =>
    Promise.all([publishEvents(opts.bus, stored), publishRunUpdate(opts.bus, job.tenantId, job.runId)]),
  );
}
