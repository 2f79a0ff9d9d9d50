import { cancelledError } from '../errors/cancelled-error.js';
import { estimateTokens } from '../text/estimate-tokens.js';
import type { Embedder } from './embedder.js';
import { l2Normalise } from './l2-normalise.js';

/** Words: a letter or digit followed by letters, digits and combining marks (any script). */
const WORD = /[\p{L}\p{N}][\p{L}\p{M}\p{N}]*/gu;

/** FNV-1a over UTF-16 code units, then the murmur3 finaliser to spread the bits. */
function hash32(text: string, seed: number): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * The un-normalised feature vector of the local embedder: lower-cased (NFKC) word tokens and word
 * bigrams, each hashed to one of `dimensions` buckets with a hashed sign, weighted 1 + ln(count).
 * All zeros for a text without words.
 */
export function hashedFeatureVector(text: string, dimensions: number): number[] {
  const vector = new Array<number>(dimensions).fill(0);
  const counts = new Map<string, number>();
  let previous: string | undefined;
  for (const match of text.normalize('NFKC').toLowerCase().matchAll(WORD)) {
    const word = match[0];
    counts.set(word, (counts.get(word) ?? 0) + 1);
    if (previous !== undefined) {
      const bigram = `${previous} ${word}`;
      counts.set(bigram, (counts.get(bigram) ?? 0) + 1);
    }
    previous = word;
  }
  for (const [feature, count] of counts) {
    const bucket = hash32(feature, 0) % dimensions;
    const sign = hash32(feature, 0x9e3779b9) & 1 ? -1 : 1;
    vector[bucket] = (vector[bucket] as number) + sign * (1 + Math.log(count));
  }
  return vector;
}

/**
 * An offline, deterministic embedder (no network, no model): feature hashing of words and word
 * bigrams. Finds texts that share words, not meaning; good for tests, demos and air-gapped installs.
 * Usage is the package's token estimate (characters / 4).
 */
export function createHashingEmbedder(dimensions: number): Embedder {
  return {
    model: `local:hash-${dimensions}`,
    async embed(texts, opts = {}) {
      const vectors: number[][] = [];
      let promptTokens = 0;
      for (const text of texts) {
        if (opts.signal?.aborted) throw cancelledError(opts.signal);
        vectors.push(l2Normalise(hashedFeatureVector(text, dimensions)));
        promptTokens += estimateTokens(text);
      }
      return { vectors, usage: { promptTokens } };
    },
  };
}
