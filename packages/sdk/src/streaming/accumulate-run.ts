import type { RunStatus, TaskRunStatus } from '../generated/graphql';
import type { RunEvent } from './run-event';

/** Token and cost totals of a run so far. */
export interface RunUsage {
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
  costUsd: number;
}

/** One task of a run as its events tell it. */
export interface TaskState {
  taskRunId: string | null;
  name: string;
  agentName: string;
  status: TaskRunStatus;
  /** Text streamed so far (reset when the task starts again after a rejected approval). */
  text: string;
  /** The task's output once completed (or offered for approval). */
  output: string | null;
}

/** A task waiting for a `respond()`. */
export interface PendingApproval {
  taskRunId: string | null;
  taskName: string;
  output: string;
  revision: number;
}

/** What a run's events add up to: the state `runs.watch()` and `useRun()` show. */
export interface RunState {
  status: RunStatus;
  /** Sequence number of the last event applied (0: none). */
  lastSeq: number;
  /** Tasks in the order they started. */
  tasks: TaskState[];
  /** Streamed text per task name. */
  textByTask: Record<string, string>;
  /** The final task's output, once the run succeeded. */
  output: string | null;
  structuredOutput: unknown;
  usage: RunUsage;
  /** Why the run failed or was cancelled, or why the attempt being retried failed. */
  error: { code: string; message: string } | null;
  approval: PendingApproval | null;
}

/** The state before any event. */
export const initialRunState: RunState = {
  status: 'QUEUED',
  lastSeq: 0,
  tasks: [],
  textByTask: {},
  output: null,
  structuredOutput: null,
  usage: { promptTokens: 0, completionTokens: 0, totalTokens: 0, costUsd: 0 },
  error: null,
  approval: null,
};

function usageOf(totals: RunUsage): RunUsage {
  const { promptTokens, completionTokens, totalTokens, costUsd } = totals;
  return { promptTokens, completionTokens, totalTokens, costUsd };
}

function withTask(state: RunState, name: string, change: (task: TaskState) => TaskState): TaskState[] {
  return state.tasks.map((task) => (task.name === name ? change(task) : task));
}

/**
 * Applies one event to a run state and returns the next state (a reducer: the input is not
 * changed). Events at or below `state.lastSeq` are ignored, so replays are harmless.
 */
export function accumulateRun(state: RunState, event: RunEvent): RunState {
  if (event.seq <= state.lastSeq) return state;
  const next: RunState = { ...state, lastSeq: event.seq };
  switch (event.type) {
    case 'RUN_STARTED':
      return { ...next, status: 'RUNNING', error: null };
    case 'TASK_STARTED': {
      const { taskName, agentName } = event.data;
      const task: TaskState = {
        taskRunId: event.taskRunId,
        name: taskName,
        agentName,
        status: 'RUNNING',
        text: '',
        output: null,
      };
      const known = state.tasks.some((t) => t.name === taskName);
      return {
        ...next,
        status: 'RUNNING',
        approval: null,
        tasks: known ? withTask(state, taskName, () => task) : [...state.tasks, task],
        textByTask: { ...state.textByTask, [taskName]: '' },
      };
    }
    case 'TOKEN': {
      const { taskName } = event.data;
      const text = (state.textByTask[taskName] ?? '') + event.delta;
      return {
        ...next,
        tasks: withTask(state, taskName, (task) => ({ ...task, text })),
        textByTask: { ...state.textByTask, [taskName]: text },
      };
    }
    case 'APPROVAL_REQUESTED': {
      const { taskName, output, revision } = event.data;
      return {
        ...next,
        status: 'WAITING_FOR_APPROVAL',
        approval: { taskRunId: event.taskRunId, taskName, output, revision },
        tasks: withTask(state, taskName, (task) => ({ ...task, status: 'WAITING_FOR_APPROVAL', output })),
      };
    }
    case 'TASK_COMPLETED': {
      const { taskName, output } = event.data;
      return {
        ...next,
        status: state.status === 'WAITING_FOR_APPROVAL' ? 'RUNNING' : state.status,
        approval: null,
        tasks: withTask(state, taskName, (task) => ({ ...task, status: 'SUCCEEDED', output })),
      };
    }
    case 'USAGE': {
      const { promptTokens, completionTokens, totalTokens, costUsd } = event.data;
      const usage = state.usage;
      return {
        ...next,
        usage: {
          promptTokens: usage.promptTokens + promptTokens,
          completionTokens: usage.completionTokens + completionTokens,
          totalTokens: usage.totalTokens + totalTokens,
          costUsd: usage.costUsd + costUsd,
        },
      };
    }
    case 'RUN_SUCCEEDED':
      return {
        ...next,
        status: 'SUCCEEDED',
        output: event.data.output,
        structuredOutput: event.data.structuredOutput ?? null,
        usage: usageOf(event.data.usage),
        approval: null,
      };
    case 'RUN_FAILED':
      return {
        ...next,
        status: 'FAILED',
        error: { code: event.data.error.code, message: event.data.error.message },
        usage: usageOf(event.data.usage),
        approval: null,
        tasks: state.tasks.map((task) => (task.status === 'RUNNING' ? { ...task, status: 'FAILED' } : task)),
      };
    case 'RUN_RETRYING':
      // The failed attempt's error shows until the next attempt starts (RUN_STARTED clears it).
      return {
        ...next,
        status: 'QUEUED',
        error: { code: event.data.error.code, message: event.data.error.message },
        approval: null,
        tasks: state.tasks.map((task) =>
          task.status === 'SUCCEEDED' ? task : { ...task, status: 'PENDING' },
        ),
      };
    case 'RUN_CANCELLED':
      return {
        ...next,
        status: 'CANCELLED',
        error: { code: 'CANCELLED', message: event.data.reason },
        usage: usageOf(event.data.usage),
        approval: null,
        tasks: state.tasks.map((task) =>
          task.status === 'RUNNING' || task.status === 'WAITING_FOR_APPROVAL'
            ? { ...task, status: 'CANCELLED' }
            : task,
        ),
      };
    default:
      return next;
  }
}

/** Folds a whole list of events into a run state. */
export function runStateOf(events: Iterable<RunEvent>, state: RunState = initialRunState): RunState {
  let current = state;
  for (const event of events) current = accumulateRun(current, event);
  return current;
}
