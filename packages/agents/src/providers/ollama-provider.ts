import type { BaseMessage } from '@langchain/core/messages';
import { Ollama, type Message as OllamaMessage, type Tool as OllamaTool } from 'ollama';
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

export interface OllamaProviderOptions {
  /** Default: `OLLAMA_HOST`, else `http://127.0.0.1:11434`. */
  host?: string;
  headers?: Record<string, string>;
  /** The fetch the client calls. Default: as the OpenAI provider's (`OpenAIProviderOptions.fetch`). */
  fetch?: typeof fetch;
}

export const DEFAULT_OLLAMA_HOST = 'http://127.0.0.1:11434';

/** `OLLAMA_HOST`-style host ("localhost:11434", "http://h:1/") as a URL without trailing slash. */
export function normaliseHost(host: string): string {
  const withScheme = /^https?:\/\//.test(host) ? host : `http://${host}`;
  return withScheme.replace(/\/+$/, '');
}

/** Ollama through the official `ollama` client (`/api/chat`, NDJSON streaming). */
export function createOllamaProvider(options: OllamaProviderOptions = {}): ChatProvider {
  const env = typeof process === 'undefined' ? {} : process.env;
  const url = normaliseHost(options.host || env.OLLAMA_HOST || DEFAULT_OLLAMA_HOST);
  const fetchImpl = options.fetch ?? providerFetch();

  async function streamTo(request: ChatRequest, onChunk: (chunk: ChatChunk) => void): Promise<void> {
    // One client per call so this call's AbortSignal reaches the fetch in flight.
    let retryAfterMs: number | undefined;
    const client = new Ollama({
      host: url,
      headers: options.headers,
      fetch: async (input, init) => {
        const response = await fetchImpl(input, {
          ...init,
          signal: init?.signal ? AbortSignal.any([init.signal, request.signal]) : request.signal,
        });
        // The ollama client drops response headers on errors; keep Retry-After for the retry layer.
        if (!response.ok) retryAfterMs = parseRetryAfter(response.headers.get('retry-after'));
        return response;
      },
    });
    const tools: OllamaTool[] | undefined = request.tools?.length
      ? request.tools.map((tool) => ({
          type: 'function',
          function: {
            name: tool.name,
            description: tool.description,
            parameters: tool.parameters as NonNullable<OllamaTool['function']['parameters']>,
          },
        }))
      : undefined;
    const chatOptions: { temperature?: number; num_predict?: number } = {};
    if (request.temperature !== undefined) chatOptions.temperature = request.temperature;
    if (request.maxTokens !== undefined) chatOptions.num_predict = request.maxTokens;
    let callIndex = 0;
    try {
      const response = await client.chat({
        model: request.model,
        messages: request.messages.map(toOllamaMessage),
        stream: true,
        ...(tools ? { tools } : {}),
        ...(request.responseSchema ? { format: request.responseSchema } : {}),
        options: chatOptions,
      });
      for await (const part of response) {
        if (request.signal.aborted) throw request.signal.reason;
        if (part.message?.content) onChunk({ type: 'text', text: part.message.content });
        for (const call of part.message?.tool_calls ?? []) {
          const args: unknown = call.function.arguments;
          onChunk({
            type: 'tool_call',
            id: `call_${callIndex++}`,
            name: call.function.name,
            arguments: typeof args === 'string' ? args : JSON.stringify(args ?? {}),
          });
        }
        if (part.done) {
          onChunk({
            type: 'usage',
            promptTokens: part.prompt_eval_count ?? 0,
            completionTokens: part.eval_count ?? 0,
          });
        }
      }
    } catch (error) {
      throw mapOllamaError(error, url, request.model, request.signal, retryAfterMs);
    }
  }

  return { name: 'ollama', url, stream: (request) => pullFromPush(streamTo, request), streamTo };
}

/** Adapts a push-based stream to an async iterable (for callers of `provider.stream`). */
async function* pullFromPush(
  streamTo: (request: ChatRequest, onChunk: (chunk: ChatChunk) => void) => Promise<void>,
  request: ChatRequest,
): AsyncGenerator<ChatChunk> {
  const queue: ChatChunk[] = [];
  let wake: (() => void) | undefined;
  let finished = false;
  let failure: { error: unknown } | undefined;
  // A caller that stops reading (break, return) ends the request too: the model would otherwise
  // generate to the end, every chunk kept here.
  const stop = new AbortController();
  const forward = (): void => stop.abort(request.signal?.reason);
  if (request.signal?.aborted) forward();
  else request.signal?.addEventListener('abort', forward, { once: true });
  streamTo({ ...request, signal: stop.signal }, (chunk) => {
    queue.push(chunk);
    wake?.();
  }).then(
    () => {
      finished = true;
      wake?.();
    },
    (error: unknown) => {
      failure = { error };
      wake?.();
    },
  );
  try {
    while (true) {
      const next = queue.shift();
      if (next) {
        yield next;
        continue;
      }
      if (failure) throw failure.error;
      if (finished) return;
      await new Promise<void>((resolve) => {
        wake = resolve;
      });
      wake = undefined;
    }
  } finally {
    request.signal?.removeEventListener('abort', forward);
    if (!finished && !failure) stop.abort(new Error('the caller stopped reading the stream'));
  }
}

function toOllamaMessage(message: BaseMessage): OllamaMessage {
  const type = message.type;
  if (type === 'system') return { role: 'system', content: messageText(message) };
  if (type === 'ai') {
    const calls = messageToolCalls(message);
    return {
      role: 'assistant',
      content: messageText(message),
      ...(calls.length > 0
        ? { tool_calls: calls.map((call) => ({ function: { name: call.name, arguments: call.args } })) }
        : {}),
    };
  }
  if (type === 'tool')
    return { role: 'tool', content: messageText(message), tool_name: toolMessageFields(message).toolName };
  return { role: 'user', content: messageText(message) };
}

/** Maps an `ollama` client error to an `AgentsError` (aborts pass through). Shared with the embedder. */
export function mapOllamaError(
  error: unknown,
  url: string,
  model: string,
  signal: AbortSignal,
  retryAfterMs: number | undefined,
  advice: ProviderErrorAdvice = {},
): unknown {
  if (signal.aborted) return error;
  if (error instanceof Error && error.name === 'ResponseError') {
    const status = (error as Error & { status_code?: number }).status_code ?? 0;
    return providerStatusError({
      provider: 'ollama',
      url,
      model,
      status,
      message: error.message,
      retryAfterMs,
      cause: error,
      fix: advice,
    });
  }
  if (error instanceof TypeError)
    return providerUnreachableError('ollama', url, model, error, advice.unreachable);
  if (error instanceof Error && error.name !== 'AbortError' && !(error instanceof AgentsError)) {
    return new AgentsError('PROVIDER_ERROR', `Ollama at ${url} reported an error: ${error.message}`, {
      details: { provider: 'ollama', url, model, retryable: false },
      cause: error,
    });
  }
  return error;
}
