import type { MessageRole, RunEventType } from '../generated/graphql';

/** Token and cost totals, as events carry them. */
export interface RunUsageTotals {
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
  costUsd: number;
  /** Number of LLM calls counted. */
  calls: number;
}

interface TaskEventData {
  taskName: string;
  agentName: string;
}

/** What `data` holds for each event type (the server's JSON field, typed). */
export interface RunEventDataByType {
  RUN_STARTED: { crewName: string; process: string; taskNames: string[]; resumedTaskNames: string[] };
  TASK_STARTED: TaskEventData & { description: string };
  /** The text itself is in `delta`. */
  TOKEN: TaskEventData;
  TOOL_CALL: TaskEventData & { toolCallId: string; toolName: string; args: unknown };
  TOOL_RESULT: TaskEventData & {
    toolCallId: string;
    toolName: string;
    result: string;
    isError: boolean;
    durationMs: number;
  };
  APPROVAL_REQUESTED: TaskEventData & { output: string; structuredOutput?: unknown; revision: number };
  TASK_COMPLETED: TaskEventData & {
    output: string;
    structuredOutput?: unknown;
    usage: RunUsageTotals;
    approval?: { approved: true; feedback?: string };
  };
  USAGE: TaskEventData & {
    provider: string;
    model: string;
    promptTokens: number;
    completionTokens: number;
    totalTokens: number;
    costUsd: number;
    estimated: boolean;
  };
  RUN_SUCCEEDED: {
    output: string;
    structuredOutput?: unknown;
    tasks: Record<string, { output: string; structuredOutput?: unknown }>;
    usage: RunUsageTotals;
  };
  RUN_FAILED: { error: { code: string; message: string; details?: unknown }; usage: RunUsageTotals };
  RUN_CANCELLED: { reason: string; usage: RunUsageTotals };
  /** An attempt failed and the crew's retry policy runs the run again after `delayMs` (the stream stays open). */
  RUN_RETRYING: {
    attempt: number;
    maxAttempts: number;
    delayMs: number;
    nextAttemptAt: string;
    error: { code: string; message: string; details?: unknown };
  };
  /** A message joined the thread (threads only): the user's, or the reply just before RUN_SUCCEEDED. */
  MESSAGE_CREATED: { message: { id: string; role: MessageRole; content: string; createdAt: string } };
}

/** One entry of a run's event log with fields common to every event type. */
export interface RunEventOf<TType extends RunEventType> {
  /** 1, 2, 3, … without holes. */
  seq: number;
  type: TType;
  /** ISO-8601 time. */
  at: string;
  /** The task run the event belongs to (null for run-level events). */
  taskRunId: string | null;
  /** Token text on TOKEN events, else null. */
  delta: TType extends 'TOKEN' ? string : null;
  data: RunEventDataByType[TType];
}

/** One entry of a run's event log, discriminated by `type`. */
export type RunEvent = { [TType in RunEventType]: RunEventOf<TType> }[RunEventType];

/** One entry of a thread's log: its messages and the events of the runs answering them. */
export type ThreadEvent = {
  [TType in RunEventType]: Omit<RunEventOf<TType>, 'seq'> & {
    /** The thread's own sequence number: 1, 2, 3, … without holes. */
    seq: number;
    /** The run the event belongs to. */
    runId: string;
    /** The event's number in its run's log. */
    runSeq: number;
  };
}[RunEventType];
