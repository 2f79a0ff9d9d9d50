import type { BaseMessage } from '@langchain/core/messages';
import type { ProviderName } from '../crew/crew-definition.js';
import type { JsonSchema } from '../tools/json-schema.js';

/** A tool as the model sees it. */
export interface ToolSpec {
  name: string;
  description: string;
  parameters: JsonSchema;
}

/** One LLM call. Messages are LangChain messages (System/Human/AI/Tool). */
export interface ChatRequest {
  model: string;
  messages: BaseMessage[];
  tools?: ToolSpec[];
  temperature?: number;
  maxTokens?: number;
  /** Ask the provider to constrain the answer to this JSON Schema (OpenAI `response_format`, Ollama `format`). */
  responseSchema?: JsonSchema;
  /** Aborting it must abort the HTTP request in flight. */
  signal: AbortSignal;
}

/** What a provider streams back for one call. Tool calls are yielded whole, once their arguments are complete. */
export type ChatChunk =
  | { type: 'text'; text: string }
  | { type: 'tool_call'; id: string; name: string; arguments: string }
  | { type: 'usage'; promptTokens: number; completionTokens: number };

/**
 * A chat model backend. Implementations throw `AgentsError` with `details.retryable`
 * (and `details.retryAfterMs`) so the runtime's retry layer can decide; they never retry themselves.
 */
export interface ChatProvider {
  readonly name: ProviderName;
  /** Where requests go; used in error messages. */
  readonly url: string;
  stream(request: ChatRequest): AsyncIterable<ChatChunk>;
  /**
   * Optional push-based form of `stream`, preferred by the runtime when present (fewer promise hops
   * per token): call `onChunk` synchronously for every chunk, in order, and resolve when done.
   */
  streamTo?(request: ChatRequest, onChunk: (chunk: ChatChunk) => void): Promise<void>;
}
