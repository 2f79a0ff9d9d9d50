/**
 * The fixed set of error codes raised by `@troupe/agents`.
 * Consumers switch on `error.code`; messages are for humans.
 */
export const AGENTS_ERROR_CODES = [
  'MISSING_INPUT',
  'INVALID_CREW',
  'INVALID_TOOL',
  'PROVIDER_UNREACHABLE',
  'PROVIDER_AUTH',
  'MODEL_NOT_FOUND',
  'PROVIDER_ERROR',
  'TIMEOUT',
  'STRUCTURED_OUTPUT_INVALID',
  'GUARDRAIL_FAILED',
  'APPROVAL_REJECTED',
  'CANCELLED',
  'TOOL_ERROR',
  'MAX_ITERATIONS',
  'INVALID_ARGUMENT',
  'INTERNAL_ERROR',
] as const;

export type AgentsErrorCode = (typeof AGENTS_ERROR_CODES)[number];

/** Extra, machine-readable facts about an error. Every field is optional. */
export interface AgentsErrorDetails {
  provider?: string;
  url?: string;
  model?: string;
  status?: number;
  taskName?: string;
  agentName?: string;
  toolName?: string;
  field?: string;
  /** True when the failed call may succeed if repeated (429, 5xx, connection errors, timeouts). */
  retryable?: boolean;
  /** Delay the server asked for via `Retry-After`, in milliseconds. */
  retryAfterMs?: number;
  /** Validation problems (structured output, guardrails). */
  issues?: string[];
}

/** The single error class of `@troupe/agents`. */
export class AgentsError extends Error {
  override readonly name = 'AgentsError';
  readonly code: AgentsErrorCode;
  readonly details: AgentsErrorDetails;

  constructor(
    code: AgentsErrorCode,
    message: string,
    options: { details?: AgentsErrorDetails; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = options.details ?? {};
  }

  /** A plain JSON-safe view, used in `RUN_FAILED` events. */
  toJSON(): { code: AgentsErrorCode; message: string; details: AgentsErrorDetails } {
    return { code: this.code, message: this.message, details: this.details };
  }
}

/** Type guard that also works across module-system boundaries (ESM/CJS copies). */
export function isAgentsError(value: unknown): value is AgentsError {
  return (
    value instanceof AgentsError ||
    (value instanceof Error &&
      value.name === 'AgentsError' &&
      typeof (value as { code?: unknown }).code === 'string' &&
      (AGENTS_ERROR_CODES as readonly string[]).includes((value as unknown as { code: string }).code))
  );
}
