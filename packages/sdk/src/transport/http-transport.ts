import { TroupeError } from '../troupe-error';
import type { RequestOptions } from '../typed-document';
import { authorization } from './authorization';
import { endpointUrl } from './endpoint-url';
import { operationInfo } from './operation-info';
import { errorFromGraphQLErrors, errorFromStatus, readGraphQLErrors } from './response-error';
import { parseRetryAfter, type RetryOptions, retryDelay, retryPolicy, sleep } from './retry-policy';

export interface HttpTransportOptions {
  url: string;
  apiKey?: string;
  getToken?: () => string | null | undefined | Promise<string | null | undefined>;
  fetch?: typeof fetch;
  headers?: Record<string, string>;
  retry?: RetryOptions | false;
}

/** Runs one GraphQL operation; rejects with a TroupeError (or the abort reason). */
export type Execute = (
  query: string,
  variables: Record<string, unknown> | undefined,
  options: RequestOptions | undefined,
) => Promise<unknown>;

const accept = 'application/graphql-response+json, application/json;q=0.9';
const jsonType = /^application\/(graphql-response\+)?json\b/i;

type Attempt = { data: unknown } | { error: TroupeError; retryAfterMs?: number | undefined };

/** GraphQL over HTTP (POST, JSON) with auth, error mapping and retries of queries. */
export function createHttpTransport(options: HttpTransportOptions): Execute {
  const endpoint = endpointUrl(options.url);
  const policy = retryPolicy(options.retry);
  // Looked up per call: `fetch` detached from its global can throw "Illegal invocation" in browsers.
  const fetchImpl: typeof fetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));

  const authorize = authorization(options);

  async function attempt(body: string, requestOptions: RequestOptions | undefined): Promise<Attempt> {
    const signal = requestOptions?.signal;
    const token = await authorize();
    signal?.throwIfAborted();
    // Headers merges names case-insensitively: `Authorization` in options cannot double up.
    const headers = new Headers(options.headers);
    for (const [name, value] of Object.entries(requestOptions?.headers ?? {})) headers.set(name, value);
    headers.set('accept', accept);
    headers.set('content-type', 'application/json');
    if (token) headers.set('authorization', `Bearer ${token}`);

    let response: Response;
    try {
      response = await fetchImpl(endpoint, { method: 'POST', headers, body, ...(signal ? { signal } : {}) });
    } catch (cause) {
      if (signal?.aborted) throw signal.reason;
      return { error: new TroupeError(`Could not reach ${endpoint}`, { code: 'UNAVAILABLE', cause }) };
    }

    let payload: unknown;
    if (jsonType.test(response.headers.get('content-type') ?? '')) {
      try {
        payload = await response.json();
      } catch {
        if (signal?.aborted) throw signal.reason;
        payload = undefined;
      }
    } else {
      await response.body?.cancel().catch(() => {});
    }

    const record =
      typeof payload === 'object' && payload !== null ? (payload as Record<string, unknown>) : {};
    const errors = readGraphQLErrors(record.errors);
    const error = errors
      ? errorFromGraphQLErrors(errors, response.status)
      : response.ok && record.data != null
        ? undefined
        : errorFromStatus(response.status, response.statusText);
    if (!error) return { data: record.data };
    return { error, retryAfterMs: parseRetryAfter(response.headers.get('retry-after')) };
  }

  return async (query, variables, requestOptions) => {
    const operation = operationInfo(query);
    const body = JSON.stringify({
      query,
      ...(variables !== undefined ? { variables } : {}),
      ...(operation.name ? { operationName: operation.name } : {}),
    });
    // Only queries are safe to send twice; mutations are never retried.
    const retries = operation.type === 'query' ? policy.retries : 0;
    for (let retry = 0; ; retry++) {
      const result = await attempt(body, requestOptions);
      if ('data' in result) return result.data;
      // Network failures and 502/503/504 (or a server saying UNAVAILABLE) are worth another try.
      if (retry >= retries || result.error.code !== 'UNAVAILABLE') throw result.error;
      await sleep(retryDelay(policy, retry, result.retryAfterMs), requestOptions?.signal);
    }
  };
}
