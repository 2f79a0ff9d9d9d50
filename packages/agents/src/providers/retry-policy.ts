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
 * Streams one LLM call with retries on 429, 5xx, connection errors and timeouts, honouring `Retry-After`.
 * Never retries other 4xx. Never retries once chunks have been delivered (that would duplicate tokens).
 * A hand-written iterator that passes chunks straight through: it sits on the per-token hot path.
 */
export function streamWithRetry(
  provider: ChatProvider,
  request: ChatRequest,
  options: RetryOptions = {},
  observer: RetryObserver = {},
): AsyncIterableIterator<ChatChunk> {
  const maxRetries = options.maxRetries ?? 3;
  const baseDelayMs = options.baseDelayMs ?? 500;
  const maxDelayMs = options.maxDelayMs ?? 20_000;
  const maxRetryAfterMs = options.maxRetryAfterMs ?? 60_000;
  const timeoutMs = options.timeoutMs ?? 300_000;
  let attempt = 0;
  let inner: AsyncIterator<ChatChunk> | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let timedOut = false;
  let delivered = false;
  let finished = false;

  let unlink: (() => void) | undefined;
  const startAttempt = (): AsyncIterator<ChatChunk> => {
    // One controller per attempt, aborted by the run signal or by this attempt's timeout.
    // (A listener is cheaper than AbortSignal.any on this per-call path.)
    const attemptController = new AbortController();
    const forward = (): void => attemptController.abort(request.signal.reason);
    if (request.signal.aborted) forward();
    else request.signal.addEventListener('abort', forward, { once: true });
    unlink = () => request.signal.removeEventListener('abort', forward);
    timedOut = false;
    timer = setTimeout(() => {
      timedOut = true;
      attemptController.abort(new Error('timeout'));
    }, timeoutMs);
    return provider.stream({ ...request, signal: attemptController.signal })[Symbol.asyncIterator]();
  };
  const stopTimer = (): void => {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    unlink?.();
    unlink = undefined;
  };

  const onError = async (caught: unknown): Promise<IteratorResult<ChatChunk>> => {
    stopTimer();
    inner = undefined;
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
    attempt++;
    observer.onRetry?.({ attempt, delayMs, error });
    try {
      await abortableDelay(delayMs, request.signal);
    } catch {
      throw cancelledError(request.signal);
    }
    return next();
  };

  const onResult = (result: IteratorResult<ChatChunk>): IteratorResult<ChatChunk> => {
    if (result.done) {
      stopTimer();
      finished = true;
    } else {
      delivered = true;
    }
    return result;
  };

  function next(): Promise<IteratorResult<ChatChunk>> {
    if (finished) return Promise.resolve({ value: undefined, done: true });
    let iterator = inner;
    if (!iterator) {
      try {
        iterator = startAttempt();
      } catch (error) {
        return onError(error);
      }
      inner = iterator;
    }
    return iterator.next().then(onResult, onError);
  }

  return {
    next,
    async return() {
      stopTimer();
      finished = true;
      await inner?.return?.();
      return { value: undefined, done: true };
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
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
