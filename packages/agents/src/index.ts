// Public API of @troupe/agents. Everything not listed here is internal.

export type {
  AgentDefinition,
  ConversationTurn,
  CrewDefinition,
  CrewGuardrails,
  CrewProcess,
  CrewProcessInput,
  ModelConfig,
  OutputValidation,
  OutputValidator,
  OutputValidatorContext,
  PiiGuardrail,
  PiiType,
  ProviderName,
  ProviderNameInput,
  TaskDefinition,
} from './crew/crew-definition.js';
export { type ValidatedCrew, validateCrew } from './crew/crew-validation.js';
export { templateVariables } from './crew/template-variables.js';

export { createEmbedder } from './embeddings/create-embedder.js';
export type { Embedder, EmbedderOptions, EmbedderSpec, EmbeddingResult } from './embeddings/embedder.js';
export { parseEmbedderSpec } from './embeddings/embedder-spec.js';

export {
  AGENTS_ERROR_CODES,
  AgentsError,
  type AgentsErrorCode,
  type AgentsErrorDetails,
  isAgentsError,
} from './errors/agents-error.js';

export {
  type ApprovalRequestedEvent,
  RUN_EVENT_TYPES,
  type RunCancelledEvent,
  type RunErrorInfo,
  type RunEvent,
  type RunEventType,
  type RunFailedEvent,
  type RunStartedEvent,
  type RunSucceededEvent,
  type RunTerminalEvent,
  type TaskCompletedEvent,
  type TaskOutput,
  type TaskStartedEvent,
  type TokenEvent,
  type ToolCallEvent,
  type ToolResultEvent,
  type UsageEvent,
  type UsageTotals,
} from './events/run-event.js';

export { type PiiRedactionResult, redactPii } from './guardrails/pii-redaction.js';

export type { ChatChunk, ChatProvider, ChatRequest, ToolSpec } from './providers/chat-provider.js';
export { createOllamaProvider, type OllamaProviderOptions } from './providers/ollama-provider.js';
export { createOpenAIProvider, type OpenAIProviderOptions } from './providers/openai-provider.js';
export type { ProviderSettings } from './providers/provider-resolver.js';
export type { RetryOptions } from './providers/retry-policy.js';
export {
  createScriptedProvider,
  type ScriptedProvider,
  type ScriptedScript,
  type ScriptedTurn,
} from './providers/scripted-provider.js';

export type { ApprovalDecision, ApprovalHandler, ApprovalRequest } from './runtime/approval-gate.js';
export {
  type CrewRun,
  type RunCrewOptions,
  type RunResult,
  runCrew,
  type TaskCheckpoint,
} from './runtime/run-crew.js';

export { type ChunkTextOptions, chunkText, type TextChunk } from './text/chunk-text.js';
export { estimateTokens } from './text/estimate-tokens.js';

// The SSRF address policy of http_request, shared with the server's outbound webhooks.
export { type BlockedAddressKind, blockedAddressKind, isMetadataHostname } from './tools/address-policy.js';
export { type AgentTool, defineTool, type ToolContext } from './tools/define-tool.js';
export { DELEGATION_TOOL_NAME } from './tools/delegation-tool.js';
export {
  createDocumentSearchTool,
  DOCUMENT_SEARCH_TOOL_NAME,
  type DocumentSearchFunction,
  type DocumentSearchHit,
  type DocumentSearchResult,
} from './tools/document-search-tool.js';
export {
  createHttpRequestTool,
  type HttpRequestResult,
  type HttpRequestToolOptions,
} from './tools/http-request-tool.js';
export type { JsonSchema } from './tools/json-schema.js';
export {
  createToolRegistry,
  fromLangChainTool,
  type ToolInput,
  type ToolRegistry,
} from './tools/tool-registry.js';

export { DEFAULT_PRICES, type ModelPrice, type PriceTable } from './usage/price-table.js';
