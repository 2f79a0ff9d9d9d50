import type { EventBus } from '../events/event-bus.js';
import type { RunEventType } from '../generated/prisma/enums.js';

/** Channel on which a tenant's run status changes are announced (for runUpdated dashboards). */
export const tenantRunsChannel = (tenantId: string) => `runs:${tenantId}`;

/** Log events that change a run's status. */
export const STATUS_EVENTS: ReadonlySet<RunEventType> = new Set([
  'RUN_STARTED',
  'APPROVAL_REQUESTED',
  'TASK_COMPLETED',
  'RUN_SUCCEEDED',
  'RUN_FAILED',
  'RUN_CANCELLED',
]);

export interface RunUpdate {
  runId: string;
}

/** Announces that a run's status may have changed; subscribers re-read the run. */
export async function publishRunUpdate(bus: EventBus, tenantId: string, runId: string): Promise<void> {
  await bus.publish(tenantRunsChannel(tenantId), JSON.stringify({ runId } satisfies RunUpdate));
}
