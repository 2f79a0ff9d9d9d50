import { afterEach, describe, expect, it } from 'vitest';
import { createTroupeClient, isTroupeError, type TroupeError } from '../src/index';
import { graphqlErrors, type Reply, startTestServer, type TestServer } from './graphql-test-server';

let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function serve(reply: Reply | ((index: number) => Reply)) {
  server = await startTestServer((_request, index) => (typeof reply === 'function' ? reply(index) : reply));
  return server;
}

const fastRetry = { retries: 2, minDelayMs: 1, maxDelayMs: 5 };

const viewer = { kind: 'API_KEY', scopes: ['READ', 'WRITE'], subject: null, tenant: null };

async function rejection(promise: Promise<unknown>): Promise<TroupeError> {
  const error = await promise.then(
    () => {
      throw new Error('expected the request to fail');
    },
    (e: unknown) => e,
  );
  expect(isTroupeError(error)).toBe(true);
  return error as TroupeError;
}

describe('requests', () => {
  it('POSTs the operation as JSON to /graphql with the API key as bearer token', async () => {
    const { url, requests } = await serve({ body: { data: { viewer } } });
    const client = createTroupeClient({ url, apiKey: 'tk_secret', headers: { 'x-app': 'demo' } });

    await expect(client.viewer()).resolves.toEqual(viewer);

    expect(requests).toHaveLength(1);
    const [request] = requests;
    expect(request!.method).toBe('POST');
    expect(request!.path).toBe('/graphql');
    expect(request!.headers.authorization).toBe('Bearer tk_secret');
    expect(request!.headers['content-type']).toBe('application/json');
    expect(request!.headers.accept).toContain('application/graphql-response+json');
    expect(request!.headers['x-app']).toBe('demo');
    expect(request!.body.operationName).toBe('Viewer');
    expect(request!.body.query).toMatch(/query Viewer \{\s*viewer \{/);
  });

  it.each([
    ['/graphql', ''],
    ['/graphql', '/'],
    ['/graphql', '/graphql'],
    ['/graphql', '/graphql/'],
  ])('reaches %s when the url ends with "%s"', async (path, suffix) => {
    const { url, requests } = await serve({ body: { data: { viewer } } });
    await createTroupeClient({ url: url + suffix }).viewer();
    expect(requests[0]!.path).toBe(path);
  });

  it('keeps a base path in front of /graphql', async () => {
    const { url, requests } = await serve({ body: { data: { viewer } } });
    await createTroupeClient({ url: `${url}/troupe/` }).viewer();
    expect(requests[0]!.path).toBe('/troupe/graphql');
  });

  it('reads application/json responses as well as application/graphql-response+json', async () => {
    const { url } = await serve({
      headers: { 'content-type': 'application/json' },
      body: { data: { viewer } },
    });
    await expect(createTroupeClient({ url }).viewer()).resolves.toEqual(viewer);
  });

  it('sends no Authorization header without a key or token', async () => {
    const { url, requests } = await serve({ body: { data: { viewer } } });
    await createTroupeClient({ url }).viewer();
    expect(requests[0]!.headers.authorization).toBeUndefined();
  });

  it('calls getToken before every request and sends its token', async () => {
    const { url, requests } = await serve({ body: { data: { viewer } } });
    let calls = 0;
    const client = createTroupeClient({
      url,
      apiKey: 'unused-when-token',
      getToken: async () => `session-${++calls}`,
    });

    await client.viewer();
    await client.viewer();

    expect(calls).toBe(2);
    expect(requests.map((r) => r.headers.authorization)).toEqual(['Bearer session-1', 'Bearer session-2']);
  });

  it('turns a getToken failure into UNAUTHENTICATED without sending anything', async () => {
    const { url, requests } = await serve({ body: { data: { viewer } } });
    const client = createTroupeClient({
      url,
      getToken: () => {
        throw new Error('logged out');
      },
    });
    const error = await rejection(client.viewer());
    expect(error.code).toBe('UNAUTHENTICATED');
    expect((error.cause as Error).message).toBe('logged out');
    expect(requests).toHaveLength(0);
  });

  it('runs a document given as text with its variables', async () => {
    const { url, requests } = await serve({ body: { data: { crew: null } } });
    const client = createTroupeClient({ url });
    const data = await client.request<{ crew: null }>('query OneCrew($id: ID!) { crew(id: $id) { id } }', {
      id: 'Q3Jldzox',
    });
    expect(data).toEqual({ crew: null });
    expect(requests[0]!.body).toEqual({
      query: 'query OneCrew($id: ID!) { crew(id: $id) { id } }',
      variables: { id: 'Q3Jldzox' },
      operationName: 'OneCrew',
    });
  });
});

describe('options', () => {
  it('lets a per-request Authorization header win, whatever its case, without sending two', async () => {
    const { url, requests } = await serve({ body: { data: { viewer } } });
    const client = createTroupeClient({
      url,
      headers: { Authorization: 'Bearer from-options', 'X-Trace': 'a' },
    });
    await client.viewer({ headers: { 'x-trace': 'b' } });
    expect(requests[0]!.headers.authorization).toBe('Bearer from-options');
    expect(requests[0]!.headers['x-trace']).toBe('b');
  });

  it('uses the fetch it is given', async () => {
    const { url } = await serve({ body: { data: { viewer } } });
    const seen: string[] = [];
    const client = createTroupeClient({
      url,
      fetch: (input, init) => {
        seen.push(String(input));
        return fetch(input, init);
      },
    });
    await client.viewer();
    expect(seen).toEqual([`${url}/graphql`]);
  });

  it('accepts a parsed document that kept its source text', async () => {
    const { url, requests } = await serve({ body: { data: { viewer } } });
    const parsed = { kind: 'Document', loc: { source: { body: 'query V { viewer { kind } }' } } };
    await createTroupeClient({ url }).request(parsed as never);
    expect(requests[0]!.body.query).toBe('query V { viewer { kind } }');
  });

  it('rejects (not throws) with BAD_INPUT for a document without text, sending nothing', async () => {
    const { url, requests } = await serve({ body: { data: { viewer } } });
    const pending = createTroupeClient({ url }).request({ kind: 'Document', definitions: [] } as never);
    const error = await rejection(pending);
    expect(error.code).toBe('BAD_INPUT');
    expect(requests).toHaveLength(0);
  });

  it('requires a url', () => {
    expect(() => createTroupeClient({ url: '' })).toThrow(/url/);
  });
});

describe('errors', () => {
  it('maps 401 to UNAUTHENTICATED with the status and raw errors', async () => {
    const body = graphqlErrors('Missing or invalid API key', { code: 'UNAUTHENTICATED' });
    const { url } = await serve({ status: 401, body });
    const error = await rejection(createTroupeClient({ url, apiKey: 'bad' }).viewer());
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe('TroupeError');
    expect(error.code).toBe('UNAUTHENTICATED');
    expect(error.status).toBe(401);
    expect(error.message).toBe('Missing or invalid API key');
    expect(error.errors).toEqual(body.errors);
  });

  it('maps 403 to FORBIDDEN', async () => {
    const { url } = await serve({
      status: 403,
      body: graphqlErrors('Needs scope WRITE', { code: 'FORBIDDEN' }),
    });
    const error = await rejection(createTroupeClient({ url }).crews.delete('Q3Jldzox'));
    expect(error.code).toBe('FORBIDDEN');
    expect(error.status).toBe(403);
  });

  it.each(['GRAPHQL_PARSE_FAILED', 'GRAPHQL_VALIDATION_FAILED'])(
    'maps a 400 %s response to BAD_INPUT',
    async (code) => {
      const { url } = await serve({
        status: 400,
        body: { errors: [{ message: 'Syntax Error', extensions: { code } }] },
      });
      const error = await rejection(createTroupeClient({ url }).request('query { crews {'));
      expect(error.code).toBe('BAD_INPUT');
      expect(error.status).toBe(400);
      expect(error.message).toBe('Syntax Error');
    },
  );

  it('reports the rejected field of BAD_INPUT', async () => {
    const { url } = await serve({
      body: graphqlErrors('name must not be empty', { code: 'BAD_INPUT', field: 'input.name' }),
    });
    const error = await rejection(
      createTroupeClient({ url }).crews.create({ name: '', agents: [], tasks: [] }),
    );
    expect(error.code).toBe('BAD_INPUT');
    expect(error.field).toBe('input.name');
    expect(error.status).toBe(200);
  });

  it('maps NOT_FOUND', async () => {
    const { url } = await serve({ body: graphqlErrors('Crew not found', { code: 'NOT_FOUND' }) });
    const error = await rejection(createTroupeClient({ url }).crews.delete('Q3Jldzox'));
    expect(error.code).toBe('NOT_FOUND');
    expect(error.field).toBeUndefined();
  });

  it('maps a masked INTERNAL_SERVER_ERROR to INTERNAL', async () => {
    const { url } = await serve({
      body: graphqlErrors('Unexpected error.', { code: 'INTERNAL_SERVER_ERROR' }),
    });
    const error = await rejection(createTroupeClient({ url }).viewer());
    expect(error.code).toBe('INTERNAL');
    expect(error.message).toBe('Unexpected error.');
  });

  it.each([
    ['RATE_LIMITED', 429],
    ['CONFLICT', 409],
  ] as const)('maps %s', async (code, status) => {
    const { url } = await serve({ status, body: graphqlErrors('No', { code }) });
    expect((await rejection(createTroupeClient({ url }).viewer())).code).toBe(code);
  });

  it('derives the code from the HTTP status when the body is not GraphQL', async () => {
    const { url, requests } = await serve({
      status: 502,
      headers: { 'content-type': 'text/html' },
      body: '<html>Bad Gateway</html>',
    });
    const error = await rejection(createTroupeClient({ url, retry: false }).viewer());
    expect(error.code).toBe('UNAVAILABLE');
    expect(error.status).toBe(502);
    expect(error.errors).toEqual([]);
    expect(requests).toHaveLength(1);
  });
});

describe('retries', () => {
  it('retries a query after a 503 and returns the later success', async () => {
    const { url, requests } = await serve((index) =>
      index === 0
        ? { status: 503, headers: { 'content-type': 'text/plain' }, body: 'Service Unavailable' }
        : { body: { data: { viewer } } },
    );
    await expect(createTroupeClient({ url, retry: fastRetry }).viewer()).resolves.toEqual(viewer);
    expect(requests).toHaveLength(2);
  });

  it('retries a query after a network failure', async () => {
    const { url, requests } = await serve((index) =>
      index === 0 ? { destroy: true } : { body: { data: { viewer } } },
    );
    await expect(createTroupeClient({ url, retry: fastRetry }).viewer()).resolves.toEqual(viewer);
    expect(requests).toHaveLength(2);
  });

  it('gives up after the configured retries with UNAVAILABLE', async () => {
    const { url, requests } = await serve({
      status: 504,
      body: 'Gateway Timeout',
      headers: { 'content-type': 'text/plain' },
    });
    const error = await rejection(createTroupeClient({ url, retry: fastRetry }).viewer());
    expect(error.code).toBe('UNAVAILABLE');
    expect(error.status).toBe(504);
    expect(requests).toHaveLength(3);
  });

  it('never retries a mutation after a 503', async () => {
    const { url, requests } = await serve((index) =>
      index === 0
        ? { status: 503, headers: { 'content-type': 'text/plain' }, body: 'Service Unavailable' }
        : { body: { data: { deleteCrew: { deletedId: 'Q3Jldzox' } } } },
    );
    const error = await rejection(createTroupeClient({ url, retry: fastRetry }).crews.delete('Q3Jldzox'));
    expect(error.code).toBe('UNAVAILABLE');
    expect(error.status).toBe(503);
    expect(requests).toHaveLength(1);
  });

  it('never retries a mutation after a network failure', async () => {
    const { url, requests } = await serve({ destroy: true });
    const error = await rejection(
      createTroupeClient({ url, retry: fastRetry }).apiKeys.create({ name: 'ci', scopes: ['READ'] }),
    );
    expect(error.code).toBe('UNAVAILABLE');
    expect(error.status).toBeUndefined();
    expect(requests).toHaveLength(1);
  });

  it('does not retry errors other than UNAVAILABLE', async () => {
    const { url, requests } = await serve({
      body: graphqlErrors('Unexpected error.', { code: 'INTERNAL_SERVER_ERROR' }),
    });
    await rejection(createTroupeClient({ url, retry: fastRetry }).viewer());
    expect(requests).toHaveLength(1);
  });
});

describe('abort', () => {
  it('aborts an in-flight request and rejects with the abort reason', async () => {
    const { url, closed } = await serve({ hang: true });
    const controller = new AbortController();
    const pending = createTroupeClient({ url }).viewer({ signal: controller.signal });
    while (server!.requests.length === 0) await new Promise((r) => setTimeout(r, 5));
    controller.abort();
    const error = await pending.catch((e: unknown) => e);
    expect(isTroupeError(error)).toBe(false);
    expect((error as Error).name).toBe('AbortError');
    await closed;
  });

  it('stops retrying when aborted during the backoff', async () => {
    const { url, requests } = await serve({
      status: 503,
      body: 'busy',
      headers: { 'content-type': 'text/plain' },
    });
    const controller = new AbortController();
    const client = createTroupeClient({ url, retry: { retries: 5, minDelayMs: 10_000, maxDelayMs: 10_000 } });
    const pending = client.viewer({ signal: controller.signal });
    while (requests.length === 0) await new Promise((r) => setTimeout(r, 5));
    await new Promise((r) => setTimeout(r, 20));
    controller.abort();
    await expect(pending).rejects.toMatchObject({ name: 'AbortError' });
    expect(requests).toHaveLength(1);
  });
});
