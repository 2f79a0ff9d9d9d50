import { AgentsError, isAgentsError } from '../errors/agents-error.js';
import { cancelledError } from '../errors/cancelled-error.js';
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
 * Runs one LLM call, pushing its chunks to `onChunk`, with retries on 429, 5xx, connection errors and
 * timeouts (exponential backoff with full jitter, honouring `Retry-After`). Never retries other 4xx.
 * Never retries once a chunk has been delivered (that would duplicate tokens).
 * Uses the provider's push-based `streamTo` when it has one (the per-token hot path), else `stream`.
 */
export async function callWithRetry(
  provider: ChatProvider,
  request: ChatRequest,
  onChunk: (chunk: ChatChunk) => void,
  options: RetryOptions = {},
  observer: RetryObserver = {},
): Promise<void> {
  const maxRetries = options.maxRetries ?? 3;
  const baseDelayMs = options.baseDelayMs ?? 500;
  const maxDelayMs = options.maxDelayMs ?? 20_000;
  const maxRetryAfterMs = options.maxRetryAfterMs ?? 60_000;
  const timeoutMs = options.timeoutMs ?? 300_000;
  let delivered = false;
  let consumerError: { error: unknown } | undefined;
  let abortAttempt: ((reason: unknown) => void) | undefined;
  const deliver = (chunk: ChatChunk): void => {
    if (consumerError) return;
    delivered = true;
    try {
      onChunk(chunk);
    } catch (error) {
      // Our own handler failed: stop the call and surface that error, not a provider error.
      consumerError = { error };
      abortAttempt?.(error);
    }
  };
  for (let attempt = 0; ; attempt++) {
    // One controller per attempt, aborted by the run signal or by this attempt's timeout.
    // (A listener is cheaper than AbortSignal.any on this per-call path.)
    const attemptController = new AbortController();
    abortAttempt = (reason) => attemptController.abort(reason);
    const forward = (): void => attemptController.abort(request.signal.reason);
    if (request.signal.aborted) forward();
    else request.signal.addEventListener('abort', forward, { once: true });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      attemptController.abort(new Error('timeout'));
    }, timeoutMs);
    const attemptRequest: ChatRequest = { ...request, signal: attemptController.signal };
    try {
      if (provider.streamTo) {
        await provider.streamTo(attemptRequest, deliver);
      } else {
        for await (const chunk of provider.stream(attemptRequest)) {
          deliver(chunk);
          if (consumerError) break;
        }
      }
      if (consumerError) throw consumerError.error;
      return;
    } catch (caught) {
      if (consumerError) throw consumerError.error;
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
      if (!error.details.retryable || delivered || attempt >= maxRetries) throw error;
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
      request.signal.removeEventListener('abort', forward);
    }
  }
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
