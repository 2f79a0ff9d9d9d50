import { type ApiKeysResource, apiKeysResource } from './resources/api-keys';
import { type CrewsResource, crewsResource } from './resources/crews';
import { type DocumentsResource, documentsResource } from './resources/documents';
import { type RunsResource, runsResource } from './resources/runs';
import { type SessionTokensResource, sessionTokensResource } from './resources/session-tokens';
import { type TenantsResource, tenantsResource } from './resources/tenants';
import { type ThreadsResource, threadsResource } from './resources/threads';
import { type Viewer, viewerResource } from './resources/viewer';
import {
  createStreamContext,
  type StreamTransport,
  type WebSocketConstructor,
} from './streaming/stream-context';
import { authorization } from './transport/authorization';
import { documentsUrl, endpointUrl } from './transport/endpoint-url';
import { createHttpTransport } from './transport/http-transport';
import type { RetryOptions } from './transport/retry-policy';
import {
  documentText,
  type RequestArgs,
  type RequestOptions,
  type RunDocument,
  type TypedDocument,
} from './typed-document';

export interface TroupeClientOptions {
  /** The server's base URL, with or without the trailing `/graphql`. */
  url: string;
  /** A tenant API key (server side only: never ship it to a browser). */
  apiKey?: string;
  /**
   * Called before every HTTP request and stream connection; its result is sent as the bearer
   * token. Use it for short-lived session tokens in browsers: a stream whose token expires while it
   * runs resumes with a fresh one. Falls back to `apiKey` when it returns nothing. When it throws,
   * the request fails with UNAUTHENTICATED; a stream's reconnect tries again instead (within
   * `reconnect`), unless what it threw is a `TroupeError`.
   */
  getToken?: () => string | null | undefined | Promise<string | null | undefined>;
  /** A fetch implementation; default: the global `fetch`. */
  fetch?: typeof fetch;
  /** Headers sent with every request. */
  headers?: Record<string, string>;
  /** Retries of queries when the server is unreachable or answers 502/503/504; `false` turns them off. */
  retry?: RetryOptions | false;
  /**
   * The WebSocket constructor streams use; default: `globalThis.WebSocket` (browsers, edge runtimes,
   * Node 22+). On Node 20 pass `ws`'s default export; without one, streams use SSE.
   */
  webSocketImpl?: WebSocketConstructor;
  /**
   * How streams travel: `'auto'` (default) uses a WebSocket and falls back to SSE (over `fetch`) when
   * none is available or none can be established (then new streams go to SSE at once for 5 minutes);
   * `'websocket'` or `'sse'` force one.
   */
  streamTransport?: StreamTransport;
  /**
   * Reconnects of a stream after its connection is lost (it resumes after the last event seen).
   * Default: 10 attempts in a row (with no event between, and no connection that stayed up 10 s),
   * 250 ms doubling up to 5 s; `false` turns them off.
   */
  reconnect?: RetryOptions | false;
  /**
   * A stream connection that receives nothing, not even the server's keep-alives (every 12 s), for
   * this long counts as lost and is reopened. Default 30000 ms.
   */
  streamIdleTimeoutMs?: number;
  /**
   * All streams of a client share one WebSocket, opened by the first stream; it stays open this long
   * after the last stream ended, for the next one to reuse (0: it closes at once). Default 1000 ms.
   */
  streamLingerMs?: number;
}

export interface TroupeClient {
  /** Runs an operation given as text; type the result with the type argument. */
  request<TResult = unknown>(
    document: string,
    variables?: Record<string, unknown>,
    options?: RequestOptions,
  ): Promise<TResult>;
  /** Runs a typed document (GraphQL Code Generator client preset); result and variables are checked. */
  request<TResult, TVariables>(
    document: TypedDocument<TResult, TVariables>,
    ...args: RequestArgs<NoInfer<TVariables>>
  ): Promise<TResult>;
  /** Who is calling. */
  viewer(options?: RequestOptions): Promise<Viewer>;
  crews: CrewsResource;
  runs: RunsResource;
  threads: ThreadsResource;
  /** Documents to search: upload files, create from text, search their chunks. */
  documents: DocumentsResource;
  apiKeys: ApiKeysResource;
  sessionTokens: SessionTokensResource;
  tenants: TenantsResource;
}

/**
 * A client for a Troupe server. Every failure rejects with a `TroupeError` (an abort rejects with
 * the signal's reason).
 */
export function createTroupeClient(options: TroupeClientOptions): TroupeClient {
  if (typeof options?.url !== 'string' || !options.url) {
    throw new TypeError('createTroupeClient: `url` is required, e.g. "https://troupe.example.com"');
  }
  const execute = createHttpTransport(options);
  const authorize = authorization(options);
  const streams = createStreamContext({
    endpoint: endpointUrl(options.url),
    authorization: authorize,
    renewableAuthorization: typeof options.getToken === 'function',
    fetch: options.fetch ?? ((input, init) => globalThis.fetch(input, init)),
    headers: options.headers,
    webSocketImpl: options.webSocketImpl,
    transport: options.streamTransport ?? 'auto',
    reconnect: options.reconnect,
    idleTimeoutMs: options.streamIdleTimeoutMs ?? 30_000,
    lingerMs: options.streamLingerMs,
  });
  // async: a document without text rejects like every other failure instead of throwing.
  const send = async (document: unknown, variables: unknown, requestOptions: RequestOptions | undefined) =>
    execute(documentText(document), variables as Record<string, unknown> | undefined, requestOptions);
  const run: RunDocument = (document, variables, requestOptions) =>
    send(document, variables, requestOptions) as Promise<never>;

  return {
    request(
      document: unknown,
      variables?: Record<string, unknown>,
      requestOptions?: RequestOptions,
    ): Promise<never> {
      return send(document, variables, requestOptions) as Promise<never>;
    },
    viewer: viewerResource(run),
    crews: crewsResource(run),
    runs: runsResource(run, streams),
    threads: threadsResource(run, streams),
    documents: documentsResource(run, {
      url: documentsUrl(options.url),
      authorization: authorize,
      fetch: options.fetch,
      headers: options.headers,
    }),
    apiKeys: apiKeysResource(run),
    sessionTokens: sessionTokensResource(run),
    tenants: tenantsResource(run),
  };
}
