import type { RetryOptions } from '../providers/retry-policy.js';

/** Vectors for a list of texts, in input order, and the tokens the provider counted. */
export interface EmbeddingResult {
  vectors: number[][];
  usage: { promptTokens: number };
}

/** Turns texts into L2-normalised vectors. Build one with `createEmbedder`. */
export interface Embedder {
  /**
   * Stored next to every vector; search only compares vectors of the same model. E.g.
   * "openai:text-embedding-3-small", "ollama:nomic-embed-text", "local:hash-512".
   * `parseEmbedderSpec(embedder.model)` gives back an equivalent spec.
   */
  readonly model: string;
  /**
   * Each vector is L2-normalised (so dot product == cosine similarity); a text without any content
   * (for the local embedder: without word tokens) gives a zero vector. Order matches `texts`.
   * Remote embedders send at most `batchSize` texts per request, honour `signal` (CANCELLED) and retry
   * 429, 5xx, connection errors and timeouts with the package's retry policy, never other 4xx.
   */
  embed(texts: string[], opts?: { signal?: AbortSignal }): Promise<EmbeddingResult>;
}

/** Which embedder to build. `parseEmbedderSpec` reads the string forms ("openai:<model>", …). */
export type EmbedderSpec =
  | {
      provider: 'openai';
      model: string;
      /** Default: `OPENAI_BASE_URL`, else `https://api.openai.com/v1`. Any OpenAI-compatible server works. */
      baseUrl?: string;
      /** Default: `OPENAI_API_KEY`. Required only for api.openai.com. */
      apiKey?: string;
    }
  | {
      provider: 'ollama';
      model: string;
      /** Default: `OLLAMA_HOST`, else `http://127.0.0.1:11434`. */
      host?: string;
    }
  | {
      provider: 'local';
      /** Hash buckets (vector length). Default 512. */
      dimensions?: number;
    };

/** Tuning of `createEmbedder`; every field is optional. */
export interface EmbedderOptions {
  /** Texts per request for remote embedders. Default 64. */
  batchSize?: number;
  /** Retries and per-request timeout, as for chat calls. Defaults: see `RetryOptions`. */
  retry?: RetryOptions;
  /** Called before each retry (for logging). */
  onRetry?: (info: { attempt: number; delayMs: number; error: Error }) => void;
  /** Extra headers sent with every request of a remote embedder. */
  headers?: Record<string, string>;
}
