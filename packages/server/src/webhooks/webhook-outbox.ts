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

/** The first event of a batch that webhooks announce, if any. */
export function webhookEventOf(
  events: readonly Pick<StoredRunEvent, 'type' | 'data' | 'at'>[],
): (Pick<StoredRunEvent, 'data' | 'at'> & { type: WebhookEvent }) | undefined {
  return events.find((e) => isWebhookEvent(e.type)) as
    | (Pick<StoredRunEvent, 'data' | 'at'> & { type: WebhookEvent })
    | undefined;
}

/**
 * A delivery's body for a run's terminal event. `usage`: the run's totals over all its attempts,
 * read in the transaction that logs the event.
 */
export function webhookPayload(
  event: WebhookEvent,
  runId: string,
  crewId: string,
  terminal: Pick<StoredRunEvent, 'data' | 'at'>,
  usage: { promptTokens: number; completionTokens: number; costUsd: number },
): WebhookPayload {
  const data = (terminal.data ?? {}) as {
    output?: string;
    structuredOutput?: unknown;
    error?: { code?: string; message?: string };
    reason?: string;
  };
  return {
    event,
    runId: encodeGlobalID('Run', runId),
    crewId: encodeGlobalID('Crew', crewId),
    status: STATUS[event],
    output: data.output ?? null,
    structuredOutput: data.structuredOutput ?? null,
    error:
      event === 'RUN_FAILED'
        ? { code: String(data.error?.code ?? 'INTERNAL_ERROR'), message: String(data.error?.message ?? '') }
        : event === 'RUN_CANCELLED'
          ? { code: 'CANCELLED', message: data.reason ?? 'The run was cancelled.' }
          : null,
    usage: { ...usage, totalTokens: usage.promptTokens + usage.completionTokens },
    finishedAt: terminal.at.toISOString(),
  };
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
  const terminal = webhookEventOf(events);
  if (!terminal) return;
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
  const payload = webhookPayload(event, runId, run.crewId, terminal, {
    promptTokens: run.promptTokens,
    completionTokens: run.completionTokens,
    costUsd: Number(run.costUsd),
  });
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
