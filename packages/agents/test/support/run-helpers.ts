import type { AgentDefinition, CrewRun, RunEvent, RunEventType } from '../../src/index.js';

/** Drains a run's event stream. */
export async function collectEvents(run: CrewRun): Promise<RunEvent[]> {
  const events: RunEvent[] = [];
  for await (const event of run) events.push(event);
  return events;
}

/** Events of one type, narrowed. */
export function eventsOfType<T extends RunEventType>(
  events: RunEvent[],
  type: T,
): Array<Extract<RunEvent, { type: T }>> {
  return events.filter((event): event is Extract<RunEvent, { type: T }> => event.type === type);
}

/** A minimal agent definition for tests. */
export function testAgent(
  name: string,
  model: AgentDefinition['model'],
  extra: Partial<AgentDefinition> = {},
): AgentDefinition {
  return { name, role: `${name} role`, goal: `${name} goal`, model, ...extra };
}

/** Retry settings that keep tests fast. */
export const FAST_RETRY = { maxRetries: 2, baseDelayMs: 5, maxDelayMs: 20 } as const;

/** Polls until `check()` is true (e.g. a test server noticing a closed connection). */
export async function waitFor(check: () => boolean, timeoutMs = 2000): Promise<void> {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > timeoutMs) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
