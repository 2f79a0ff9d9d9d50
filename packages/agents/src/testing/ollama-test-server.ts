import type { ServerResponse } from 'node:http';
import {
  DEFAULT_TEST_EMBEDDING_DIMENSIONS,
  type EmbeddingTestReply,
  testEmbedding,
  testEmbeddingPromptTokens,
} from './test-embeddings.js';
import {
  estimatePromptTokens,
  type RecordedRequest,
  splitTokens,
  startTestHttpServer,
  waitUnlessClosed,
} from './test-http-server.js';

/** A scripted answer of the Ollama test server. */
export type OllamaTestReply =
  | {
      text?: string | string[];
      /** Ollama sends tool calls whole, with arguments as an object. */
      toolCalls?: Array<{ name: string; arguments: Record<string, unknown> }>;
      /** Reported as `prompt_eval_count` / `eval_count`. Default: JSON(messages)/4 and number of chunks. */
      usage?: { promptTokens: number; completionTokens: number };
      firstChunkDelayMs?: number;
      chunkDelayMs?: number;
    }
  | { error: { status: number; message?: string; headers?: Record<string, string> } }
  | { hang: true };

export type OllamaTestResponder = (
  request: RecordedRequest,
  index: number,
) => OllamaTestReply | Promise<OllamaTestReply>;

export interface OllamaTestServer {
  /** Host for the `ollama` client / `OLLAMA_HOST`: `http://127.0.0.1:<port>`. */
  readonly url: string;
  readonly requests: RecordedRequest[];
  readonly chatRequests: RecordedRequest[];
  /** `POST /api/embed` requests only (errors included). */
  readonly embeddingRequests: RecordedRequest[];
  readonly reportedUsage: Array<{ promptTokens: number; completionTokens: number }>;
  /** `prompt_eval_count` the server reported, one entry per answered `/api/embed` request. */
  readonly reportedEmbeddingUsage: number[];
  enqueue(...replies: OllamaTestReply[]): void;
  /** Queue `/api/embed` replies (FIFO); when none is queued, requests get the default test vectors. */
  enqueueEmbeddings(...replies: EmbeddingTestReply[]): void;
  setFallback(responder: OllamaTestResponder): void;
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

export interface OllamaTestServerOptions {
  /** Models this "Ollama" has pulled; chat or embed with any other gets Ollama's 404. Default: any model. */
  models?: string[];
  /** Length of the default test vectors of `/api/embed` (a request's `dimensions` wins). Default 64. */
  embeddingDimensions?: number;
}

/**
 * An Ollama `/api/chat` (NDJSON), `/api/embed` and `/api/tags` server on 127.0.0.1:0 answering from a
 * script; embeddings default to deterministic test vectors.
 */
export async function createOllamaTestServer(
  options: OllamaTestServerOptions = {},
): Promise<OllamaTestServer> {
  const queue: OllamaTestReply[] = [];
  const reportedUsage: Array<{ promptTokens: number; completionTokens: number }> = [];
  const chatRequests: RecordedRequest[] = [];
  const embeddingRequests: RecordedRequest[] = [];
  const embeddingQueue: EmbeddingTestReply[] = [];
  const reportedEmbeddingUsage: number[] = [];
  let fallback: OllamaTestResponder = () => ({ error: { status: 500, message: 'no scripted reply left' } });

  const http = await startTestHttpServer(async (request, response) => {
    if (request.method === 'GET' && request.path === '/api/tags') {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ models: (options.models ?? []).map((name) => ({ name, model: name })) }));
      return;
    }
    if (request.method === 'POST' && request.path === '/api/embed') {
      embeddingRequests.push(request);
      await answerEmbed(request, response);
      return;
    }
    if (request.method !== 'POST' || request.path !== '/api/chat') {
      response.writeHead(404, { 'content-type': 'text/plain' });
      response.end('404 page not found');
      return;
    }
    const index = chatRequests.length;
    chatRequests.push(request);
    const body = (request.body ?? {}) as { model?: string; messages?: unknown[]; stream?: boolean };
    const model = body.model ?? 'test-model';
    if (options.models && !options.models.includes(model)) {
      response.writeHead(404, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ error: `model "${model}" not found, try pulling it first` }));
      return;
    }
    const reply = queue.length > 0 ? queue.shift()! : await fallback(request, index);
    if ('hang' in reply) {
      await new Promise<void>((resolve) => response.once('close', () => resolve()));
      return;
    }
    if ('error' in reply) {
      response.writeHead(reply.error.status, {
        'content-type': 'application/json',
        ...(reply.error.headers ?? {}),
      });
      response.end(JSON.stringify({ error: reply.error.message ?? `HTTP ${reply.error.status}` }));
      return;
    }
    const chunks = Array.isArray(reply.text) ? reply.text : splitTokens(reply.text ?? '');
    const usage = reply.usage ?? {
      promptTokens: estimatePromptTokens(body.messages),
      completionTokens: chunks.length + (reply.toolCalls?.length ?? 0),
    };
    const line = (message: Record<string, unknown>, done: boolean, extra: Record<string, unknown> = {}) =>
      `${JSON.stringify({ model, created_at: new Date().toISOString(), message: { role: 'assistant', content: '', ...message }, done, ...extra })}\n`;
    const final = {
      done_reason: 'stop',
      total_duration: 1,
      load_duration: 0,
      prompt_eval_count: usage.promptTokens,
      prompt_eval_duration: 1,
      eval_count: usage.completionTokens,
      eval_duration: 1,
    };
    const toolCalls = reply.toolCalls?.map((call) => ({
      function: { name: call.name, arguments: call.arguments },
    }));
    if (body.stream === false) {
      reportedUsage.push(usage);
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(
        line({ content: chunks.join(''), ...(toolCalls ? { tool_calls: toolCalls } : {}) }, true, final),
      );
      return;
    }
    response.writeHead(200, { 'content-type': 'application/x-ndjson' });
    if (!(await waitUnlessClosed(reply.firstChunkDelayMs ?? 0, response))) return;
    for (const text of chunks) {
      if (reply.chunkDelayMs && !(await waitUnlessClosed(reply.chunkDelayMs, response))) return;
      if (response.destroyed) return;
      response.write(line({ content: text }, false));
    }
    if (toolCalls) response.write(line({ tool_calls: toolCalls }, false));
    reportedUsage.push(usage);
    response.end(line({}, true, final));
  });

  function sendError(response: ServerResponse, status: number, message: string, headers = {}): void {
    response.writeHead(status, { 'content-type': 'application/json', ...headers });
    response.end(JSON.stringify({ error: message }));
  }

  /** `POST /api/embed`: `{ model, input: string | string[] }` → `{ model, embeddings, prompt_eval_count }`. */
  async function answerEmbed(request: RecordedRequest, response: ServerResponse): Promise<void> {
    const body = (request.body ?? {}) as { model?: string; input?: unknown; dimensions?: number };
    const model = body.model ?? '';
    const inputs = typeof body.input === 'string' ? [body.input] : (body.input ?? []);
    if (!Array.isArray(inputs) || inputs.some((input) => typeof input !== 'string')) {
      sendError(response, 400, 'invalid input type');
      return;
    }
    if (options.models && !options.models.includes(model)) {
      sendError(response, 404, `model "${model}" not found, try pulling it first`);
      return;
    }
    const reply = embeddingQueue.shift() ?? {};
    if ('hang' in reply) {
      await new Promise<void>((resolve) => response.once('close', () => resolve()));
      return;
    }
    if ('error' in reply) {
      sendError(
        response,
        reply.error.status,
        reply.error.message ?? `HTTP ${reply.error.status}`,
        reply.error.headers,
      );
      return;
    }
    if (!(await waitUnlessClosed(reply.delayMs ?? 0, response))) return;
    const dimensions = body.dimensions ?? options.embeddingDimensions ?? DEFAULT_TEST_EMBEDDING_DIMENSIONS;
    const embeddings =
      reply.embeddings ?? (inputs as string[]).map((input) => testEmbedding(input, dimensions));
    const promptTokens = reply.promptTokens ?? testEmbeddingPromptTokens(inputs as string[]);
    reportedEmbeddingUsage.push(promptTokens);
    response.writeHead(200, { 'content-type': 'application/json' });
    response.end(
      JSON.stringify({
        model,
        embeddings,
        total_duration: 1,
        load_duration: 0,
        prompt_eval_count: promptTokens,
      }),
    );
  }

  return {
    url: http.origin,
    requests: http.requests,
    chatRequests,
    embeddingRequests,
    reportedUsage,
    reportedEmbeddingUsage,
    enqueue: (...replies) => {
      queue.push(...replies);
    },
    enqueueEmbeddings: (...replies) => {
      embeddingQueue.push(...replies);
    },
    setFallback: (responder) => {
      fallback = responder;
    },
    close: () => http.close(),
    [Symbol.asyncDispose]: () => http.close(),
  };
}
