import { AgentsError } from '../errors/agents-error.js';
import type { Embedder, EmbedderOptions, EmbedderSpec } from './embedder.js';
import { checkLocalDimensions, DEFAULT_LOCAL_DIMENSIONS } from './embedder-spec.js';
import { createHashingEmbedder } from './hashing-embedder.js';
import { createOllamaEmbedder } from './ollama-embedder.js';
import { createOpenAIEmbedder } from './openai-embedder.js';

function invalid(field: string, message: string): AgentsError {
  return new AgentsError('INVALID_ARGUMENT', message, { details: { field } });
}

/**
 * Builds an embedder. `openai`: the official `openai` client, `baseUrl`/`apiKey` defaulting to
 * `OPENAI_BASE_URL`/`OPENAI_API_KEY` (a key is required only for api.openai.com). `ollama`: the
 * official `ollama` client, `host` defaulting to `OLLAMA_HOST`. `local`: offline feature hashing.
 * Throws `AgentsError` INVALID_ARGUMENT for an unusable spec, PROVIDER_AUTH for a missing OpenAI key.
 */
export function createEmbedder(spec: EmbedderSpec, options: EmbedderOptions = {}): Embedder {
  const batchSize = options.batchSize;
  if (batchSize !== undefined && (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 2048)) {
    throw invalid('batchSize', `batchSize must be an integer from 1 to 2048, got ${String(batchSize)}.`);
  }
  const provider = (spec as { provider?: unknown } | undefined)?.provider;
  if (provider === 'local') {
    const dimensions = spec.provider === 'local' ? spec.dimensions : undefined;
    return createHashingEmbedder(
      dimensions === undefined
        ? DEFAULT_LOCAL_DIMENSIONS
        : checkLocalDimensions(dimensions, `local:${dimensions}`),
    );
  }
  if (provider === 'openai' || provider === 'ollama') {
    const model = (spec as { model?: unknown }).model;
    if (typeof model !== 'string' || model.trim() === '') {
      throw invalid(
        'model',
        `The ${provider} embedder needs a model name (e.g. "${provider === 'openai' ? 'text-embedding-3-small' : 'nomic-embed-text'}").`,
      );
    }
  }
  if (spec.provider === 'openai') return createOpenAIEmbedder({ ...spec, model: spec.model.trim() }, options);
  if (spec.provider === 'ollama') return createOllamaEmbedder({ ...spec, model: spec.model.trim() }, options);
  throw invalid(
    'provider',
    `Unknown embedder provider "${String(provider)}": use "openai", "ollama" or "local".`,
  );
}
