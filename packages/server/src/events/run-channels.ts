import type { EventBus } from './event-bus.js';
import type { StoredRunEvent } from './run-event-log.js';
import { encodeLiveEvent } from './run-event-stream.js';

/** The live channel of a run's events. */
export const runChannel = (runId: string) => `run:${runId}`;
/** The live channel of a thread's events (those of its chat runs). */
export const threadChannel = (threadId: string) => `thread:${threadId}`;

let lastWarned = 0;

/**
 * Publishes what a committed transaction stored or changed, best effort: the commit is what
 * counts, and subscribers read the durable log. A bus that is away (Redis down) is reported at most
 * every 10 s, never thrown at the operation that committed (startRun, cancelRun, a worker's retry).
 */
export async function publishCommitted(publish: () => Promise<unknown>): Promise<void> {
  try {
    await publish();
  } catch (err) {
    const now = Date.now();
    if (now - lastWarned < 10_000) return;
    lastWarned = now;
    console.warn(
      `troupe: live updates could not be published (${(err as Error).message}); subscribers read them from the log`,
    );
  }
}

/**
 * Publishes committed log events on their run's channel and, for chat runs, their thread's.
 * Call it only after the transaction that stored them has committed.
 */
export async function publishEvents(bus: EventBus, events: readonly StoredRunEvent[]): Promise<void> {
  // Issued together, in order: a bus delivers one connection's messages in the order sent (Redis
  // pipelines them into one write), so a batch costs one round trip, not one per event.
  const sent: Promise<void>[] = [];
  for (const e of events) {
    const message = encodeLiveEvent(e);
    sent.push(bus.publish(runChannel(e.runId), message));
    if (e.threadId) sent.push(bus.publish(threadChannel(e.threadId), message));
  }
  await Promise.all(sent);
}
