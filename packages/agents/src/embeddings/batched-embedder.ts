import { AgentsError } from '../errors/agents-error.js';
import { cancelledError } from '../errors/cancelled-error.js';
import { type RetryTarget, withRetry } from '../providers/retry-policy.js';
import type { Embedder, EmbedderOptions, EmbeddingResult } from './embedder.js';
import { l2Normalise } from './l2-normalise.js';

/** What one request of a remote embedder returns, vectors in the order of its batch. */
export interface EmbeddingBatch {
  vectors: number[][];
  promptTokens: number;
}

export interface BatchedEmbedderInput {
  model: string;
  target: RetryTarget;
  options: EmbedderOptions;
  /** One request for up to `batchSize` texts; aborts with `signal`. Throws `AgentsError`s. */
  embedBatch: (batch: string[], signal: AbortSignal) => Promise<EmbeddingBatch>;
}

const DEFAULT_BATCH_SIZE = 64;
const CANCELLED_MESSAGE = 'The embedding request was cancelled.';

/** An `Embedder` over a one-request function: batching, retries, checks and normalisation. */
export function createBatchedEmbedder(input: BatchedEmbedderInput): Embedder {
  const { model, target, options, embedBatch } = input;
  const batchSize = options.batchSize ?? DEFAULT_BATCH_SIZE;

  function badResponse(message: string): AgentsError {
    return new AgentsError('PROVIDER_ERROR', `${model} at ${target.url} returned ${message}.`, {
      details: { provider: target.provider, url: target.url, model: target.model, retryable: false },
    });
  }

  return {
    model,
    async embed(texts, opts = {}): Promise<EmbeddingResult> {
      for (const [index, text] of texts.entries()) {
        if (typeof text !== 'string') {
          throw new AgentsError('INVALID_ARGUMENT', `texts[${index}] must be a string, got ${typeof text}.`, {
            details: { field: `texts[${index}]` },
          });
        }
      }
      const signal = opts.signal ?? new AbortController().signal;
      if (signal.aborted) throw cancelledError(signal, CANCELLED_MESSAGE);
      const vectors: number[][] = [];
      let promptTokens = 0;
      let dimensions: number | undefined;
      for (let start = 0; start < texts.length; start += batchSize) {
        const batch = texts.slice(start, start + batchSize);
        const result = await withRetry(
          target,
          signal,
          async (attemptSignal) => {
            const answer = await embedBatch(batch, attemptSignal);
            if (answer.vectors.length !== batch.length) {
              throw badResponse(`${answer.vectors.length} embeddings for ${batch.length} inputs`);
            }
            return answer;
          },
          options.retry,
          { onRetry: options.onRetry, cancelledMessage: CANCELLED_MESSAGE },
        );
        for (const vector of result.vectors) {
          dimensions ??= vector.length;
          if (vector.length === 0 || vector.length !== dimensions) {
            throw badResponse(`vectors of different lengths (${dimensions} and ${vector.length})`);
          }
          vectors.push(l2Normalise(vector));
        }
        promptTokens += result.promptTokens;
      }
      return { vectors, usage: { promptTokens } };
    },
  };
}
