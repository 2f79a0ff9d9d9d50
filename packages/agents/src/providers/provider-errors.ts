import type { ProviderName } from '../crew/crew-definition.js';
import { AgentsError } from '../errors/agents-error.js';

const LABEL: Record<ProviderName, string> = {
  openai: 'OpenAI provider',
  ollama: 'Ollama',
  scripted: 'scripted provider',
};

/** Parses `Retry-After` (seconds or HTTP date) and `retry-after-ms` into milliseconds. */
export function parseRetryAfter(
  header: string | null | undefined,
  headerMs?: string | null,
): number | undefined {
  if (headerMs) {
    const ms = Number(headerMs);
    if (Number.isFinite(ms) && ms >= 0) return ms;
  }
  if (!header) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const date = Date.parse(header);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - Date.now());
}

/** What to tell the user to do, replacing the chat-oriented advice (e.g. for embedding calls). */
export interface ProviderErrorAdvice {
  auth?: string;
  notFound?: string;
  unreachable?: string;
}

interface StatusErrorInput {
  provider: ProviderName;
  url: string;
  model: string;
  status: number;
  message: string;
  retryAfterMs?: number;
  cause?: unknown;
  fix?: ProviderErrorAdvice;
  /** The provider's error code, where it gives one (OpenAI's `insufficient_quota`, say). */
  code?: string | null;
}

/** Maps an HTTP error status to an `AgentsError` with a message that says what to do. */
export function providerStatusError(input: StatusErrorInput): AgentsError {
  const { provider, url, model, status, message } = input;
  const label = LABEL[provider];
  const details = { provider, url, model, status };
  if (status === 429 && input.code === 'insufficient_quota') {
    // Out of credit, not busy: no retry (of the call, or of the run) will get through.
    return new AgentsError(
      'PROVIDER_ERROR',
      `${label} at ${url} refused the request: the account is out of quota (HTTP 429 insufficient_quota): ${message}. Check the plan and billing of the API key's account.`,
      { details: { ...details, retryable: false }, cause: input.cause },
    );
  }
  if (status === 429 || status === 408 || status === 409) {
    // 408 (request timeout) and 409 (a conflict, e.g. a lock on the provider's side) pass with another try.
    return new AgentsError(
      'PROVIDER_ERROR',
      status === 429
        ? `${label} at ${url} rate-limited the request (HTTP 429): ${message}`
        : `${label} at ${url} failed with HTTP ${status}: ${message}`,
      {
        details: { ...details, retryable: true, retryAfterMs: input.retryAfterMs },
        cause: input.cause,
      },
    );
  }
  if (status >= 500) {
    return new AgentsError('PROVIDER_ERROR', `${label} at ${url} failed with HTTP ${status}: ${message}`, {
      details: { ...details, retryable: true, retryAfterMs: input.retryAfterMs },
      cause: input.cause,
    });
  }
  if (status === 401 || status === 403) {
    const fix =
      input.fix?.auth ??
      (provider === 'openai'
        ? 'Set OPENAI_API_KEY or pass providers.openai.apiKey.'
        : 'Check the credentials or proxy in front of the server.');
    return new AgentsError(
      'PROVIDER_AUTH',
      `${label} at ${url} rejected the credentials (HTTP ${status}). ${fix}`,
      {
        details: { ...details, retryable: false },
        cause: input.cause,
      },
    );
  }
  if (status === 404) {
    const fix =
      input.fix?.notFound ??
      (provider === 'ollama'
        ? `Run "ollama pull ${model}" on that host or change the agent's model.name.`
        : `Check the agent's model.name and that ${url} serves this model (and is an OpenAI-compatible /v1 URL).`);
    return new AgentsError(
      'MODEL_NOT_FOUND',
      `Model "${model}" was not found by ${label} at ${url}: ${message}. ${fix}`,
      {
        details: { ...details, retryable: false },
        cause: input.cause,
      },
    );
  }
  return new AgentsError(
    'PROVIDER_ERROR',
    `${label} at ${url} refused the request (HTTP ${status}): ${message}`,
    {
      details: { ...details, retryable: false },
      cause: input.cause,
    },
  );
}

/** A connection-level failure (refused, DNS, reset). Retryable; after retries it reports where and what to do. */
export function providerUnreachableError(
  provider: ProviderName,
  url: string,
  model: string,
  cause: unknown,
  fixOverride?: string,
): AgentsError {
  const reason = describeCause(cause);
  const fix =
    fixOverride ??
    (provider === 'ollama'
      ? 'Start Ollama ("ollama serve") or set OLLAMA_HOST (or the agent\'s model.baseUrl) to where it runs.'
      : provider === 'openai'
        ? "Check that the server is running and that OPENAI_BASE_URL (or the agent's model.baseUrl) points to it."
        : 'Check the provider configuration.');
  return new AgentsError(
    'PROVIDER_UNREACHABLE',
    `Cannot reach ${LABEL[provider]} at ${url} (${reason}). ${fix}`,
    {
      details: { provider, url, model, retryable: true },
      cause,
    },
  );
}

function describeCause(cause: unknown): string {
  let current: unknown = cause;
  const parts: string[] = [];
  for (let depth = 0; current instanceof Error && depth < 4; depth++) {
    const code = (current as { code?: unknown }).code;
    parts.push(typeof code === 'string' ? `${code}` : current.message);
    current = current.cause;
  }
  const unique = [...new Set(parts.filter(Boolean))];
  return unique.length > 0 ? unique.join(': ') : 'connection failed';
}
