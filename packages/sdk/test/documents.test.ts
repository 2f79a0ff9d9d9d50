import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createTroupeClient,
  isTroupeError,
  type TroupeClient,
  type TroupeError,
  type UploadProgress,
} from '../src/index';
import { startTroupeTestServer, type TroupeTestServer } from './support/troupe-server';

// Documents against a real server (uploads over HTTP, processing, search), on both backends.
let server: TroupeTestServer;
let apiKey: string;

const OTTERS = [
  '# Sea otters',
  '',
  'Sea otters hold hands while they sleep so that they do not drift apart. A group of resting',
  'otters floating together is called a raft. Otters wrap themselves in kelp to stay in place.',
].join('\n');
const VOLCANOES = [
  '# Volcanoes',
  '',
  'A volcano erupts when magma rises through the crust. Lava flows, ash clouds and pyroclastic',
  'flows follow an eruption; basalt forms when the lava cools.',
].join('\n');

function client(token = apiKey): TroupeClient {
  return createTroupeClient({ url: server.url, apiKey: token });
}

async function rejection(promise: Promise<unknown>): Promise<TroupeError> {
  const error = await promise.then(
    () => {
      throw new Error('expected the call to fail');
    },
    (e: unknown) => e,
  );
  expect(isTroupeError(error)).toBe(true);
  return error as TroupeError;
}

beforeAll(async () => {
  server = await startTroupeTestServer();
  apiKey = await server.createTenant('sdk-documents');
}, 60_000);
afterAll(async () => {
  await server?.close();
});

describe('documents', () => {
  it('uploads a markdown file with progress, processes it and finds it by search', async () => {
    const troupe = client();
    // Large enough for several progress events (64 KB each).
    const filler = Array.from({ length: 3000 }, (_, i) => `Paragraph ${i} is about nothing in particular.`);
    const text = `${OTTERS}\n\n${filler.join('\n\n')}\n`;
    const size = new TextEncoder().encode(text).byteLength;
    const events: UploadProgress[] = [];

    const uploaded = await troupe.documents.upload(new Blob([text], { type: 'text/markdown' }), {
      name: 'otters.md',
      metadata: { source: 'test', note: 'Zürich ✓' },
      onProgress: (p) => events.push(p),
    });

    expect(uploaded).toMatchObject({ name: 'otters.md', mimeType: 'text/markdown', sizeBytes: size });
    expect(['PENDING', 'PROCESSING', 'READY']).toContain(uploaded.status);
    expect(events.length).toBeGreaterThan(1);
    for (let i = 1; i < events.length; i++) expect(events[i]!.loaded).toBeGreaterThan(events[i - 1]!.loaded);
    expect(events.at(-1)).toEqual({ loaded: size, total: size });

    const ready = await troupe.documents.waitUntilReady(uploaded.id, { timeoutMs: 20_000 });
    expect(ready).toMatchObject({
      id: uploaded.id,
      status: 'READY',
      progress: 1,
      metadata: { source: 'test', note: 'Zürich ✓' },
      error: null,
    });
    expect(ready.chunkCount).toBeGreaterThan(0);

    const volcanoes = await troupe.documents.create({
      name: 'volcanoes.md',
      content: VOLCANOES,
      mimeType: 'text/markdown',
    });
    await troupe.documents.waitUntilReady(volcanoes.id, { timeoutMs: 20_000 });

    const hits = await troupe.documents.search('otters holding hands while they sleep', { limit: 3 });
    expect(hits.length).toBeGreaterThan(0);
    expect(hits[0]!.document).toMatchObject({ id: uploaded.id, name: 'otters.md' });
    expect(hits[0]!.content).toContain('hold hands');
    for (let i = 1; i < hits.length; i++) expect(hits[i]!.score).toBeLessThanOrEqual(hits[i - 1]!.score);

    const lava = await troupe.documents.search('lava and magma eruption', { limit: 1 });
    expect(lava.map((h) => h.document.name)).toEqual(['volcanoes.md']);
    // Only the chunks of the documents asked for.
    const only = await troupe.documents.search('lava and magma eruption', { documentIds: [uploaded.id] });
    expect(only.every((h) => h.document.id === uploaded.id)).toBe(true);
  });

  it('creates from text, gets, lists newest first, filters by status and deletes', async () => {
    const troupe = client();
    const first = await troupe.documents.create({ name: 'a.txt', content: 'Alpha notes' });
    const second = await troupe.documents.create({
      name: 'b.txt',
      content: 'Beta notes',
      metadata: { n: 2 },
    });
    expect(second).toMatchObject({ name: 'b.txt', mimeType: 'text/plain', metadata: { n: 2 } });
    await troupe.documents.waitUntilReady(first.id);
    await troupe.documents.waitUntilReady(second.id);

    await expect(troupe.documents.get(first.id)).resolves.toMatchObject({ id: first.id, name: 'a.txt' });
    const page = await troupe.documents.list({ first: 2 });
    expect(page.nodes.map((d) => d.id)).toEqual([second.id, first.id]);
    const ready = await troupe.documents.list({ status: 'READY', first: 50 });
    expect(ready.nodes.every((d) => d.status === 'READY')).toBe(true);
    expect((await troupe.documents.list({ status: 'FAILED' })).nodes).toEqual([]);

    const again = await troupe.documents.reprocess(second.id);
    expect(again).toMatchObject({ id: second.id, status: 'PENDING', progress: 0, chunkCount: 0 });
    await expect(troupe.documents.waitUntilReady(second.id)).resolves.toMatchObject({
      status: 'READY',
      progress: 1,
    });

    await expect(troupe.documents.delete(first.id)).resolves.toEqual({ deletedId: first.id });
    await expect(troupe.documents.get(first.id)).resolves.toBeNull();
    expect((await troupe.documents.list({ first: 50 })).nodes.map((d) => d.id)).not.toContain(first.id);
    const hits = await troupe.documents.search('Alpha notes', { limit: 50 });
    expect(hits.map((h) => h.document.id)).not.toContain(first.id);
  });

  it('a session token sees its own uploads, not another end user’s', async () => {
    const troupe = client();
    const session = async (subject: string) =>
      client((await troupe.sessionTokens.create({ subject, scopes: ['READ', 'WRITE'] })).token);
    const alice = await session('alice');
    const bob = await session('bob');

    const mine = await alice.documents.upload('Alice keeps her garden notes about tomatoes here.', {
      name: 'garden.txt',
    });
    const ready = await alice.documents.waitUntilReady(mine.id);
    expect(ready.subject).toBe('alice');

    expect((await alice.documents.list({ first: 50 })).nodes.map((d) => d.id)).toContain(mine.id);
    expect((await bob.documents.list({ first: 50 })).nodes.map((d) => d.id)).not.toContain(mine.id);
    await expect(bob.documents.get(mine.id)).resolves.toBeNull();
    const bobHits = await bob.documents.search('garden notes about tomatoes', { limit: 50 });
    expect(bobHits.map((h) => h.document.id)).not.toContain(mine.id);
    const aliceHits = await alice.documents.search('garden notes about tomatoes', { limit: 1 });
    expect(aliceHits[0]?.document.id).toBe(mine.id);
    // The tenant's API key sees every end user's documents.
    expect((await troupe.documents.list({ first: 50 })).nodes.map((d) => d.id)).toContain(mine.id);
    // What the API key adds is shared with every end user.
    const shared = await troupe.documents.create({ name: 'handbook.txt', content: 'Shared handbook' });
    await expect(bob.documents.get(shared.id)).resolves.toMatchObject({ id: shared.id, subject: null });
  });

  it('a read-only API key or session token may not upload (FORBIDDEN)', async () => {
    const { secret } = await client().apiKeys.create({ name: 'reader', scopes: ['READ'] });
    const reader = client(secret);
    const error = await rejection(reader.documents.upload('x', { name: 'a.txt' }));
    expect(error).toMatchObject({ code: 'FORBIDDEN', status: 403 });
    await rejection(reader.documents.create({ name: 'a.txt', content: 'x' })).then((e) =>
      expect(e.code).toBe('FORBIDDEN'),
    );
    // Reading is allowed.
    await expect(reader.documents.list()).resolves.toMatchObject({ nodes: expect.any(Array) });
    // So may a session token with the default scope (READ).
    const viewer = client((await client().sessionTokens.create({ subject: 'carol' })).token);
    await expect(rejection(viewer.documents.upload('x', { name: 'a.txt' }))).resolves.toMatchObject({
      code: 'FORBIDDEN',
      status: 403,
    });
  });

  it('rejects an unsupported type with BAD_INPUT, and a bad key with UNAUTHENTICATED', async () => {
    const error = await rejection(
      client().documents.upload(new Uint8Array([0x89, 0x50, 0x4e, 0x47]), {
        name: 'logo.png',
        mimeType: 'image/png',
      }),
    );
    expect(error).toMatchObject({ code: 'BAD_INPUT', status: 415 });
    expect(error.message).toMatch(/image\/png/);

    const unknown = await rejection(client('trpk_unknown').documents.upload('x', { name: 'a.txt' }));
    expect(unknown).toMatchObject({ code: 'UNAUTHENTICATED', status: 401 });
  });
});
