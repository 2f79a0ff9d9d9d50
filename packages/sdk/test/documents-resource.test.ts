import { afterEach, describe, expect, it } from 'vitest';
import { createTroupeClient, type Document, isTroupeError } from '../src/index';
import {
  graphqlErrors,
  type ReceivedRequest,
  type Reply,
  startTestServer,
  type TestServer,
} from './graphql-test-server';

// How waitUntilReady() follows a document's processing, with a stand-in server that plays the
// states (a real server's FAILED needs a file its parser rejects; see documents.test.ts for the rest).
let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

function doc(status: Document['status'], extra: Partial<Document> = {}): Document {
  return {
    id: 'RG9jdW1lbnQ6MQ==',
    name: 'otters.md',
    mimeType: 'text/markdown',
    sizeBytes: 120,
    status,
    error: null,
    metadata: {},
    chunkCount: status === 'READY' ? 2 : 0,
    progress: status === 'READY' ? 1 : 0,
    embeddingModel: null,
    subject: null,
    createdAt: '2026-11-22T00:00:00.000Z',
    updatedAt: '2026-11-22T00:00:00.000Z',
    ...extra,
  };
}

async function serve(reply: (request: ReceivedRequest, index: number) => Reply) {
  server = await startTestServer(reply);
  return { client: createTroupeClient({ url: server.url, apiKey: 'tk_key' }), requests: server.requests };
}

describe('documents.waitUntilReady', () => {
  it('looks again every intervalMs until the document is READY', async () => {
    const states = [doc('PENDING'), doc('PROCESSING', { progress: 0.5 }), doc('READY')];
    const { client, requests } = await serve((_r, i) => ({ body: { data: { document: states[i] } } }));
    const started = Date.now();
    const ready = await client.documents.waitUntilReady('RG9jdW1lbnQ6MQ==', { intervalMs: 40 });
    expect(ready).toEqual(states[2]);
    expect(requests.map((r) => r.body.operationName)).toEqual(['Document', 'Document', 'Document']);
    expect(requests[0]!.body.variables).toEqual({ id: 'RG9jdW1lbnQ6MQ==' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(80);
  });

  it('rejects with BAD_INPUT and the reason when processing FAILED', async () => {
    const failed = doc('FAILED', { error: 'The PDF has no text layer' });
    const { client } = await serve(() => ({ body: { data: { document: failed } } }));
    const error = await client.documents.waitUntilReady(failed.id).catch((e: unknown) => e);
    expect(isTroupeError(error) && [error.code, error.message]).toEqual([
      'BAD_INPUT',
      'The PDF has no text layer',
    ]);
  });

  it('rejects with NOT_FOUND for a document this caller cannot see', async () => {
    const { client } = await serve(() => ({
      body: graphqlErrors('No document RG9j', { code: 'NOT_FOUND' }),
    }));
    const error = await client.documents.waitUntilReady('RG9j').catch((e: unknown) => e);
    expect(isTroupeError(error) && error.code).toBe('NOT_FOUND');
  });

  it('gives up after timeoutMs with UNAVAILABLE', async () => {
    const { client, requests } = await serve(() => ({ body: { data: { document: doc('PROCESSING') } } }));
    const started = Date.now();
    const error = await client.documents
      .waitUntilReady('RG9jdW1lbnQ6MQ==', { intervalMs: 30, timeoutMs: 100 })
      .catch((e: unknown) => e);
    expect(isTroupeError(error) && error.code).toBe('UNAVAILABLE');
    expect((error as Error).message).toMatch(/not ready after 100 ms \(PROCESSING\)/);
    expect(Date.now() - started).toBeLessThan(1000);
    expect(requests.length).toBeGreaterThanOrEqual(3);
  });

  it('stops when the signal aborts, with its reason', async () => {
    const { client, requests } = await serve(() => ({ body: { data: { document: doc('PENDING') } } }));
    const controller = new AbortController();
    const waiting = client.documents.waitUntilReady('RG9jdW1lbnQ6MQ==', {
      intervalMs: 10_000,
      signal: controller.signal,
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    controller.abort();
    await expect(waiting.catch((e: unknown) => e)).resolves.toBe(controller.signal.reason);
    expect(requests).toHaveLength(1);
  });
});
