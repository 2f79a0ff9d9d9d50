import { AgentsError, isAgentsError } from '../errors/agents-error.js';
import { abortableDelay } from '../runtime/abortable-delay.js';
import type { ChatChunk, ChatProvider, ChatRequest } from './chat-provider.js';

/** Retry and timeout settings shared by every provider. */
export interface RetryOptions {
  /** Retries after the first attempt. Default 3. */
  maxRetries?: number;
  /** First backoff delay; doubles each retry. Default 500 ms. */
  baseDelayMs?: number;
  /** Cap for one backoff delay. Default 20 s. */
  maxDelayMs?: number;
  /** Give up instead of waiting when `Retry-After` asks for longer than this. Default 60 s. */
  maxRetryAfterMs?: number;
  /** Per-attempt time limit of one LLM call (whole stream). Default 300 s. */
  timeoutMs?: number;
}

export interface RetryObserver {
  onRetry?: (info: { attempt: number; delayMs: number; error: AgentsError }) => void;
}

/** Full-jitter exponential backoff: random in [base·2^n / 2, base·2^n], capped. */
function backoffDelay(attempt: number, base: number, cap: number): number {
  const ceiling = Math.min(cap, base * 2 ** attempt);
  return ceiling / 2 + Math.random() * (ceiling / 2);
}

/**
 * Streams one LLM call with retries on 429, 5xx, connection errors and timeouts, honouring `Retry-After`.
 * Never retries other 4xx. Never retries once chunks have been yielded (that would duplicate tokens).
 */
export async function* streamWithRetry(
  provider: ChatProvider,
  request: ChatRequest,
  options: RetryOptions = {},
  observer: RetryObserver = {},
): AsyncGenerator<ChatChunk> {
  const maxRetries = options.maxRetries ?? 3;
  const baseDelayMs = options.baseDelayMs ?? 500;
  const maxDelayMs = options.maxDelayMs ?? 20_000;
  const maxRetryAfterMs = options.maxRetryAfterMs ?? 60_000;
  const timeoutMs = options.timeoutMs ?? 300_000;
  for (let attempt = 0; ; attempt++) {
    const attemptController = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      attemptController.abort(new Error('timeout'));
    }, timeoutMs);
    const signal = AbortSignal.any([request.signal, attemptController.signal]);
    let yielded = false;
    try {
      for await (const chunk of provider.stream({ ...request, signal })) {
        yielded = true;
        yield chunk;
      }
      return;
    } catch (caught) {
      if (request.signal.aborted) throw cancelledError(request.signal);
      const error = timedOut
        ? new AgentsError(
            'TIMEOUT',
            `The ${provider.name} call to ${provider.url} (model "${request.model}") took longer than ${timeoutMs} ms.`,
            {
              details: { provider: provider.name, url: provider.url, model: request.model, retryable: true },
              cause: caught,
            },
          )
        : toAgentsError(caught, provider, request.model);
      if (!error.details.retryable || yielded || attempt >= maxRetries) throw error;
      const retryAfter = error.details.retryAfterMs;
      if (retryAfter !== undefined && retryAfter > maxRetryAfterMs) throw error;
      const delayMs = retryAfter ?? backoffDelay(attempt, baseDelayMs, maxDelayMs);
      observer.onRetry?.({ attempt: attempt + 1, delayMs, error });
      try {
        await abortableDelay(delayMs, request.signal);
      } catch {
        throw cancelledError(request.signal);
      }
    } finally {
      clearTimeout(timer);
    }
  }
}

export function cancelledError(signal: AbortSignal): AgentsError {
  const reason = signal.reason;
  if (isAgentsError(reason) && reason.code === 'CANCELLED') return reason;
  return new AgentsError('CANCELLED', 'The run was cancelled.', { cause: reason });
}

function toAgentsError(error: unknown, provider: ChatProvider, model: string): AgentsError {
  if (isAgentsError(error)) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new AgentsError(
    'PROVIDER_ERROR',
    `The ${provider.name} provider at ${provider.url} failed: ${message}`,
    {
      details: { provider: provider.name, url: provider.url, model, retryable: false },
      cause: error,
    },
  );
}
