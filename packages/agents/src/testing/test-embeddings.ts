import { hashedFeatureVector } from '../embeddings/hashing-embedder.js';
import { estimateTokens } from '../text/estimate-tokens.js';

/** A scripted answer of a test server's embeddings endpoint (`enqueueEmbeddings`). */
export type EmbeddingTestReply =
  | {
      /** One vector per input. Default: the server's deterministic test vectors (see `embeddingDimensions`). */
      embeddings?: number[][];
      /** Reported prompt tokens. Default: the sum of ceil(chars / 4) over the inputs. */
      promptTokens?: number;
      /** Pause before answering. */
      delayMs?: number;
      /** OpenAI server only: answer in this format whatever `encoding_format` asked (as some compatible servers do). */
      encodingFormat?: 'float' | 'base64';
    }
  | { error: { status: number; message?: string; type?: string; headers?: Record<string, string> } }
  /** Accept the request and never answer (until the client goes away). */
  | { hang: true };

export const DEFAULT_TEST_EMBEDDING_DIMENSIONS = 64;

/**
 * The test servers' embedding of a text: the local hashing embedder's features (shared words give
 * similar vectors, so search order is meaningful), scaled by 3 and so not unit length, as float32.
 */
export function testEmbedding(text: string, dimensions: number): number[] {
  return hashedFeatureVector(text, dimensions).map((value) => Math.fround(value * 3));
}

export function testEmbeddingPromptTokens(inputs: string[]): number {
  return inputs.reduce((sum, input) => sum + estimateTokens(input), 0);
}

/** Little-endian float32 values as base64, OpenAI's `encoding_format: "base64"`. */
export function float32Base64(vector: number[]): string {
  const bytes = Buffer.alloc(vector.length * 4);
  for (const [i, value] of vector.entries()) bytes.writeFloatLE(value, i * 4);
  return bytes.toString('base64');
}
