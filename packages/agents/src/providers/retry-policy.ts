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

/** What a retried call talks to; used in TIMEOUT and fallback error messages. */
export interface RetryTarget {
  provider: string;
  url: string;
  model: string;
}

export interface RetryHooks extends RetryObserver {
  /** An error to rethrow as is, without mapping or retrying (e.g. one thrown by the caller's own callback). */
  passThrough?: () => { error: unknown } | undefined;
  /** False once repeating the call would repeat side effects (e.g. chunks were already delivered). */
  mayRetry?: () => boolean;
  /** Message of the CANCELLED error. Default: "The run was cancelled." */
  cancelledMessage?: string;
}

/**
 * The package's retry policy for one remote call: retries on 429, 5xx, connection errors and timeouts
 * (exponential backoff with full jitter, honouring `Retry-After`), never on other 4xx. `attempt` gets
 * a per-attempt signal (aborted by `signal` or the attempt's timeout) and an `abort` to stop the
 * attempt itself. Errors that are not `AgentsError`s become non-retryable `PROVIDER_ERROR`s;
 * an aborted `signal` gives `CANCELLED`.
 */
export async function withRetry<T>(
  target: RetryTarget,
  signal: AbortSignal,
  attempt: (attemptSignal: AbortSignal, abort: (reason: unknown) => void) => Promise<T>,
  options: RetryOptions = {},
  hooks: RetryHooks = {},
): Promise<T> {
  const maxRetries = options.maxRetries ?? 3;
  const baseDelayMs = options.baseDelayMs ?? 500;
  const maxDelayMs = options.maxDelayMs ?? 20_000;
  const maxRetryAfterMs = options.maxRetryAfterMs ?? 60_000;
  const timeoutMs = options.timeoutMs ?? 300_000;
  for (let attemptIndex = 0; ; attemptIndex++) {
    // One controller per attempt, aborted by the caller's signal or by this attempt's timeout.
    // (A listener is cheaper than AbortSignal.any on this per-call path.)
    const attemptController = new AbortController();
    const abort = (reason: unknown): void => attemptController.abort(reason);
    const forward = (): void => attemptController.abort(signal.reason);
    if (signal.aborted) forward();
    else signal.addEventListener('abort', forward, { once: true });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      attemptController.abort(new Error('timeout'));
    }, timeoutMs);
    try {
      const result = await attempt(attemptController.signal, abort);
      const passed = hooks.passThrough?.();
      if (passed) throw passed.error;
      // Aborted (its timeout, or the run's signal) but ended without an error: the openai client's
      // stream stops quietly when aborted, and what it gave is cut short, not an answer.
      if (attemptController.signal.aborted) throw attemptController.signal.reason;
      return result;
    } catch (caught) {
      const passed = hooks.passThrough?.();
      if (passed) throw passed.error;
      if (signal.aborted) throw cancelledError(signal, hooks.cancelledMessage);
      const error = timedOut
        ? new AgentsError(
            'TIMEOUT',
            `The ${target.provider} call to ${target.url} (model "${target.model}") took longer than ${timeoutMs} ms.`,
            {
              details: { provider: target.provider, url: target.url, model: target.model, retryable: true },
              cause: caught,
            },
          )
        : toAgentsError(caught, target);
      const mayRetry = hooks.mayRetry?.() ?? true;
      if (!error.details.retryable || !mayRetry || attemptIndex >= maxRetries) throw error;
      const retryAfter = error.details.retryAfterMs;
      if (retryAfter !== undefined && retryAfter > maxRetryAfterMs) throw error;
      const delayMs = retryAfter ?? backoffDelay(attemptIndex, baseDelayMs, maxDelayMs);
      hooks.onRetry?.({ attempt: attemptIndex + 1, delayMs, error });
      try {
        await abortableDelay(delayMs, signal);
      } catch {
        throw cancelledError(signal, hooks.cancelledMessage);
      }
    } finally {
      clearTimeout(timer);
      signal.removeEventListener('abort', forward);
    }
  }
}

/**
 * Runs one LLM call, pushing its chunks to `onChunk`, with the retry policy of `withRetry`.
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
  await withRetry(
    { provider: provider.name, url: provider.url, model: request.model },
    request.signal,
    async (signal, abort) => {
      abortAttempt = abort;
      const attemptRequest: ChatRequest = { ...request, signal };
      if (provider.streamTo) {
        await provider.streamTo(attemptRequest, deliver);
      } else {
        for await (const chunk of provider.stream(attemptRequest)) {
          deliver(chunk);
          if (consumerError) break;
        }
      }
    },
    options,
    { onRetry: observer.onRetry, passThrough: () => consumerError, mayRetry: () => !delivered },
  );
}

function toAgentsError(error: unknown, target: RetryTarget): AgentsError {
  if (isAgentsError(error)) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new AgentsError(
    'PROVIDER_ERROR',
    `The ${target.provider} provider at ${target.url} failed: ${message}`,
    {
      details: { provider: target.provider, url: target.url, model: target.model, retryable: false },
      cause: error,
    },
  );
}
