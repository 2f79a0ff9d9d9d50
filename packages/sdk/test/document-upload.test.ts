import { afterEach, describe, expect, it, vi } from 'vitest';
import { createTroupeClient, isTroupeError, type TroupeError, type UploadProgress } from '../src/index';
import { created, startUploadServer, type UploadReply, type UploadTestServer } from './upload-test-server';

// Node has no XMLHttpRequest: uploads go through fetch, streaming the body (undici, `duplex: 'half'`).
let server: UploadTestServer | undefined;
afterEach(async () => {
  vi.unstubAllGlobals();
  await server?.close();
  server = undefined;
});

async function serve(
  reply: (upload: Parameters<typeof created>[0]) => UploadReply = created,
  stallMs?: number,
) {
  server = await startUploadServer(reply, stallMs ? { stallMs } : {});
  return server;
}

async function rejection(promise: Promise<unknown>): Promise<TroupeError> {
  const error = await promise.then(
    () => {
      throw new Error('expected the upload to fail');
    },
    (e: unknown) => e,
  );
  expect(isTroupeError(error)).toBe(true);
  return error as TroupeError;
}

function expectMonotonic(events: UploadProgress[], size: number) {
  expect(events.length).toBeGreaterThan(0);
  for (let i = 1; i < events.length; i++) expect(events[i]!.loaded).toBeGreaterThan(events[i - 1]!.loaded);
  for (const event of events) expect(event.total).toBe(size);
  expect(events.at(-1)).toEqual({ loaded: size, total: size });
}

describe('documents.upload over fetch', () => {
  it('streams the raw body to POST /documents and reports progress as it is sent', async () => {
    const { url, uploads } = await serve(created, 300);
    const size = 16 * 1024 * 1024;
    const bytes = new Uint8Array(size).map((_, i) => i % 251);
    const events: UploadProgress[] = [];
    const client = createTroupeClient({ url: `${url}/graphql`, getToken: () => 'st_session' });
    // While the server stalls, only what fits into the socket's buffers has been sent.
    let loadedDuringStall = -1;
    const probe = setTimeout(() => {
      loadedDuringStall = events.at(-1)?.loaded ?? 0;
    }, 150);

    const document = await client.documents.upload(bytes, {
      name: 'data.bin',
      mimeType: 'application/pdf',
      onProgress: (p) => events.push(p),
    });
    clearTimeout(probe);

    expect(document).toEqual({
      id: 'RG9jdW1lbnQ6MQ==',
      name: 'data.bin',
      mimeType: 'application/pdf',
      sizeBytes: size,
      status: 'PENDING',
      createdAt: '2026-11-22T00:00:00.000Z',
    });
    expectMonotonic(events, size);
    expect(events.length).toBe(size / (64 * 1024));
    expect(loadedDuringStall).toBeGreaterThan(0);
    expect(loadedDuringStall).toBeLessThan(size);

    expect(uploads).toHaveLength(1);
    const [upload] = uploads;
    expect(upload!.method).toBe('POST');
    expect(upload!.path).toBe('/documents');
    expect(upload!.headers.authorization).toBe('Bearer st_session');
    expect(upload!.headers['content-type']).toBe('application/pdf');
    expect(upload!.headers['transfer-encoding']).toBe('chunked');
    expect(upload!.body.equals(Buffer.from(bytes))).toBe(true);
  });

  it('sends the name encoded and the metadata as JSON, with the client headers', async () => {
    const { url, uploads } = await serve();
    const client = createTroupeClient({ url, apiKey: 'tk_write', headers: { 'x-app': 'docs' } });
    const metadata = { source: 'Zürich notes ✓', tags: ['a', 'b'], n: 1 };

    const document = await client.documents.upload('# Hello\n', {
      name: 'Über uns (v2).md',
      mimeType: 'text/markdown',
      metadata,
      headers: { 'x-request-id': 'r1' },
    });

    expect(document.name).toBe('Über uns (v2).md');
    const { headers, body } = uploads[0]!;
    expect(headers['x-troupe-document-name']).toBe(encodeURIComponent('Über uns (v2).md'));
    expect(JSON.parse(String(headers['x-troupe-document-metadata']))).toEqual(metadata);
    expect(headers['x-app']).toBe('docs');
    expect(headers['x-request-id']).toBe('r1');
    expect(headers.authorization).toBe('Bearer tk_write');
    expect(body.toString('utf8')).toBe('# Hello\n');
  });

  it.each([
    ['text', 'notes', {}, 'text/plain'],
    ['a typed Blob', new Blob(['a,b'], { type: 'text/csv' }), { name: 'x.bin' }, 'text/csv'],
    ['an untyped Blob named .md', new Blob(['# x']), { name: 'README.md' }, 'text/markdown'],
    ['bytes of an unknown kind', new Uint8Array([1, 2]).buffer, { name: 'blob' }, 'application/octet-stream'],
  ] as const)('sends %s with the right content type', async (_what, data, options, type) => {
    const { url, uploads } = await serve();
    const client = createTroupeClient({ url });
    await client.documents.upload(data, { name: 'notes.txt', ...options });
    expect(uploads[0]!.headers['content-type']).toBe(type);
  });

  it("takes a File's name and type and streams the Blob", async () => {
    const { url, uploads } = await serve();
    const client = createTroupeClient({ url });
    const text = 'x'.repeat(200 * 1024);
    const events: UploadProgress[] = [];
    const document = await client.documents.upload(new File([text], 'big.md', { type: 'text/markdown' }), {
      onProgress: (p) => events.push(p),
    });
    expect(document).toMatchObject({ name: 'big.md', mimeType: 'text/markdown', sizeBytes: text.length });
    expect(uploads[0]!.body.toString('utf8')).toBe(text);
    expect(events.map((e) => e.loaded)).toEqual([65536, 131072, 196608, 204800]);
  });

  it('needs a name unless the data is a File, and sends nothing without one', async () => {
    const { url, uploads } = await serve();
    const client = createTroupeClient({ url });
    const error = await rejection(client.documents.upload('text only'));
    expect(error).toMatchObject({ code: 'BAD_INPUT', field: 'name' });
    expect(error.message).toMatch(/`name` is required/);
    expect(uploads).toHaveLength(0);
  });

  it('reports one event once the server has the body where fetch cannot stream request bodies', async () => {
    // Runtimes without request streams reject a ReadableStream body in `new Request()`.
    const NativeRequest = globalThis.Request;
    vi.stubGlobal(
      'Request',
      class extends NativeRequest {
        constructor(input: RequestInfo | URL, init?: RequestInit) {
          if (init?.body instanceof ReadableStream) throw new TypeError('request streams are not supported');
          super(input, init);
        }
      },
    );
    const { url, uploads } = await serve();
    const client = createTroupeClient({ url });
    const events: UploadProgress[] = [];
    const size = 300 * 1024;
    await client.documents.upload(new Uint8Array(size), { name: 'a.txt', onProgress: (p) => events.push(p) });
    expect(events).toEqual([{ loaded: size, total: size }]);
    expect(uploads[0]!.headers['content-length']).toBe(String(size));
  });

  it("uses the client's fetch option", async () => {
    const { url, uploads } = await serve();
    const calls: string[] = [];
    const client = createTroupeClient({
      url,
      fetch: (input, init) => {
        calls.push(String(input));
        return fetch(input, init);
      },
    });
    await client.documents.upload('x', { name: 'a.txt' });
    expect(calls).toEqual([`${url}/documents`]);
    expect(uploads).toHaveLength(1);
  });
});

describe('documents.upload errors', () => {
  it.each([
    [
      415,
      { error: { code: 'BAD_INPUT', message: 'Unsupported type image/png' } },
      'BAD_INPUT',
      'Unsupported type image/png',
    ],
    [403, { error: { code: 'FORBIDDEN', message: 'Needs scope WRITE' } }, 'FORBIDDEN', 'Needs scope WRITE'],
    [401, { error: { code: 'UNAUTHENTICATED', message: 'Unknown key' } }, 'UNAUTHENTICATED', 'Unknown key'],
    [
      413,
      '<html>Request Entity Too Large</html>',
      'BAD_INPUT',
      'The server answered HTTP 413 without a document',
    ],
    [500, { error: { code: 'SOMETHING_NEW', message: 'boom' } }, 'INTERNAL', 'boom'],
    [502, 'Bad Gateway', 'UNAVAILABLE', 'The server answered HTTP 502 without a document'],
  ] as const)('maps HTTP %i to a TroupeError', async (status, body, code, message) => {
    const { url } = await serve(() => ({ status, body }));
    const client = createTroupeClient({ url });
    const error = await rejection(client.documents.upload('x', { name: 'a.txt' }));
    expect(error).toMatchObject({ code, status, message });
  });

  it('is not retried when the server is unavailable', async () => {
    const { url, uploads } = await serve(() => ({
      status: 503,
      body: { error: { code: 'UNAVAILABLE', message: 'Shutting down' } },
    }));
    const client = createTroupeClient({ url, retry: { retries: 3, minDelayMs: 1, maxDelayMs: 1 } });
    const error = await rejection(client.documents.upload('x', { name: 'a.txt' }));
    expect(error).toMatchObject({ code: 'UNAVAILABLE', status: 503, message: 'Shutting down' });
    expect(uploads).toHaveLength(1);
  });

  it('reports an unreachable server as UNAVAILABLE', async () => {
    const { url } = await serve();
    await server!.close();
    server = undefined;
    const client = createTroupeClient({ url });
    const error = await rejection(client.documents.upload('x', { name: 'a.txt' }));
    expect(error.code).toBe('UNAVAILABLE');
    expect(error.message).toBe(`Could not reach ${url}/documents`);
  });

  it('an abort stops the upload and rejects with the signal reason', async () => {
    const { url, uploads, aborted } = await serve(created, 300);
    const client = createTroupeClient({ url });
    const controller = new AbortController();
    const upload = client.documents.upload(new Uint8Array(16 * 1024 * 1024), {
      name: 'a.bin',
      signal: controller.signal,
      // Part of the body is on its way when the upload is aborted.
      onProgress: (p) => {
        if (p.loaded >= 1024 * 1024) controller.abort();
      },
    });
    await expect(upload).rejects.toMatchObject({ name: 'AbortError' });
    // The stalled server notices the closed connection once it reads again.
    await vi.waitFor(() => expect(aborted()).toBe(1), { timeout: 3000 });
    expect(uploads).toHaveLength(0);

    const already = AbortSignal.abort();
    await expect(client.documents.upload('x', { name: 'a.txt', signal: already })).rejects.toBe(
      already.reason,
    );
  });

  it('a progress callback that throws ends the upload with its error', async () => {
    const { url } = await serve();
    const client = createTroupeClient({ url });
    const oops = new Error('render failed');
    await expect(
      client.documents.upload(new Uint8Array(1024 * 1024), {
        name: 'a.bin',
        onProgress: () => {
          throw oops;
        },
      }),
    ).rejects.toBe(oops);
  });
});
