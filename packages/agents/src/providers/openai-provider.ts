import type { BaseMessage } from '@langchain/core/messages';
import OpenAI from 'openai';
import type {
  ChatCompletionChunk,
  ChatCompletionCreateParamsStreaming,
  ChatCompletionMessageParam,
  ChatCompletionTool,
} from 'openai/resources/chat/completions';
import { AgentsError } from '../errors/agents-error.js';
import type { ChatChunk, ChatProvider, ChatRequest } from './chat-provider.js';
import { messageText, messageToolCalls, toolMessageFields } from './langchain-messages.js';
import { providerFetch } from './node-http-fetch.js';
import {
  type ProviderErrorAdvice,
  parseRetryAfter,
  providerStatusError,
  providerUnreachableError,
} from './provider-errors.js';

export interface OpenAIProviderOptions {
  /** Default: `OPENAI_API_KEY`. Not required for local OpenAI-compatible servers. */
  apiKey?: string;
  /** Default: `OPENAI_BASE_URL`, else `https://api.openai.com/v1`. Any OpenAI-compatible server works. */
  baseUrl?: string;
  /**
   * Which field carries `maxTokens`. Default: `max_completion_tokens` for api.openai.com,
   * `max_tokens` elsewhere (what most compatible servers understand).
   */
  maxTokensField?: 'max_tokens' | 'max_completion_tokens';
  /** Extra headers sent with every request. */
  headers?: Record<string, string>;
  /**
   * The fetch the client calls. Default: one on Node's http client (less CPU per call than the
   * built-in fetch; the built-in one is used whenever an undici dispatcher is installed).
   */
  fetch?: typeof fetch;
}

export const DEFAULT_OPENAI_URL = 'https://api.openai.com/v1';

/** OpenAI (or any OpenAI-compatible server) through the official `openai` client, with its own retries off. */
export function createOpenAIProvider(options: OpenAIProviderOptions = {}): ChatProvider {
  const env = typeof process === 'undefined' ? {} : process.env;
  const url = (options.baseUrl || env.OPENAI_BASE_URL || DEFAULT_OPENAI_URL).replace(/\/+$/, '');
  const isOfficial = url.startsWith(DEFAULT_OPENAI_URL);
  const apiKey = options.apiKey || env.OPENAI_API_KEY || undefined;
  if (!apiKey && isOfficial) {
    throw new AgentsError(
      'PROVIDER_AUTH',
      `No API key for the OpenAI provider at ${url}. Set OPENAI_API_KEY, pass providers.openai.apiKey, or set OPENAI_BASE_URL to an OpenAI-compatible server that needs no key.`,
      { details: { provider: 'openai', url } },
    );
  }
  const client = new OpenAI({
    apiKey: apiKey ?? 'not-needed',
    baseURL: url,
    maxRetries: 0,
    // Our retry layer owns timeouts; keep the client's own far away.
    timeout: 24 * 60 * 60 * 1000,
    defaultHeaders: options.headers,
    fetch: options.fetch ?? providerFetch(),
  });
  const maxTokensField = options.maxTokensField ?? (isOfficial ? 'max_completion_tokens' : 'max_tokens');

  function params(request: ChatRequest): ChatCompletionCreateParamsStreaming {
    const body: ChatCompletionCreateParamsStreaming = {
      model: request.model,
      messages: request.messages.map(toOpenAIMessage),
      stream: true,
      stream_options: { include_usage: true },
    };
    if (request.temperature !== undefined) body.temperature = request.temperature;
    if (request.maxTokens !== undefined) body[maxTokensField] = request.maxTokens;
    if (request.tools && request.tools.length > 0) {
      body.tools = request.tools.map(
        (tool): ChatCompletionTool => ({
          type: 'function',
          function: { name: tool.name, description: tool.description, parameters: tool.parameters },
        }),
      );
    }
    if (request.responseSchema) {
      body.response_format = {
        type: 'json_schema',
        json_schema: { name: 'output', schema: request.responseSchema, strict: false },
      };
    }
    return body;
  }

  async function streamTo(request: ChatRequest, onChunk: (chunk: ChatChunk) => void): Promise<void> {
    const mapper = new OpenAIChunkMapper();
    try {
      const completion = await client.chat.completions.create(params(request), { signal: request.signal });
      for await (const chunk of completion) mapper.map(chunk, onChunk);
    } catch (error) {
      throw mapOpenAIError(error, url, request.model);
    }
    mapper.finish(onChunk);
  }

  async function* stream(request: ChatRequest): AsyncGenerator<ChatChunk> {
    const mapper = new OpenAIChunkMapper();
    const out: ChatChunk[] = [];
    const push = (chunk: ChatChunk): void => {
      out.push(chunk);
    };
    try {
      const completion = await client.chat.completions.create(params(request), { signal: request.signal });
      for await (const chunk of completion) {
        mapper.map(chunk, push);
        yield* out;
        out.length = 0;
      }
    } catch (error) {
      throw mapOpenAIError(error, url, request.model);
    }
    mapper.finish(push);
    yield* out;
  }

  return { name: 'openai', url, stream, streamTo };
}

type ToolCallDelta = Omit<ChatCompletionChunk.Choice.Delta.ToolCall, 'index'> & { index?: number };

/**
 * Maps OpenAI stream chunks to `ChatChunk`s: text deltas pass straight through, tool-call deltas
 * are accumulated and emitted whole by `finish`, the `include_usage` chunk becomes a usage chunk.
 */
class OpenAIChunkMapper {
  private readonly pending = new Map<number, { id: string; name: string; arguments: string }>();

  map(chunk: ChatCompletionChunk, onChunk: (chunk: ChatChunk) => void): void {
    const delta = chunk.choices[0]?.delta;
    if (delta?.content) onChunk({ type: 'text', text: delta.content });
    if (delta?.tool_calls) {
      for (const part of delta.tool_calls) this.addToolCallDelta(part);
    }
    if (chunk.usage) {
      onChunk({
        type: 'usage',
        promptTokens: chunk.usage.prompt_tokens ?? 0,
        completionTokens: chunk.usage.completion_tokens ?? 0,
      });
    }
  }

  finish(onChunk: (chunk: ChatChunk) => void): void {
    const ordered = [...this.pending.entries()].sort((a, b) => a[0] - b[0]);
    for (const [index, call] of ordered) {
      onChunk({
        type: 'tool_call',
        id: call.id || `call_${index}`,
        name: call.name,
        arguments: call.arguments,
      });
    }
    this.pending.clear();
  }

  /**
   * Accumulates one tool-call delta. OpenAI sends `index`; some compatible servers omit it (then a
   * new `id` starts a new call) or send `arguments` as an object instead of a JSON string.
   */
  private addToolCallDelta(part: ToolCallDelta): void {
    let index: number;
    if (typeof part.index === 'number') index = part.index;
    else {
      const lastIndex = this.pending.size - 1;
      const last = this.pending.get(lastIndex);
      index = !last || (part.id && last.id && part.id !== last.id) ? this.pending.size : lastIndex;
    }
    let call = this.pending.get(index);
    if (!call) {
      call = { id: part.id ?? '', name: '', arguments: '' };
      this.pending.set(index, call);
    }
    if (part.id) call.id = part.id;
    if (part.function?.name) call.name += part.function.name;
    const args: unknown = part.function?.arguments;
    if (typeof args === 'string') call.arguments += args;
    else if (args !== undefined && args !== null) call.arguments += JSON.stringify(args);
  }
}

function toOpenAIMessage(message: BaseMessage): ChatCompletionMessageParam {
  const type = message.type;
  if (type === 'system') return { role: 'system', content: messageText(message) };
  if (type === 'ai') {
    const calls = messageToolCalls(message);
    const text = messageText(message);
    if (calls.length === 0) return { role: 'assistant', content: text };
    return {
      role: 'assistant',
      content: text || null,
      tool_calls: calls.map((call) => ({
        id: call.id,
        type: 'function' as const,
        function: { name: call.name, arguments: JSON.stringify(call.args) },
      })),
    };
  }
  if (type === 'tool') {
    return {
      role: 'tool',
      tool_call_id: toolMessageFields(message).toolCallId,
      content: messageText(message),
    };
  }
  return { role: 'user', content: messageText(message) };
}

/** Maps an `openai` client error to an `AgentsError` (aborts pass through). Shared with the embedder. */
export function mapOpenAIError(
  error: unknown,
  url: string,
  model: string,
  advice: ProviderErrorAdvice = {},
): unknown {
  if (error instanceof OpenAI.APIUserAbortError) return error;
  if (error instanceof OpenAI.APIConnectionError)
    return providerUnreachableError('openai', url, model, error.cause ?? error, advice.unreachable);
  if (error instanceof OpenAI.APIError) {
    if (error.status === undefined) {
      // An error object inside the SSE stream.
      return new AgentsError(
        'PROVIDER_ERROR',
        `OpenAI provider at ${url} reported an error mid-stream: ${error.message}`,
        {
          details: { provider: 'openai', url, model, retryable: false },
          cause: error,
        },
      );
    }
    const headers = error.headers;
    return providerStatusError({
      provider: 'openai',
      url,
      model,
      status: error.status,
      message: error.message,
      code: error.code,
      retryAfterMs: parseRetryAfter(headers?.get('retry-after'), headers?.get('retry-after-ms')),
      cause: error,
      fix: advice,
    });
  }
  if (error instanceof TypeError)
    return providerUnreachableError('openai', url, model, error, advice.unreachable);
  return error;
}
