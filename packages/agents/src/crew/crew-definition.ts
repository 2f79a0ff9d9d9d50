import type { JsonSchema } from '../tools/json-schema.js';

/** Providers the runtime knows. Upper-case aliases match the server's GraphQL enum. */
export type ProviderName = 'openai' | 'ollama' | 'scripted';
export type ProviderNameInput = ProviderName | 'OPENAI' | 'OLLAMA' | 'SCRIPTED';

export interface ModelConfig {
  provider: ProviderNameInput;
  /** Model name as the provider knows it, e.g. `gpt-4o-mini` or `llama3.1:8b`. */
  name: string;
  temperature?: number;
  maxTokens?: number;
  /** Overrides `OPENAI_BASE_URL` / `OLLAMA_HOST` for this agent. */
  baseUrl?: string;
}

export interface AgentDefinition {
  name: string;
  role: string;
  goal: string;
  backstory?: string;
  instructions?: string;
  model: ModelConfig;
  /** Tool names, resolved against the tool registry passed to `runCrew`. */
  tools?: string[];
  /** Upper bound of LLM calls in one task's tool loop. Default 8. */
  maxIterations?: number;
  /** Gives the agent the `delegate_work` tool to hand work to the crew's other agents. */
  allowDelegation?: boolean;
}

/** Result of an output validator: accept, or ask the agent to try again with feedback. */
export type OutputValidation = { ok: true } | { ok: false; feedback: string };

export interface OutputValidatorContext {
  taskName: string;
  agentName: string;
  structuredOutput: unknown;
}

export type OutputValidator = (
  output: string,
  context: OutputValidatorContext,
) => OutputValidation | Promise<OutputValidation>;

/** One earlier turn of a chat (see `RunCrewOptions.conversation`). */
export interface ConversationTurn {
  role: 'user' | 'assistant';
  content: string;
}

export interface TaskDefinition {
  name: string;
  /** Template; `{{variable}}` placeholders are filled from the run inputs. */
  description: string;
  expectedOutput?: string;
  /** Agent name. Optional for HIERARCHICAL crews (the manager decides). */
  agent?: string;
  /** Names of tasks whose outputs this task receives as context. */
  dependsOn?: string[];
  /** JSON Schema for structured output. The final answer must be JSON that validates. */
  outputSchema?: JsonSchema;
  /** Pause after the agent answers and emit `APPROVAL_REQUESTED` until the caller responds. */
  requiresApproval?: boolean;
  /** How many times a rejected answer is revised with the reviewer's feedback. Default 1. */
  maxRevisions?: number;
  /** Validators that can reject an answer and ask the agent to try again. */
  validators?: OutputValidator[];
  /** How many times validators may send the agent back. Default 1. */
  maxValidationRetries?: number;
}

export type CrewProcess = 'SEQUENTIAL' | 'PARALLEL' | 'HIERARCHICAL';
export type CrewProcessInput = CrewProcess | 'sequential' | 'parallel' | 'hierarchical';

export type PiiType = 'email' | 'phone' | 'card' | 'iban' | 'ssn';

export interface PiiGuardrail {
  /** Redact run inputs before they reach any model. Default true. */
  inputs?: boolean;
  /** Redact task outputs before they are stored, passed on or emitted in TASK_COMPLETED. Default true. */
  outputs?: boolean;
  /** Which kinds to redact. Default: all. */
  types?: PiiType[];
}

export interface CrewGuardrails {
  redactPii?: boolean | PiiGuardrail;
}

export interface CrewDefinition {
  name: string;
  /** Default SEQUENTIAL. */
  process?: CrewProcessInput;
  agents: AgentDefinition[];
  tasks: TaskDefinition[];
  /** HIERARCHICAL only: the manager agent, inline or by name from `agents`. */
  manager?: AgentDefinition | string;
  guardrails?: CrewGuardrails;
}
