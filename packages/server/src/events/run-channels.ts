import type { EventBus } from './event-bus.js';
import type { StoredRunEvent } from './run-event-log.js';
import { encodeLiveEvent } from './run-event-stream.js';

/** The live channel of a run's events. */
export const runChannel = (runId: string) => `run:${runId}`;
/** The live channel of a thread's events (those of its chat runs). */
export const threadChannel = (threadId: string) => `thread:${threadId}`;

/**
 * Publishes committed log events on their run's channel and, for chat runs, their thread's.
 * Call it only after the transaction that stored them has committed.
 */
export async function publishEvents(bus: EventBus, events: readonly StoredRunEvent[]): Promise<void> {
  for (const e of events) {
    const message = encodeLiveEvent(e);
    await bus.publish(runChannel(e.runId), message);
    if (e.threadId) await bus.publish(threadChannel(e.threadId), message);
  }
}
