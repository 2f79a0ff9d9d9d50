/** Events that may carry streamed text. */
export interface TextEvent {
  type: string;
  delta?: string | null;
  taskRunId?: string | null;
  data?: unknown;
}

export interface CollectTextOptions {
  /** Only the text of this task (by name or task run id). */
  task?: string;
}

function matches(event: TextEvent, task: string | undefined): boolean {
  if (task === undefined) return true;
  if (event.taskRunId === task) return true;
  const data = event.data as { taskName?: unknown } | null | undefined;
  return data?.taskName === task;
}

/**
 * The streamed text (TOKEN deltas) of a run or thread stream, or a list of events, joined:
 * `await collectText(client.runs.stream(runId))`.
 */
export async function collectText(
  events: AsyncIterable<TextEvent> | Iterable<TextEvent>,
  options: CollectTextOptions = {},
): Promise<string> {
  let text = '';
  for await (const event of events) {
    if (event.type === 'TOKEN' && event.delta && matches(event, options.task)) text += event.delta;
  }
  return text;
}
