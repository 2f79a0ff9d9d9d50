import { Ollama } from 'ollama';
import { AgentsError } from '../errors/agents-error.js';
import { DEFAULT_OLLAMA_HOST, mapOllamaError, normaliseHost } from '../providers/ollama-provider.js';
import { parseRetryAfter } from '../providers/provider-errors.js';
import { createBatchedEmbedder } from './batched-embedder.js';
import type { Embedder, EmbedderOptions } from './embedder.js';

export interface OllamaEmbedderSpec {
  model: string;
  host?: string;
}

/** Embeddings through the official `ollama` client (`POST /api/embed` with an array `input`). */
export function createOllamaEmbedder(spec: OllamaEmbedderSpec, options: EmbedderOptions = {}): Embedder {
  const env = typeof process === 'undefined' ? {} : process.env;
  const url = normaliseHost(spec.host ?? env.OLLAMA_HOST ?? DEFAULT_OLLAMA_HOST);
  const model = spec.model;
  const advice = {
    notFound: `Run "ollama pull ${model}" on that host or choose another embedding model.`,
    unreachable:
      'Start Ollama ("ollama serve") or set OLLAMA_HOST (or the embedder\'s host) to where it runs.',
  };

  return createBatchedEmbedder({
    model: `ollama:${model}`,
    target: { provider: 'ollama', url, model },
    options,
    async embedBatch(batch, signal) {
      // One client per request so this request's AbortSignal reaches the fetch in flight.
      let retryAfterMs: number | undefined;
      const client = new Ollama({
        host: url,
        headers: options.headers,
        fetch: async (input, init) => {
          const response = await fetch(input, {
            ...init,
            signal: init?.signal ? AbortSignal.any([init.signal, signal]) : signal,
          });
          // The ollama client drops response headers on errors; keep Retry-After for the retry layer.
          if (!response.ok) retryAfterMs = parseRetryAfter(response.headers.get('retry-after'));
          return response;
        },
      });
      let response: Awaited<ReturnType<Ollama['embed']>>;
      try {
        response = await client.embed({ model, input: batch });
      } catch (error) {
        throw mapOllamaError(error, url, model, signal, retryAfterMs, advice);
      }
      const embeddings: unknown = response?.embeddings;
      const valid =
        Array.isArray(embeddings) &&
        embeddings.every(
          (vector) =>
            Array.isArray(vector) &&
            vector.every((value) => typeof value === 'number' && Number.isFinite(value)),
        );
      if (!valid) {
        throw new AgentsError('PROVIDER_ERROR', `Ollama at ${url} returned no valid "embeddings" array.`, {
          details: { provider: 'ollama', url, model, retryable: false },
        });
      }
      return { vectors: embeddings as number[][], promptTokens: response.prompt_eval_count ?? 0 };
    },
  });
}
