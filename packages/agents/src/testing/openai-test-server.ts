import type { ServerResponse } from 'node:http';
import {
  DEFAULT_TEST_EMBEDDING_DIMENSIONS,
  type EmbeddingTestReply,
  float32Base64,
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

/** A scripted error as OpenAI sends one: its status and headers, `{ error: { message, type } }`. */
function sendErrorReply(
  response: ServerResponse,
  error: { status: number; message?: string; type?: string; code?: string; headers?: Record<string, string> },
): void {
  response.writeHead(error.status, { 'content-type': 'application/json', ...(error.headers ?? {}) });
  response.end(
    JSON.stringify({
      error: {
        message: error.message ?? `HTTP ${error.status}`,
        type: error.type ?? 'error',
        ...(error.code ? { code: error.code } : {}),
      },
    }),
  );
}

/** A scripted answer of the OpenAI-compatible test server. */
export type OpenAITestReply =
  | {
      /** Streamed as given (array) or split into word-sized chunks (string). */
      text?: string | string[];
      /** Each call's arguments stream as given (array: one delta per element) or in one delta (string). */
      toolCalls?: Array<{ id?: string; name: string; arguments: string | string[] }>;
      /** Usage to report; default prompt ≈ JSON(messages)/4, completion = number of deltas. `null`: report none. */
      usage?: { promptTokens: number; completionTokens: number } | null;
      /** Pause before the first chunk / between chunks. */
      firstChunkDelayMs?: number;
      chunkDelayMs?: number;
      /** Imitate compatible servers that leave `index` out of tool-call deltas (the `id` is repeated instead). */
      omitToolCallIndex?: boolean;
    }
  | {
      error: {
        status: number;
        message?: string;
        type?: string;
        code?: string;
        headers?: Record<string, string>;
      };
    }
  /** Accept the request and never answer (until the client goes away). */
  | { hang: true };

export type OpenAITestResponder = (
  request: RecordedRequest,
  index: number,
) => OpenAITestReply | Promise<OpenAITestReply>;

export interface OpenAICompatibleTestServer {
  /** Base URL for the `openai` client / `OPENAI_BASE_URL`: `http://127.0.0.1:<port>/v1`. */
  readonly url: string;
  /** Every request, including ones that were answered with errors. */
  readonly requests: RecordedRequest[];
  /** Chat-completion requests only. */
  readonly chatRequests: RecordedRequest[];
  /** Usage the server actually reported to clients, one entry per answered completion. */
  readonly reportedUsage: Array<{ promptTokens: number; completionTokens: number }>;
  /** `POST /v1/embeddings` requests only (errors included). */
  readonly embeddingRequests: RecordedRequest[];
  /** Prompt tokens the server reported, one entry per answered embeddings request. */
  readonly reportedEmbeddingUsage: number[];
  /** Queue replies, used in order (FIFO) by the next completion requests. */
  enqueue(...replies: OpenAITestReply[]): void;
  /** Queue embeddings replies (FIFO); when none is queued, requests get the default test vectors. */
  enqueueEmbeddings(...replies: EmbeddingTestReply[]): void;
  /** Answers requests when the queue is empty. Default: HTTP 500 "no scripted reply". */
  setFallback(responder: OpenAITestResponder): void;
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

export interface OpenAITestServerOptions {
  /** Model ids listed by `GET /v1/models` and accepted by completions and embeddings (others get 404). Default: any. */
  models?: string[];
  /** Length of the default test vectors of `/v1/embeddings` (a request's `dimensions` wins). Default 64. */
  embeddingDimensions?: number;
}

function sse(response: ServerResponse, payload: unknown): void {
  response.write(`data: ${JSON.stringify(payload)}\n\n`);
}

/**
 * An OpenAI chat-completions server on 127.0.0.1:0 that answers from a script: SSE streaming with
 * text and tool-call deltas, the `include_usage` usage chunk, `[DONE]`, error statuses with headers
 * such as `Retry-After`, and hanging responses. Also `POST /v1/embeddings` with deterministic vectors
 * (float or base64). Drive it with the real `openai` client.
 */
export async function createOpenAICompatibleTestServer(
  options: OpenAITestServerOptions = {},
): Promise<OpenAICompatibleTestServer> {
  const queue: OpenAITestReply[] = [];
  const reportedUsage: Array<{ promptTokens: number; completionTokens: number }> = [];
  const chatRequests: RecordedRequest[] = [];
  const embeddingRequests: RecordedRequest[] = [];
  const embeddingQueue: EmbeddingTestReply[] = [];
  const reportedEmbeddingUsage: number[] = [];
  let fallback: OpenAITestResponder = () => ({ error: { status: 500, message: 'no scripted reply left' } });

  const http = await startTestHttpServer(async (request, response) => {
    if (request.method === 'GET' && request.path.endsWith('/models')) {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(
        JSON.stringify({
          object: 'list',
          data: (options.models ?? []).map((id) => ({ id, object: 'model', created: 0, owned_by: 'test' })),
        }),
      );
      return;
    }
    if (request.method === 'POST' && request.path.endsWith('/embeddings')) {
      embeddingRequests.push(request);
      await answerEmbeddings(request, response);
      return;
    }
    if (request.method !== 'POST' || !request.path.endsWith('/chat/completions')) {
      response.writeHead(404, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ error: { message: `Unknown route ${request.method} ${request.path}` } }));
      return;
    }
    const index = chatRequests.length;
    chatRequests.push(request);
    const body = (request.body ?? {}) as {
      model?: string;
      messages?: unknown[];
      stream?: boolean;
      stream_options?: { include_usage?: boolean };
    };
    if (options.models && !options.models.includes(body.model ?? '')) {
      response.writeHead(404, { 'content-type': 'application/json' });
      response.end(
        JSON.stringify({
          error: {
            message: `The model \`${body.model}\` does not exist or you do not have access to it.`,
            type: 'invalid_request_error',
            code: 'model_not_found',
          },
        }),
      );
      return;
    }
    const reply = queue.length > 0 ? queue.shift()! : await fallback(request, index);
    if ('hang' in reply) {
      await new Promise<void>((resolve) => response.once('close', () => resolve()));
      return;
    }
    if ('error' in reply) {
      sendErrorReply(response, reply.error);
      return;
    }
    const model = body.model ?? 'test-model';
    const id = `chatcmpl-test-${index}`;
    const created = Math.floor(Date.now() / 1000);
    const textChunks = Array.isArray(reply.text) ? reply.text : splitTokens(reply.text ?? '');
    const calls = (reply.toolCalls ?? []).map((call, i) => ({
      id: call.id ?? `call_${index}_${i}`,
      name: call.name,
      pieces: Array.isArray(call.arguments) ? call.arguments : [call.arguments],
    }));
    const deltaCount = textChunks.length + calls.reduce((sum, call) => sum + call.pieces.length, 0);
    const usage =
      reply.usage === null
        ? undefined
        : (reply.usage ?? {
            promptTokens: estimatePromptTokens(body.messages),
            completionTokens: deltaCount,
          });
    const finishReason = calls.length > 0 ? 'tool_calls' : 'stop';
    const usagePayload = usage && {
      prompt_tokens: usage.promptTokens,
      completion_tokens: usage.completionTokens,
      total_tokens: usage.promptTokens + usage.completionTokens,
    };

    if (!body.stream) {
      if (usage) reportedUsage.push(usage);
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(
        JSON.stringify({
          id,
          object: 'chat.completion',
          created,
          model,
          choices: [
            {
              index: 0,
              message: {
                role: 'assistant',
                content: textChunks.join('') || null,
                ...(calls.length > 0
                  ? {
                      tool_calls: calls.map((call) => ({
                        id: call.id,
                        type: 'function',
                        function: { name: call.name, arguments: call.pieces.join('') },
                      })),
                    }
                  : {}),
              },
              finish_reason: finishReason,
            },
          ],
          ...(usagePayload ? { usage: usagePayload } : {}),
        }),
      );
      return;
    }

    response.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
    });
    const chunk = (delta: Record<string, unknown>, finish: string | null = null) => ({
      id,
      object: 'chat.completion.chunk',
      created,
      model,
      choices: [{ index: 0, delta, finish_reason: finish }],
    });
    if (!(await waitUnlessClosed(reply.firstChunkDelayMs ?? 0, response))) return;
    sse(response, chunk({ role: 'assistant', content: '' }));
    const pause = reply.chunkDelayMs ?? 0;
    for (const text of textChunks) {
      if (pause > 0 && !(await waitUnlessClosed(pause, response))) return;
      if (response.destroyed) return;
      sse(response, chunk({ content: text }));
    }
    const slot = (i: number, id: string) => (reply.omitToolCallIndex ? { id } : { index: i });
    for (const [i, call] of calls.entries()) {
      sse(
        response,
        chunk({
          tool_calls: [
            {
              ...slot(i, call.id),
              id: call.id,
              type: 'function',
              function: { name: call.name, arguments: '' },
            },
          ],
        }),
      );
      for (const piece of call.pieces) {
        if (pause > 0 && !(await waitUnlessClosed(pause, response))) return;
        if (response.destroyed) return;
        sse(response, chunk({ tool_calls: [{ ...slot(i, call.id), function: { arguments: piece } }] }));
      }
    }
    sse(response, chunk({}, finishReason));
    if (usagePayload && body.stream_options?.include_usage) {
      reportedUsage.push(usage!);
      sse(response, {
        id,
        object: 'chat.completion.chunk',
        created,
        model,
        choices: [],
        usage: usagePayload,
      });
    }
    response.end('data: [DONE]\n\n');
  });

  function sendError(response: ServerResponse, status: number, message: string, extra: object = {}): void {
    response.writeHead(status, { 'content-type': 'application/json' });
    response.end(JSON.stringify({ error: { message, type: 'invalid_request_error', ...extra } }));
  }

  /** `POST /v1/embeddings`: `data[{ object, index, embedding }]` (float arrays or base64 float32), `usage`. */
  async function answerEmbeddings(request: RecordedRequest, response: ServerResponse): Promise<void> {
    const body = (request.body ?? {}) as {
      model?: string;
      input?: unknown;
      encoding_format?: string;
      dimensions?: number;
    };
    const inputs = typeof body.input === 'string' ? [body.input] : body.input;
    if (
      !Array.isArray(inputs) ||
      inputs.length === 0 ||
      inputs.length > 2048 ||
      inputs.some((input) => typeof input !== 'string' || input === '')
    ) {
      sendError(
        response,
        400,
        "'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference.",
      );
      return;
    }
    if (options.models && !options.models.includes(body.model ?? '')) {
      sendError(
        response,
        404,
        `The model \`${body.model}\` does not exist or you do not have access to it.`,
        {
          code: 'model_not_found',
        },
      );
      return;
    }
    const reply = embeddingQueue.shift() ?? {};
    if ('hang' in reply) {
      await new Promise<void>((resolve) => response.once('close', () => resolve()));
      return;
    }
    if ('error' in reply) {
      sendErrorReply(response, reply.error);
      return;
    }
    if (!(await waitUnlessClosed(reply.delayMs ?? 0, response))) return;
    const dimensions = body.dimensions ?? options.embeddingDimensions ?? DEFAULT_TEST_EMBEDDING_DIMENSIONS;
    const vectors = reply.embeddings ?? (inputs as string[]).map((input) => testEmbedding(input, dimensions));
    const format = reply.encodingFormat ?? (body.encoding_format === 'base64' ? 'base64' : 'float');
    const promptTokens = reply.promptTokens ?? testEmbeddingPromptTokens(inputs as string[]);
    reportedEmbeddingUsage.push(promptTokens);
    response.writeHead(200, { 'content-type': 'application/json' });
    response.end(
      JSON.stringify({
        object: 'list',
        data: vectors.map((vector, index) => ({
          object: 'embedding',
          index,
          embedding: format === 'base64' ? float32Base64(vector) : vector,
        })),
        model: body.model ?? 'test-embedding-model',
        usage: { prompt_tokens: promptTokens, total_tokens: promptTokens },
      }),
    );
  }

  return {
    url: `${http.origin}/v1`,
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
