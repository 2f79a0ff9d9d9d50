import OpenAI from 'openai';
import { AgentsError } from '../errors/agents-error.js';
import { DEFAULT_OPENAI_URL, mapOpenAIError } from '../providers/openai-provider.js';
import { createBatchedEmbedder } from './batched-embedder.js';
import type { Embedder, EmbedderOptions } from './embedder.js';

export interface OpenAIEmbedderSpec {
  model: string;
  baseUrl?: string;
  apiKey?: string;
}

/**
 * Embeddings through the official `openai` client (`POST /v1/embeddings`), with the client's own
 * retries off. Asks for `encoding_format: "base64"` (what the client does by default: a quarter of
 * the JSON) and also accepts plain float arrays from compatible servers that ignore the format.
 */
export function createOpenAIEmbedder(spec: OpenAIEmbedderSpec, options: EmbedderOptions = {}): Embedder {
  const env = typeof process === 'undefined' ? {} : process.env;
  const url = (spec.baseUrl || env.OPENAI_BASE_URL || DEFAULT_OPENAI_URL).replace(/\/+$/, '');
  const apiKey = spec.apiKey || env.OPENAI_API_KEY || undefined;
  if (!apiKey && url.startsWith(DEFAULT_OPENAI_URL)) {
    throw new AgentsError(
      'PROVIDER_AUTH',
      `No API key for OpenAI embeddings at ${url}. Set OPENAI_API_KEY, pass apiKey in the embedder spec, or set OPENAI_BASE_URL to an OpenAI-compatible server that needs no key.`,
      { details: { provider: 'openai', url, model: spec.model, retryable: false } },
    );
  }
  const client = new OpenAI({
    apiKey: apiKey ?? 'not-needed',
    baseURL: url,
    maxRetries: 0,
    // Our retry layer owns timeouts; keep the client's own far away.
    timeout: 24 * 60 * 60 * 1000,
    defaultHeaders: options.headers,
  });
  const advice = {
    auth: 'Set OPENAI_API_KEY or pass apiKey in the embedder spec.',
    notFound: `Check the embedding model name and that ${url} serves it (an OpenAI-compatible /v1 URL).`,
    unreachable:
      "Check that the server is running and that OPENAI_BASE_URL (or the embedder's baseUrl) points to it.",
  };
  const model = spec.model;

  return createBatchedEmbedder({
    model: `openai:${model}`,
    target: { provider: 'openai', url, model },
    options,
    async embedBatch(batch, signal) {
      let response: OpenAI.Embeddings.CreateEmbeddingResponse;
      try {
        response = await client.embeddings.create(
          { model, input: batch, encoding_format: 'base64' },
          { signal },
        );
      } catch (error) {
        throw mapOpenAIError(error, url, model, advice);
      }
      const invalid = (what: string) =>
        new AgentsError('PROVIDER_ERROR', `OpenAI embeddings at ${url} returned ${what}.`, {
          details: { provider: 'openai', url, model, retryable: false },
        });
      const vectors: number[][] = new Array(batch.length);
      const data: unknown = response?.data;
      if (!Array.isArray(data)) throw invalid('no "data" array');
      for (const [position, item] of (data as Array<{ index?: unknown; embedding?: unknown }>).entries()) {
        // `index` says which input a vector belongs to; servers that leave it out answer in order.
        const index = item.index === undefined ? position : item.index;
        if (typeof index !== 'number' || !Number.isInteger(index) || index < 0 || index >= batch.length) {
          throw invalid(`an embedding with index ${String(index)} for ${batch.length} inputs`);
        }
        if (vectors[index] !== undefined) throw invalid(`two embeddings with index ${index}`);
        const vector = decodeEmbedding(item.embedding);
        if (!vector) throw invalid(`an embedding that is neither a number array nor base64 float32 data`);
        vectors[index] = vector;
      }
      const missing = vectors.length - vectors.filter(Boolean).length;
      if (data.length !== batch.length || missing > 0) {
        throw invalid(`${data.length} embeddings for ${batch.length} inputs`);
      }
      return { vectors, promptTokens: response.usage?.prompt_tokens ?? 0 };
    },
  });
}

/** A base64 string of little-endian float32 values, or a plain number array. */
function decodeEmbedding(value: unknown): number[] | undefined {
  if (Array.isArray(value)) {
    return value.every((entry) => typeof entry === 'number' && Number.isFinite(entry))
      ? (value as number[])
      : undefined;
  }
  if (typeof value !== 'string') return undefined;
  const bytes = Buffer.from(value, 'base64');
  if (bytes.length === 0 || bytes.length % 4 !== 0) return undefined;
  // A DataView: Buffer slices need not be 4-byte aligned, and the wire format is little-endian.
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const vector = new Array<number>(bytes.length / 4);
  for (let i = 0; i < vector.length; i++) vector[i] = view.getFloat32(i * 4, true);
  return vector;
}
