import { encodeGlobalID } from '@pothos/plugin-relay';
import type { Tx } from '../db/database.js';
import type { StoredRunEvent } from '../events/run-event-log.js';
import type { Prisma } from '../generated/prisma/client.js';
import type { WebhookEvent } from '../generated/prisma/enums.js';

const STATUS: Record<WebhookEvent, string> = {
  RUN_SUCCEEDED: 'SUCCEEDED',
  RUN_FAILED: 'FAILED',
  RUN_CANCELLED: 'CANCELLED',
};

/** The JSON body every attempt of a delivery sends. Ids are the API's global ids. */
export interface WebhookPayload {
  event: WebhookEvent;
  runId: string;
  crewId: string;
  status: string;
  output: string | null;
  structuredOutput: unknown;
  error: { code: string; message: string } | null;
  usage: { promptTokens: number; completionTokens: number; totalTokens: number; costUsd: number };
  finishedAt: string;
}

function isWebhookEvent(type: string): type is WebhookEvent {
  return type in STATUS;
}

/**
 * The outbox: called by appendRunEvents in the transaction that logs a run's events. For a terminal
 * event it writes one PENDING delivery per enabled webhook of the run's crew that subscribes to it,
 * so no run finishes without its deliveries (and none is delivered for a run that did not finish).
 */
export async function enqueueWebhookDeliveries(
  tx: Tx,
  tenantId: string,
  runId: string,
  events: readonly StoredRunEvent[],
): Promise<void> {
  const terminal = events.find((e) => isWebhookEvent(e.type));
  if (!terminal || !isWebhookEvent(terminal.type)) return;
  const event = terminal.type;
  const run = await tx.run.findUnique({
    where: { id: runId },
    select: { crewId: true, promptTokens: true, completionTokens: true, costUsd: true },
  });
  if (!run?.crewId) return;
  // The event filter is applied here, not as an array condition in SQL: pglite-prisma-adapter
  // sends an enum-array parameter as a bare string ("malformed array literal") outside vitest.
  const hooks = (
    await tx.webhook.findMany({
      where: { crewId: run.crewId, enabled: true },
      select: { id: true, events: true },
    })
  ).filter((h) => h.events.includes(event));
  if (hooks.length === 0) return;
  const data = (terminal.data ?? {}) as {
    output?: string;
    structuredOutput?: unknown;
    error?: { code?: string; message?: string };
    reason?: string;
  };
  // The run's totals over all its attempts (each USAGE event is applied before the terminal one).
  const usage = run;
  const payload: WebhookPayload = {
    event,
    runId: encodeGlobalID('Run', runId),
    crewId: encodeGlobalID('Crew', run.crewId),
    status: STATUS[event],
    output: data.output ?? null,
    structuredOutput: data.structuredOutput ?? null,
    error:
      event === 'RUN_FAILED'
        ? { code: String(data.error?.code ?? 'INTERNAL_ERROR'), message: String(data.error?.message ?? '') }
        : event === 'RUN_CANCELLED'
          ? { code: 'CANCELLED', message: data.reason ?? 'The run was cancelled.' }
          : null,
    usage: {
      promptTokens: usage.promptTokens,
      completionTokens: usage.completionTokens,
      totalTokens: usage.promptTokens + usage.completionTokens,
      costUsd: Number(usage.costUsd),
    },
    finishedAt: terminal.at.toISOString(),
  };
  await tx.webhookDelivery.createMany({
    data: hooks.map((h) => ({
      tenantId,
      webhookId: h.id,
      runId,
      event,
      payload: payload as unknown as Prisma.InputJsonValue,
      nextAttemptAt: terminal.at,
    })),
  });
}
