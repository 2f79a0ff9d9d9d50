import type { CrewProcess, ProviderName } from '../crew/crew-definition.js';
import type { AgentsErrorCode, AgentsErrorDetails } from '../errors/agents-error.js';

/** The 11 event kinds, named exactly like the server's GraphQL `RunEventType` enum. */
export const RUN_EVENT_TYPES = [
  'RUN_STARTED',
  'TASK_STARTED',
  'TOKEN',
  'TOOL_CALL',
  'TOOL_RESULT',
  'APPROVAL_REQUESTED',
  'TASK_COMPLETED',
  'USAGE',
  'RUN_SUCCEEDED',
  'RUN_FAILED',
  'RUN_CANCELLED',
] as const;

export type RunEventType = (typeof RUN_EVENT_TYPES)[number];

/** Token and cost totals. */
export interface UsageTotals {
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
  costUsd: number;
  /** Number of LLM calls counted. */
  calls: number;
}

export interface TaskOutput {
  output: string;
  structuredOutput?: unknown;
}

interface RunEventBase {
  /** 1, 2, 3, … without holes, in emission order (or from `firstSequence`). */
  seq: number;
  runId: string;
  /** ISO-8601 timestamp. */
  timestamp: string;
}

export interface RunStartedEvent extends RunEventBase {
  type: 'RUN_STARTED';
  crewName: string;
  process: CrewProcess;
  taskNames: string[];
  /** Tasks restored from `completedTasks`; they are not executed again. */
  resumedTaskNames: string[];
}

export interface TaskStartedEvent extends RunEventBase {
  type: 'TASK_STARTED';
  taskName: string;
  agentName: string;
  /** The rendered task description the agent receives. */
  description: string;
}

export interface TokenEvent extends RunEventBase {
  type: 'TOKEN';
  taskName: string;
  agentName: string;
  delta: string;
}

export interface ToolCallEvent extends RunEventBase {
  type: 'TOOL_CALL';
  taskName: string;
  agentName: string;
  toolCallId: string;
  toolName: string;
  args: unknown;
}

export interface ToolResultEvent extends RunEventBase {
  type: 'TOOL_RESULT';
  taskName: string;
  agentName: string;
  toolCallId: string;
  toolName: string;
  /** What the model receives (text). */
  result: string;
  isError: boolean;
  durationMs: number;
}

export interface ApprovalRequestedEvent extends RunEventBase {
  type: 'APPROVAL_REQUESTED';
  taskName: string;
  agentName: string;
  output: string;
  structuredOutput?: unknown;
  /** 0 for the first answer, 1 after the first rejection, … */
  revision: number;
}

export interface TaskCompletedEvent extends RunEventBase {
  type: 'TASK_COMPLETED';
  taskName: string;
  agentName: string;
  output: string;
  structuredOutput?: unknown;
  usage: UsageTotals;
  /** Reviewer feedback when the task required approval. */
  approval?: { approved: true; feedback?: string };
}

export interface UsageEvent extends RunEventBase {
  type: 'USAGE';
  taskName: string;
  agentName: string;
  provider: ProviderName;
  model: string;
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
  costUsd: number;
  /** True when the provider reported no usage and the counts are estimated from text length. */
  estimated: boolean;
}

export interface RunSucceededEvent extends RunEventBase {
  type: 'RUN_SUCCEEDED';
  /** Output of the crew's final task. */
  output: string;
  structuredOutput?: unknown;
  tasks: Record<string, TaskOutput>;
  usage: UsageTotals;
}

export interface RunErrorInfo {
  code: AgentsErrorCode;
  message: string;
  details: AgentsErrorDetails;
}

export interface RunFailedEvent extends RunEventBase {
  type: 'RUN_FAILED';
  error: RunErrorInfo;
  usage: UsageTotals;
}

export interface RunCancelledEvent extends RunEventBase {
  type: 'RUN_CANCELLED';
  reason: string;
  usage: UsageTotals;
}

/** Every event a run emits, discriminated by `type`. */
export type RunEvent =
  | RunStartedEvent
  | TaskStartedEvent
  | TokenEvent
  | ToolCallEvent
  | ToolResultEvent
  | ApprovalRequestedEvent
  | TaskCompletedEvent
  | UsageEvent
  | RunSucceededEvent
  | RunFailedEvent
  | RunCancelledEvent;

/** The terminal events: exactly one ends every run. */
export type RunTerminalEvent = RunSucceededEvent | RunFailedEvent | RunCancelledEvent;

/** Distributive omit so each variant keeps its own fields. */
export type RunEventInput = RunEvent extends infer E
  ? E extends RunEvent
    ? Omit<E, 'seq' | 'runId' | 'timestamp'>
    : never
  : never;
