import OpenAI from 'openai';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  AgentsError,
  createEmbedder,
  type Embedder,
  type EmbedderOptions,
  type EmbedderSpec,
  estimateTokens,
  parseEmbedderSpec,
} from '../src/index.js';
import {
  createOllamaTestServer,
  createOpenAICompatibleTestServer,
  type OpenAICompatibleTestServer,
} from './support/index.js';
import { FAST_RETRY, waitFor } from './support/run-helpers.js';

const DIMENSIONS = 64;

/** What the embedding tests need from either test server. */
type EmbeddingServer = Pick<
  OpenAICompatibleTestServer,
  'url' | 'embeddingRequests' | 'reportedEmbeddingUsage' | 'enqueueEmbeddings' | 'close'
>;

interface Backend {
  name: 'openai' | 'ollama';
  start(options?: { models?: string[] }): Promise<EmbeddingServer>;
  spec(url: string, model?: string): EmbedderSpec;
  /** The inputs of one recorded request. */
  inputs(body: unknown): string[];
}

const backends: Backend[] = [
  {
    name: 'openai',
    start: (options) => createOpenAICompatibleTestServer({ ...options, embeddingDimensions: DIMENSIONS }),
    spec: (url, model = 'text-embedding-3-small') => ({
      provider: 'openai',
      model,
      baseUrl: url,
      apiKey: 'k',
    }),
    inputs: (body) => (body as { input: string[] }).input,
  },
  {
    name: 'ollama',
    start: (options) => createOllamaTestServer({ ...options, embeddingDimensions: DIMENSIONS }),
    spec: (url, model = 'nomic-embed-text') => ({ provider: 'ollama', model, host: url }),
    inputs: (body) => (body as { input: string[] }).input,
  },
];

const servers: EmbeddingServer[] = [];
afterEach(async () => {
  vi.unstubAllEnvs();
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

async function started(backend: Backend, options?: { models?: string[] }): Promise<EmbeddingServer> {
  const server = await backend.start(options);
  servers.push(server);
  return server;
}

function norm(vector: number[]): number {
  return Math.sqrt(vector.reduce((sum, value) => sum + value * value, 0));
}

function dot(a: number[], b: number[]): number {
  return a.reduce((sum, value, i) => sum + value * (b[i] as number), 0);
}

/** The test servers' vectors are the local hashing features ×3, so normalised they equal the local embedder's. */
const local = createEmbedder({ provider: 'local', dimensions: DIMENSIONS });

async function rejection(promise: Promise<unknown>): Promise<AgentsError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(AgentsError);
    return error as AgentsError;
  }
  throw new Error('expected a rejection');
}

const TEXTS = [
  'Refunds are issued within 30 days for damaged goods.',
  'Standard shipping takes five business days.',
  'Our office is closed on public holidays.',
];

describe.each(backends)('$name embedder against its test server', (backend) => {
  const embedderFor = (server: EmbeddingServer, options: EmbedderOptions = {}, model?: string): Embedder =>
    createEmbedder(backend.spec(server.url, model), { retry: FAST_RETRY, ...options });

  it('returns unit vectors in input order and names the model', async () => {
    const server = await started(backend);
    const embedder = embedderFor(server);
    expect(embedder.model).toBe(
      backend.name === 'openai' ? 'openai:text-embedding-3-small' : 'ollama:nomic-embed-text',
    );
    const { vectors } = await embedder.embed(TEXTS);
    const expected = (await local.embed(TEXTS)).vectors;
    expect(vectors).toHaveLength(3);
    for (const [i, vector] of vectors.entries()) {
      expect(vector).toHaveLength(DIMENSIONS);
      expect(norm(vector)).toBeCloseTo(1, 6);
      // Each vector belongs to its own input (the server's raw vectors have length ≠ 1).
      for (const [j, value] of vector.entries()) expect(value).toBeCloseTo(expected[i]![j]!, 5);
    }
    expect(dot(vectors[0]!, vectors[1]!)).toBeLessThan(0.9);
    expect(backend.inputs(server.embeddingRequests[0]!.body)).toEqual(TEXTS);
  });

  it('sends 150 texts as 3 requests of at most 64 and sums the reported usage', async () => {
    const server = await started(backend);
    server.enqueueEmbeddings({ promptTokens: 100 }, { promptTokens: 200 }, { promptTokens: 7 });
    const texts = Array.from({ length: 150 }, (_, i) => `document number ${i} about topic ${i % 7}`);
    const result = await embedderFor(server).embed(texts);
    expect(server.embeddingRequests.map((request) => backend.inputs(request.body).length)).toEqual([
      64, 64, 22,
    ]);
    expect(server.embeddingRequests.flatMap((request) => backend.inputs(request.body))).toEqual(texts);
    expect(result.usage.promptTokens).toBe(307);
    expect(result.vectors).toHaveLength(150);
    const lastExpected = (await local.embed([texts[149]!])).vectors[0]!;
    expect(dot(result.vectors[149]!, lastExpected)).toBeCloseTo(1, 5);
  });

  it('honours batchSize and reports the tokens the server counted', async () => {
    const server = await started(backend);
    const texts = Array.from({ length: 5 }, (_, i) => `text ${i} `.repeat(i + 1));
    const result = await embedderFor(server, { batchSize: 2 }).embed(texts);
    expect(server.embeddingRequests).toHaveLength(3);
    expect(result.usage.promptTokens).toBe(texts.reduce((sum, text) => sum + estimateTokens(text), 0));
    expect(result.usage.promptTokens).toBe(server.reportedEmbeddingUsage.reduce((a, b) => a + b, 0));
  });

  it('makes no request for an empty list', async () => {
    const server = await started(backend);
    await expect(embedderFor(server).embed([])).resolves.toEqual({ vectors: [], usage: { promptTokens: 0 } });
    expect(server.embeddingRequests).toHaveLength(0);
  });

  it('retries a 429 after its Retry-After delay, then succeeds', async () => {
    const server = await started(backend);
    server.enqueueEmbeddings({
      error: { status: 429, message: 'slow down', headers: { 'retry-after': '0.2' } },
    });
    const retries: number[] = [];
    const result = await embedderFor(server, { onRetry: ({ delayMs }) => retries.push(delayMs) }).embed(
      TEXTS,
    );
    expect(result.vectors).toHaveLength(3);
    expect(server.embeddingRequests).toHaveLength(2);
    expect(retries).toEqual([200]);
    const [first, second] = server.embeddingRequests;
    expect(second!.receivedAt - first!.receivedAt).toBeGreaterThanOrEqual(180);
  });

  it('retries 500 and 503, and gives up after maxRetries with a retryable PROVIDER_ERROR', async () => {
    const server = await started(backend);
    server.enqueueEmbeddings({ error: { status: 500 } }, { error: { status: 503 } });
    await expect(embedderFor(server).embed(['a b'])).resolves.toMatchObject({ vectors: [expect.any(Array)] });
    expect(server.embeddingRequests).toHaveLength(3);

    server.enqueueEmbeddings(
      ...Array.from({ length: 3 }, () => ({ error: { status: 502, message: 'bad gateway' } })),
    );
    const error = await rejection(embedderFor(server).embed(['a b']));
    expect(error.code).toBe('PROVIDER_ERROR');
    expect(error.details).toMatchObject({ provider: backend.name, status: 502, retryable: true });
    expect(server.embeddingRequests).toHaveLength(3 + FAST_RETRY.maxRetries + 1);
  });

  it('does not retry a 401 and says what to fix', async () => {
    const server = await started(backend);
    server.enqueueEmbeddings({ error: { status: 401, message: 'Incorrect API key provided' } });
    const error = await rejection(embedderFor(server).embed(TEXTS));
    expect(error.code).toBe('PROVIDER_AUTH');
    expect(error.details).toMatchObject({ status: 401, retryable: false, url: server.url });
    expect(error.message).toContain('HTTP 401');
    if (backend.name === 'openai') expect(error.message).toContain('OPENAI_API_KEY');
    expect(server.embeddingRequests).toHaveLength(1);
  });

  it('does not retry other 4xx', async () => {
    const server = await started(backend);
    server.enqueueEmbeddings({ error: { status: 400, message: 'input too long' } });
    const error = await rejection(embedderFor(server).embed(TEXTS));
    expect(error.code).toBe('PROVIDER_ERROR');
    expect(error.details.retryable).toBe(false);
    expect(error.message).toContain('input too long');
    expect(server.embeddingRequests).toHaveLength(1);
  });

  it('reports an unknown model as MODEL_NOT_FOUND without retrying', async () => {
    const server = await started(backend, { models: ['known-model'] });
    const error = await rejection(embedderFor(server, {}, 'missing-model').embed(TEXTS));
    expect(error.code).toBe('MODEL_NOT_FOUND');
    expect(error.message).toContain('missing-model');
    if (backend.name === 'ollama') expect(error.message).toContain('ollama pull missing-model');
    expect(server.embeddingRequests).toHaveLength(1);
    await expect(embedderFor(server, {}, 'known-model').embed(TEXTS)).resolves.toBeDefined();
  });

  it('stops a hanging request promptly when the signal aborts', async () => {
    const server = await started(backend);
    server.enqueueEmbeddings({ hang: true });
    const controller = new AbortController();
    const started_ = Date.now();
    setTimeout(() => controller.abort(), 50);
    const error = await rejection(embedderFor(server).embed(TEXTS, { signal: controller.signal }));
    expect(error.code).toBe('CANCELLED');
    expect(Date.now() - started_).toBeLessThan(1000);
    await waitFor(() => server.embeddingRequests[0]?.aborted === true);
    expect(server.embeddingRequests).toHaveLength(1);
  });

  it('sends nothing for an already aborted signal, and stops between batches', async () => {
    const server = await started(backend);
    const error = await rejection(embedderFor(server).embed(TEXTS, { signal: AbortSignal.abort() }));
    expect(error.code).toBe('CANCELLED');
    expect(server.embeddingRequests).toHaveLength(0);

    const controller = new AbortController();
    server.enqueueEmbeddings({ delayMs: 100 });
    setTimeout(() => controller.abort(), 20);
    const texts = Array.from({ length: 10 }, (_, i) => `t${i}`);
    const aborted = await rejection(
      embedderFor(server, { batchSize: 2 }).embed(texts, { signal: controller.signal }),
    );
    expect(aborted.code).toBe('CANCELLED');
    expect(server.embeddingRequests).toHaveLength(1);
  });

  it('times out a request that never answers, retrying it once', async () => {
    const server = await started(backend);
    server.enqueueEmbeddings({ hang: true }, { hang: true });
    const error = await rejection(
      embedderFor(server, { retry: { maxRetries: 1, baseDelayMs: 1, timeoutMs: 100 } }).embed(TEXTS),
    );
    expect(error.code).toBe('TIMEOUT');
    expect(error.details.retryable).toBe(true);
    expect(server.embeddingRequests).toHaveLength(2);
  });

  it('reports an unreachable server as PROVIDER_UNREACHABLE after retries', async () => {
    const server = await started(backend);
    const url = server.url;
    await server.close();
    const error = await rejection(createEmbedder(backend.spec(url), { retry: FAST_RETRY }).embed(TEXTS));
    expect(error.code).toBe('PROVIDER_UNREACHABLE');
    expect(error.message).toContain(backend.name === 'openai' ? 'OPENAI_BASE_URL' : 'OLLAMA_HOST');
  });
});

describe('OpenAI embedder specifics', () => {
  it('asks for base64 (as the openai client does) and decodes it to the same numbers as float arrays', async () => {
    const server = await started(backends[0]!);
    const embedder = createEmbedder(backends[0]!.spec(server.url));
    server.enqueueEmbeddings(
      {
        embeddings: [
          [3, 4],
          [1.5, -2],
          [0, -0.25],
        ],
      },
      {
        embeddings: [
          [3, 4],
          [1.5, -2],
          [0, -0.25],
        ],
        encodingFormat: 'float',
      },
    );
    const fromBase64 = await embedder.embed(['a', 'b', 'c']);
    const fromFloats = await embedder.embed(['a', 'b', 'c']);
    expect((server.embeddingRequests[0]!.body as { encoding_format: string }).encoding_format).toBe('base64');
    expect(fromBase64.vectors).toEqual([
      [0.6, 0.8],
      [0.6, -0.8],
      [0, -1],
    ]);
    expect(fromFloats.vectors).toEqual(fromBase64.vectors);
  });

  it('decodes real-sized base64 vectors exactly like the openai client with encoding_format "float"', async () => {
    const server = await started(backends[0]!);
    const texts = ['the quick brown fox', 'jumps over the lazy dog'];
    const ours = await createEmbedder(backends[0]!.spec(server.url)).embed(texts);
    const client = new OpenAI({ apiKey: 'k', baseURL: server.url });
    const raw = await client.embeddings.create({ model: 'm', input: texts, encoding_format: 'float' });
    for (const [i, item] of raw.data.entries()) {
      const scale = norm(item.embedding);
      expect(scale).not.toBeCloseTo(1, 2);
      expect(ours.vectors[i]).toEqual(item.embedding.map((value) => value / scale));
    }
  });

  it('reads OPENAI_BASE_URL and OPENAI_API_KEY like the chat provider', async () => {
    const server = await started(backends[0]!);
    vi.stubEnv('OPENAI_BASE_URL', server.url);
    vi.stubEnv('OPENAI_API_KEY', 'sk-env');
    await createEmbedder({ provider: 'openai', model: 'text-embedding-3-small' }).embed(['hello']);
    expect(server.embeddingRequests[0]!.headers.authorization).toBe('Bearer sk-env');
  });

  it('refuses api.openai.com without a key before any request', () => {
    vi.stubEnv('OPENAI_API_KEY', '');
    const attempt = () =>
      createEmbedder({
        provider: 'openai',
        model: 'text-embedding-3-small',
        baseUrl: 'https://api.openai.com/v1',
      });
    expect(attempt).toThrow(AgentsError);
    expect(attempt).toThrow(/OPENAI_API_KEY/);
  });

  it('rejects a response with fewer vectors than inputs', async () => {
    const server = await started(backends[0]!);
    server.enqueueEmbeddings({ embeddings: [[1, 0]] });
    const error = await rejection(createEmbedder(backends[0]!.spec(server.url)).embed(['a', 'b']));
    expect(error.code).toBe('PROVIDER_ERROR');
    expect(error.message).toContain('1 embeddings for 2 inputs');
    expect(server.embeddingRequests).toHaveLength(1);
  });
});

describe('Ollama embedder specifics', () => {
  it('reads OLLAMA_HOST', async () => {
    const server = await started(backends[1]!);
    vi.stubEnv('OLLAMA_HOST', server.url.replace('http://', ''));
    const result = await createEmbedder({ provider: 'ollama', model: 'nomic-embed-text' }).embed(['hello']);
    expect(result.vectors[0]).toHaveLength(DIMENSIONS);
    expect(server.embeddingRequests[0]!.body).toMatchObject({ model: 'nomic-embed-text', input: ['hello'] });
  });
});

describe('local embedder', () => {
  it('is deterministic, 512-dimensional by default and named local:hash-512', async () => {
    const a = createEmbedder({ provider: 'local' });
    const b = createEmbedder(parseEmbedderSpec('local'));
    expect(a.model).toBe('local:hash-512');
    const first = await a.embed(TEXTS);
    const second = await b.embed(TEXTS);
    expect(first).toEqual(second);
    expect(first.vectors[0]).toHaveLength(512);
    for (const vector of first.vectors) expect(norm(vector)).toBeCloseTo(1, 10);
    expect(first.usage.promptTokens).toBe(TEXTS.reduce((sum, text) => sum + estimateTokens(text), 0));
  });

  it('ranks a paragraph about the query above an unrelated one', async () => {
    const embedder = createEmbedder({ provider: 'local' });
    const refund =
      'Refund policy: customers who receive damaged goods can ask for a full refund within 30 days. Send a photo of the damaged item with your order number.';
    const shipping =
      'Shipping: orders leave our warehouse within two business days. International delivery takes one to three weeks depending on customs.';
    const {
      vectors: [query, refundVector, shippingVector],
    } = await embedder.embed(['refund policy for damaged goods', refund, shipping]);
    const refundScore = dot(query!, refundVector!);
    const shippingScore = dot(query!, shippingVector!);
    expect(refundScore).toBeGreaterThan(0.3);
    expect(refundScore).toBeGreaterThan(shippingScore + 0.2);
  });

  it('ignores case and punctuation, and gives a zero vector to text without words', async () => {
    const embedder = createEmbedder({ provider: 'local', dimensions: 32 });
    const { vectors } = await embedder.embed(['Café, RÉSUMÉ!', 'café résumé', '... !!! ---', '']);
    expect(vectors[0]).toEqual(vectors[1]);
    expect(vectors[2]).toEqual(new Array(32).fill(0));
    expect(vectors[3]).toEqual(new Array(32).fill(0));
  });

  it('honours an aborted signal', async () => {
    const error = await rejection(
      createEmbedder({ provider: 'local' }).embed(['a'], { signal: AbortSignal.abort() }),
    );
    expect(error.code).toBe('CANCELLED');
  });
});

describe('parseEmbedderSpec and createEmbedder', () => {
  it.each([
    ['openai:text-embedding-3-small', { provider: 'openai', model: 'text-embedding-3-small' }],
    ['OpenAI:text-embedding-3-large', { provider: 'openai', model: 'text-embedding-3-large' }],
    ['ollama:nomic-embed-text', { provider: 'ollama', model: 'nomic-embed-text' }],
    ['ollama:nomic-embed-text:latest', { provider: 'ollama', model: 'nomic-embed-text:latest' }],
    [' local ', { provider: 'local' }],
    ['local:256', { provider: 'local', dimensions: 256 }],
    ['local:hash-512', { provider: 'local', dimensions: 512 }],
  ])('reads %j', (spec, expected) => {
    expect(parseEmbedderSpec(spec)).toEqual(expected);
  });

  it('parses every embedder model name back to the same embedder', () => {
    for (const spec of [
      { provider: 'local', dimensions: 128 },
      { provider: 'openai', model: 'text-embedding-3-small', apiKey: 'k', baseUrl: 'http://127.0.0.1:9/v1' },
      { provider: 'ollama', model: 'mxbai-embed-large' },
    ] as EmbedderSpec[]) {
      const model = createEmbedder(spec).model;
      expect(createEmbedder({ ...spec, ...parseEmbedderSpec(model) }).model).toBe(model);
    }
  });

  it.each([
    ['', /it is empty/],
    ['openai', /model name after "openai:" is missing/],
    ['text-embedding-3-small', /names no provider/],
    ['openai:', /model name after "openai:" is missing/],
    ['ollama:  ', /model name after "ollama:" is missing/],
    ['cohere:embed-english-v3.0', /unknown provider "cohere"/],
    ['local:abc', /"abc" is not a number of dimensions/],
    ['local:0', /from 1 to 8192/],
    ['local:100000', /from 1 to 8192/],
  ])('rejects %j with the accepted forms', (spec, why) => {
    let caught: unknown;
    try {
      parseEmbedderSpec(spec);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(AgentsError);
    const error = caught as AgentsError;
    expect(error.code).toBe('INVALID_ARGUMENT');
    expect(error.details.field).toBe('embedder');
    expect(error.message).toMatch(why);
    expect(error.message).toContain('"openai:<model>", "ollama:<model>", "local" or "local:<dimensions>"');
  });

  it('rejects unusable specs and options', () => {
    expect(() => createEmbedder({ provider: 'local', dimensions: 1.5 })).toThrow(/integer from 1 to 8192/);
    expect(() => createEmbedder({ provider: 'ollama', model: '' })).toThrow(/needs a model name/);
    expect(() => createEmbedder({ provider: 'cohere' } as unknown as EmbedderSpec)).toThrow(
      /Unknown embedder provider "cohere"/,
    );
    expect(() => createEmbedder({ provider: 'local' }, { batchSize: 0 })).toThrow(/batchSize/);
  });
});
