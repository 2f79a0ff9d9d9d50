// @vitest-environment happy-dom
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createTroupeClient, isTroupeError, type UploadProgress } from '../src/index';
import { created, startUploadServer, type UploadReply, type UploadTestServer } from './upload-test-server';

// A browser-like environment: XMLHttpRequest exists, so uploads use it (cross-origin, with a preflight).
let server: UploadTestServer | undefined;
afterEach(async () => {
  vi.unstubAllGlobals();
  await server?.close();
  server = undefined;
});

async function serve(reply: (upload: Parameters<typeof created>[0]) => UploadReply = created) {
  server = await startUploadServer(reply);
  return server;
}

/**
 * happy-dom's XMLHttpRequest sends no upload progress events; browsers send some while the body
 * goes out. This one sends what a browser might: a repeated value, then growing ones.
 */
function withBrowserUploadProgress(steps: number[]) {
  const Native = globalThis.XMLHttpRequest;
  vi.stubGlobal(
    'XMLHttpRequest',
    class extends Native {
      override send(body?: Document | XMLHttpRequestBodyInit | null) {
        for (const loaded of steps) {
          this.upload.onprogress?.call(this, new ProgressEvent('progress', { loaded, total: loaded }));
        }
        super.send(body);
      }
    },
  );
}

describe('documents.upload with XMLHttpRequest', () => {
  it("passes the browser's upload progress on, never going down, ending at the size", async () => {
    withBrowserUploadProgress([0, 1000, 1000, 500, 200_000, 400_000]);
    const fetchSpy = vi.spyOn(globalThis, 'fetch');
    const { url, uploads } = await serve();
    const client = createTroupeClient({ url, apiKey: 'tk_write' });
    const size = 300 * 1024;
    const events: UploadProgress[] = [];

    const document = await client.documents.upload(new Uint8Array(size).fill(7), {
      name: 'a.txt',
      onProgress: (p) => events.push(p),
    });

    expect(document).toMatchObject({ name: 'a.txt', sizeBytes: size, status: 'PENDING' });
    expect(events).toEqual([
      { loaded: 0, total: size },
      { loaded: 1000, total: size },
      { loaded: 200_000, total: size },
      { loaded: size, total: size },
    ]);
    expect(fetchSpy).not.toHaveBeenCalled();
    expect(uploads[0]!.body.length).toBe(size);
    expect(uploads[0]!.headers.authorization).toBe('Bearer tk_write');
    expect(uploads[0]!.headers['content-type']).toBe('text/plain');
  });

  it('sends a File with its name and type, and reports the end when there are no progress events', async () => {
    const { url, uploads } = await serve();
    const client = createTroupeClient({ url });
    const events: UploadProgress[] = [];
    const file = new File(['# Otters\n\nThey hold hands.'], 'otters.md', { type: 'text/markdown' });

    const document = await client.documents.upload(file, {
      metadata: { lang: 'en' },
      onProgress: (p) => events.push(p),
    });

    expect(document).toMatchObject({ name: 'otters.md', mimeType: 'text/markdown', sizeBytes: file.size });
    expect(events).toEqual([{ loaded: file.size, total: file.size }]);
    expect(uploads[0]!.body.toString('utf8')).toBe('# Otters\n\nThey hold hands.');
    expect(uploads[0]!.headers['x-troupe-document-metadata']).toBe('{"lang":"en"}');
  });

  it('maps error answers and network failures to TroupeErrors', async () => {
    const { url } = await serve(() => ({
      status: 403,
      body: { error: { code: 'FORBIDDEN', message: 'Needs scope WRITE' } },
    }));
    const client = createTroupeClient({ url });
    const forbidden = await client.documents.upload('x', { name: 'a.txt' }).catch((e: unknown) => e);
    expect(isTroupeError(forbidden) && [forbidden.code, forbidden.status, forbidden.message]).toEqual([
      'FORBIDDEN',
      403,
      'Needs scope WRITE',
    ]);

    await server!.close();
    server = undefined;
    const unreachable = await client.documents.upload('x', { name: 'a.txt' }).catch((e: unknown) => e);
    expect(isTroupeError(unreachable) && unreachable.code).toBe('UNAVAILABLE');
  });

  it('an abort rejects with the signal reason', async () => {
    const { url } = await serve();
    const client = createTroupeClient({ url });
    const controller = new AbortController();
    const upload = client.documents.upload(new Uint8Array(1024 * 1024), {
      name: 'a.bin',
      signal: controller.signal,
    });
    setTimeout(() => controller.abort(), 0);
    const error = await upload.catch((e: unknown) => e);
    expect(error).toBe(controller.signal.reason);
    expect(error).toMatchObject({ name: 'AbortError' });
  });
});
