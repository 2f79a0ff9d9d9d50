import type { AgentDefinition, ConversationTurn } from '../crew/crew-definition.js';
import type { RunEventInput, UsageTotals } from '../events/run-event.js';
import type { ChatProvider } from '../providers/chat-provider.js';
import type { RetryOptions } from '../providers/retry-policy.js';
import type { AgentTool } from '../tools/define-tool.js';
import type { PriceTable } from '../usage/price-table.js';

/** Shared, internal state of one run, handed to the executors. */
export interface RunContext {
  runId: string;
  /** Aborted on cancellation and when the run fails (to stop sibling work). */
  signal: AbortSignal;
  emit(event: RunEventInput): void;
  retry: RetryOptions;
  /** How long one tool call may take (0: no limit); delegation is not limited. */
  toolTimeoutMs: number;
  /** The most characters of a tool result the model gets. */
  maxToolResultChars: number;
  prices: PriceTable;
  /** Run-wide totals; executors add each LLM call exactly once. */
  usage: UsageTotals;
  providerFor(agent: AgentDefinition): ChatProvider;
  /** Earlier chat turns every agent sees before its task. */
  conversation: ReadonlyArray<ConversationTurn>;
  /** When set, TOKEN deltas are released line by line, redacted (PII guardrail on outputs). */
  redactStream: ((text: string) => string) | undefined;
  /** The agent's own tools, resolved from the registry (delegation not included). */
  toolsFor(agent: AgentDefinition): AgentTool[];
}
