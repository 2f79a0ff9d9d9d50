import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { parseGlobalId } from '../src/graphql/global-id.js';
import { startTestServer, type TestServer } from './support/backend.js';
import { createTenant, gql, gqlOk } from './support/graphql-client.js';
import { makePdf } from './support/pdf.js';

const MAX_BYTES = 200_000;
let server: TestServer;
let tenantA: string;
let key: string;
let readOnlyKey: string;
let otherKey: string;

const DOC_FIELDS =
  'id name mimeType sizeBytes status error metadata chunkCount progress embeddingModel subject';
const CREATE_DOCUMENT = `mutation($input: CreateDocumentInput!) { createDocument(input: $input) { document { ${DOC_FIELDS} } } }`;
const DOCUMENT = `query($id: ID!) { document(id: $id) { ${DOC_FIELDS} } }`;
const SEARCH = `query($input: SearchDocumentsInput!) { searchDocuments(input: $input) { score content chunkIndex document { id name } } }`;

const REFUNDS = `# Refund policy

Customers can return damaged goods within 30 days of delivery. A refund for damaged goods is paid to the original payment method within 14 days of the return being received.

Opened software cannot be refunded unless it is faulty.`;

const SHIPPING = `# Shipping

Orders ship from our warehouse in Rotterdam. Standard delivery takes three to five working days; express delivery arrives the next working day when ordered before noon.

International parcels may be held at customs.`;

interface Upload {
  status: number;
  body: any;
}

async function upload(
  bytes: Uint8Array | string,
  opts: { name?: string; type?: string; token?: string; metadata?: string; chunked?: boolean } = {},
): Promise<Upload> {
  const body = typeof bytes === 'string' ? new TextEncoder().encode(bytes) : bytes;
  const headers: Record<string, string> = {};
  if (opts.token !== '') headers.authorization = `Bearer ${opts.token ?? key}`;
  if (opts.type !== '') headers['content-type'] = opts.type ?? 'text/markdown';
  if (opts.name !== '') headers['x-troupe-document-name'] = encodeURIComponent(opts.name ?? 'notes.md');
  if (opts.metadata !== undefined) headers['x-troupe-document-metadata'] = opts.metadata;
  const res = await fetch(`${server.url}/documents`, {
    method: 'POST',
    headers,
    body: opts.chunked
      ? new ReadableStream({
          start(c) {
            c.enqueue(body);
            c.close();
          },
        })
      : body,
    ...(opts.chunked ? { duplex: 'half' } : {}),
  } as RequestInit);
  return { status: res.status, body: await res.json() };
}

/** Processes what is pending, then reads the document. */
async function settled(id: string, token = key) {
  await server.documents!.drain();
  return (await gqlOk(server.url, DOCUMENT, { id }, token)).document;
}

beforeAll(async () => {
  server = await startTestServer({
    env: { TROUPE_DOCUMENT_MAX_BYTES: String(MAX_BYTES) },
    documents: { pollMs: 60_000, batchSize: 4 },
  });
  const a = await createTenant(server.url, server.admin, 'docs-a');
  key = a.key;
  tenantA = parseGlobalId('id', a.tenant.id, 'Tenant');
  ({ key: otherKey } = await createTenant(server.url, server.admin, 'docs-b'));
  const ro = await gqlOk(
    server.url,
    'mutation { createApiKey(input: { name: "reader", scopes: [READ] }) { secret } }',
    {},
    key,
  );
  readOnlyKey = ro.createApiKey.secret;
});
afterAll(async () => {
  await server?.closeAll();
});

/**
 * The local embedder for ingest loops driven by hand, wrapped: `before` hears each call before it
 * is answered (and may hold it), `after` once it was.
 */
async function localEmbedder(hooks: {
  before?: (texts: string[]) => unknown;
  after?: (texts: string[]) => void;
}) {
  const rt = await (await import('../src/runs/execute-run.js')).loadRuntime();
  const base = rt.createEmbedder({ provider: 'local' });
  return async () => ({
    model: base.model,
    async embed(texts: string[], o?: { signal?: AbortSignal }) {
      await hooks.before?.(texts);
      const result = await base.embed(texts, o);
      hooks.after?.(texts);
      return result;
    },
  });
}

describe('adding documents', () => {
  test('an upload is stored PENDING at once and becomes READY, split into chunks with progress 1', async () => {
    const up = await upload(REFUNDS, { name: 'Refund policy.md', metadata: '{"team":"support"}' });
    expect(up.status).toBe(201);
    expect(up.body.document).toMatchObject({
      name: 'Refund policy.md',
      mimeType: 'text/markdown',
      sizeBytes: new TextEncoder().encode(REFUNDS).length,
      status: 'PENDING',
    });
    const doc = await settled(up.body.document.id);
    expect(doc).toMatchObject({
      status: 'READY',
      error: null,
      progress: 1,
      embeddingModel: 'local:hash-512',
      metadata: { team: 'support' },
      subject: null,
    });
    expect(doc.chunkCount).toBeGreaterThan(0);
  });

  test('createDocument adds text through GraphQL; a long text is embedded in batches and progress moves', async () => {
    const paragraphs = Array.from(
      { length: 60 },
      (_, i) => `Paragraph ${i} about topic ${i % 7}: ${'lorem ipsum dolor sit amet '.repeat(20)}`,
    );
    const created = await gqlOk(
      server.url,
      CREATE_DOCUMENT,
      { input: { name: 'long.txt', content: paragraphs.join('\n\n') } },
      key,
    );
    const id = created.createDocument.document.id;
    expect(created.createDocument.document).toMatchObject({
      status: 'PENDING',
      progress: 0,
      mimeType: 'text/plain',
    });
    const doc = await settled(id);
    expect(doc.status).toBe('READY');
    // batchSize 4: many batches, each stored with its progress.
    expect(doc.chunkCount).toBeGreaterThan(8);
  });

  test('HTML is read as text without tags, scripts or styles; JSON is searchable by its values', async () => {
    const html = await upload(
      '<html><head><style>p{color:red}</style><script>alert("x")</script></head><body><h1>Warranty</h1><p>Every kettle has a two&nbsp;year warranty &amp; free repairs.</p></body></html>',
      { name: 'warranty.html', type: 'text/html; charset=utf-8' },
    );
    expect(html.status).toBe(201);
    const json = await upload(JSON.stringify({ product: 'toaster', voltage: '230V', colour: 'graphite' }), {
      name: 'toaster.json',
      type: 'application/json',
    });
    expect(json.status).toBe(201);
    expect((await settled(html.body.document.id)).status).toBe('READY');
    expect((await settled(json.body.document.id)).status).toBe('READY');
    const hits = (
      await gqlOk(
        server.url,
        SEARCH,
        { input: { query: 'kettle warranty repairs', documentIds: [html.body.document.id] } },
        key,
      )
    ).searchDocuments;
    expect(hits[0].content).toContain('two year warranty & free repairs');
    expect(hits[0].content).not.toMatch(/alert|color:red|<p>/);
    const toaster = (await gqlOk(server.url, SEARCH, { input: { query: 'graphite toaster', limit: 1 } }, key))
      .searchDocuments;
    expect(toaster[0].document.name).toBe('toaster.json');
  });

  test('a PDF is uploaded as a file and its text layer becomes searchable', async () => {
    const pdf = makePdf([
      'Travel expenses are reimbursed within ten working days.',
      'Receipts must be attached to every expense claim.',
    ]);
    const up = await upload(pdf, { name: 'expenses.pdf', type: 'application/pdf' });
    expect(up.status).toBe(201);
    const doc = await settled(up.body.document.id);
    expect(doc).toMatchObject({ status: 'READY', mimeType: 'application/pdf', sizeBytes: pdf.length });
    const hits = (
      await gqlOk(server.url, SEARCH, { input: { query: 'expense receipts reimbursed', limit: 1 } }, key)
    ).searchDocuments;
    expect(hits[0].document.name).toBe('expenses.pdf');
    expect(hits[0].content).toContain('Receipts must be attached');
  });

  test('a broken PDF is accepted (its header is right) and then FAILED with the reason', async () => {
    const up = await upload('%PDF-1.7\nthis is not really a PDF body', {
      name: 'broken.pdf',
      type: 'application/pdf',
    });
    expect(up.status).toBe(201);
    const doc = await settled(up.body.document.id);
    expect(doc.status).toBe('FAILED');
    expect(doc.error).toMatch(/PDF/);
    expect(doc.progress).toBe(0);
  });

  test('a chunked upload (no Content-Length) is counted as it arrives', async () => {
    const ok = await upload('short chunked note about parking permits', {
      name: 'parking.txt',
      type: 'text/plain',
      chunked: true,
    });
    expect(ok.status).toBe(201);
    const tooBig = await upload('x'.repeat(MAX_BYTES + 1), { type: 'text/plain', chunked: true });
    expect(tooBig.status).toBe(413);
    expect(tooBig.body.error.code).toBe('BAD_INPUT');
  });
});

describe('bad uploads are refused with a clear error, and nothing is stored', () => {
  test.each([
    ['no credentials', { token: '' }, 401, 'UNAUTHENTICATED', /Authorization/],
    ['a read-only key', { tokenFrom: 'readOnly' }, 403, 'FORBIDDEN', /write scope/],
    [
      'an unsupported type',
      { type: 'application/zip' },
      415,
      'BAD_INPUT',
      /unsupported type "application\/zip"/,
    ],
    ['no name', { name: '' }, 400, 'BAD_INPUT', /X-Troupe-Document-Name: required/],
    ['metadata that is not a JSON object', { metadata: '[1,2]' }, 400, 'BAD_INPUT', /must be a JSON object/],
    [
      'bytes that are not UTF-8 text',
      { bytes: new Uint8Array([0x66, 0xff, 0xfe, 0x41]) },
      400,
      'BAD_INPUT',
      /not valid UTF-8/,
    ],
    ['an empty file', { bytes: new Uint8Array() }, 400, 'BAD_INPUT', /empty/],
    ['a "PDF" that is not one', { bytes: 'hello', type: 'application/pdf' }, 400, 'BAD_INPUT', /not a PDF/],
    [
      'a file over the limit',
      { bytes: 'y'.repeat(MAX_BYTES + 1) },
      413,
      'BAD_INPUT',
      /too large: at most 200000 bytes/,
    ],
  ] as const)('%s', async (_what, o: any, status, code, message) => {
    const before = (await gqlOk(server.url, '{ documents(first: 100) { edges { node { id } } } }', {}, key))
      .documents.edges.length;
    const res = await upload(o.bytes ?? 'some text', {
      ...o,
      ...(o.tokenFrom === 'readOnly' ? { token: readOnlyKey } : {}),
    });
    expect(res.status).toBe(status);
    expect(res.body.error.code).toBe(code);
    expect(res.body.error.message).toMatch(message);
    const after = (await gqlOk(server.url, '{ documents(first: 100) { edges { node { id } } } }', {}, key))
      .documents.edges.length;
    expect(after).toBe(before);
  });

  test('createDocument names the field at fault', async () => {
    const r = await gql(server.url, CREATE_DOCUMENT, { input: { name: '  ', content: 'x' } }, key);
    expect(r.errors?.[0]?.extensions?.code).toBe('BAD_INPUT');
    expect(r.errors?.[0]?.extensions?.field).toBe('input.name');
    const t = await gql(
      server.url,
      CREATE_DOCUMENT,
      { input: { name: 'a', content: 'x', mimeType: 'image/png' } },
      key,
    );
    expect(t.errors?.[0]?.extensions?.field).toBe('input.mimeType');
  });
});

describe('search', () => {
  let refundsId: string;
  let shippingId: string;
  beforeAll(async () => {
    refundsId = (await upload(REFUNDS, { name: 'refunds.md' })).body.document.id;
    shippingId = (await upload(SHIPPING, { name: 'shipping.md' })).body.document.id;
    await settled(refundsId);
  });

  test('the passage that answers the question comes first, scores best first', async () => {
    const hits = (
      await gqlOk(
        server.url,
        SEARCH,
        { input: { query: 'refund for damaged goods', documentIds: [refundsId, shippingId] } },
        key,
      )
    ).searchDocuments;
    expect(hits.length).toBeGreaterThan(0);
    expect(hits[0].document.id).toBe(refundsId);
    expect(hits[0].content).toContain('damaged goods');
    const scores = hits.map((h: { score: number }) => h.score);
    expect([...scores].sort((a, b) => b - a)).toEqual(scores);
    const shipping = (
      await gqlOk(
        server.url,
        SEARCH,
        {
          input: {
            query: 'how long does express delivery take',
            documentIds: [refundsId, shippingId],
            limit: 1,
          },
        },
        key,
      )
    ).searchDocuments;
    expect(shipping[0].document.id).toBe(shippingId);
  });

  test('limit, minScore, documentIds and metadata narrow the hits; bad input is BAD_INPUT', async () => {
    const one = (await gqlOk(server.url, SEARCH, { input: { query: 'delivery', limit: 1 } }, key))
      .searchDocuments;
    expect(one).toHaveLength(1);
    const strict = (
      await gqlOk(server.url, SEARCH, { input: { query: 'refund damaged goods', minScore: 0.99 } }, key)
    ).searchDocuments;
    expect(strict).toEqual([]);
    const onlyShipping = (
      await gqlOk(
        server.url,
        SEARCH,
        { input: { query: 'refund damaged goods', documentIds: [shippingId] } },
        key,
      )
    ).searchDocuments;
    expect(onlyShipping.every((h: any) => h.document.id === shippingId)).toBe(true);
    const tagged = (
      await gqlOk(
        server.url,
        SEARCH,
        { input: { query: 'refund damaged goods', metadata: { team: 'support' } } },
        key,
      )
    ).searchDocuments;
    expect(tagged.length).toBeGreaterThan(0);
    expect(tagged.every((h: any) => h.document.name === 'Refund policy.md')).toBe(true);
    const none = (
      await gqlOk(
        server.url,
        SEARCH,
        { input: { query: 'refund damaged goods', metadata: { team: 'sales' } } },
        key,
      )
    ).searchDocuments;
    expect(none).toEqual([]);
    const notObject = await gql(server.url, SEARCH, { input: { query: 'x', metadata: [1] } }, key);
    expect(notObject.errors?.[0]?.extensions?.field).toBe('input.metadata');
    const bad = await gql(server.url, SEARCH, { input: { query: 'x', limit: 500 } }, key);
    expect(bad.errors?.[0]?.extensions?.field).toBe('input.limit');
    const empty = await gql(server.url, SEARCH, { input: { query: '   ' } }, key);
    expect(empty.errors?.[0]?.extensions?.field).toBe('input.query');
  });

  test('a deleted document is gone from search at once, with its chunks', async () => {
    const id = (
      await upload('The office cat is called Biscuit and likes sardines.', {
        name: 'cat.txt',
        type: 'text/plain',
      })
    ).body.document.id;
    await settled(id);
    const q = { input: { query: 'office cat sardines', limit: 1 } };
    expect((await gqlOk(server.url, SEARCH, q, key)).searchDocuments[0].document.id).toBe(id);
    const del = await gqlOk(
      server.url,
      'mutation($id: ID!) { deleteDocument(id: $id) { deletedId } }',
      { id },
      key,
    );
    expect(del.deleteDocument.deletedId).toBe(id);
    const after = (await gqlOk(server.url, SEARCH, q, key)).searchDocuments;
    expect(after.map((h: any) => h.document.id)).not.toContain(id);
    const gone = await gql(server.url, DOCUMENT, { id }, key);
    expect(gone.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
  });

  test('reprocessDocument splits and embeds a document again; it is searchable once READY', async () => {
    const r = await gqlOk(
      server.url,
      `mutation($id: ID!) { reprocessDocument(id: $id) { document { status progress chunkCount embeddingModel } } }`,
      { id: refundsId },
      key,
    );
    expect(r.reprocessDocument.document).toMatchObject({
      status: 'PENDING',
      progress: 0,
      chunkCount: 0,
      embeddingModel: null,
    });
    const q = { input: { query: 'refund for damaged goods', documentIds: [refundsId] } };
    expect((await settled(refundsId)).status).toBe('READY');
    expect((await gqlOk(server.url, SEARCH, q, key)).searchDocuments[0].content).toContain('damaged goods');
  });

  test('a read-only key can search and list but not add or delete', async () => {
    const hits = (await gqlOk(server.url, SEARCH, { input: { query: 'refund' } }, readOnlyKey))
      .searchDocuments;
    expect(hits.length).toBeGreaterThan(0);
    const del = await gql(
      server.url,
      'mutation($id: ID!) { deleteDocument(id: $id) { deletedId } }',
      { id: refundsId },
      readOnlyKey,
    );
    expect(del.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const add = await gql(server.url, CREATE_DOCUMENT, { input: { name: 'x', content: 'x' } }, readOnlyKey);
    expect(add.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  });
});

describe('awkward content', () => {
  test('NUL characters (as PDF text layers have) are dropped, not a failure after five attempts; in metadata, or JSON nested too deep, a clear BAD_INPUT', async () => {
    const withNul = await upload('Invoice\u0000 number 42\u0000 is due in May.', {
      name: 'nul.txt',
      type: 'text/plain',
    });
    expect(withNul.status).toBe(201);
    const doc = await settled(withNul.body.document.id);
    expect(doc.status).toBe('READY');
    const hits = (await gqlOk(server.url, SEARCH, { input: { query: 'invoice number 42 due May' } }, key))
      .searchDocuments;
    expect(hits.find((h: any) => h.document.id === doc.id)?.content).toBe('Invoice number 42 is due in May.');

    // A chunk of the same model name but another vector length (another server serving a model of
    // that name): skipped by searches, which pgvector had failed, every one of the tenant's.
    await server.database.withTenant(tenantA, (tx) =>
      tx.$executeRawUnsafe(
        `INSERT INTO "DocumentChunk" ("id", "tenantId", "documentId", "index", "content", "tokenCount", "embedding", "embeddingModel")
         SELECT 'odd-length-chunk', "tenantId", "documentId", 1000, 'odd', 1, ARRAY[1, 0, 0]::real[], "embeddingModel"
           FROM "DocumentChunk" WHERE "documentId" = $1 LIMIT 1`,
        parseGlobalId('id', doc.id, 'Document'),
      ),
    );
    const again = (
      await gqlOk(server.url, SEARCH, { input: { query: 'invoice number 42 due May', minScore: 0 } }, key)
    ).searchDocuments;
    expect(again.find((h: any) => h.document.id === doc.id)?.content).toBe(
      'Invoice number 42 is due in May.',
    );
    expect(again.map((h: any) => h.content)).not.toContain('odd');

    const badMeta = await gql(
      server.url,
      CREATE_DOCUMENT,
      { input: { name: 'm.txt', content: 'fine text', metadata: { tag: 'a\u0000b' } } },
      key,
    );
    expect(badMeta.errors?.[0]).toMatchObject({
      extensions: { code: 'BAD_INPUT', field: 'input.metadata' },
      message: expect.stringMatching(/NUL/),
    });
    // The six characters \u0000 as text are no NUL.
    await gqlOk(
      server.url,
      CREATE_DOCUMENT,
      { input: { name: 'escape.txt', content: 'fine text', metadata: { pattern: '\\u0000' } } },
      key,
    );
    const deep = `${'['.repeat(20_000)}${']'.repeat(20_000)}`;
    const tooDeep = await upload(deep, { name: 'deep.json', type: 'application/json' });
    expect(tooDeep.status).toBe(400);
    expect(JSON.stringify(tooDeep.body)).toMatch(/nested too deeply/);
  });
});

describe('isolation', () => {
  test("another tenant cannot read, search or delete a tenant's documents", async () => {
    const id = (
      await upload('Tenant A secret launch date is March 3rd.', { name: 'secret.txt', type: 'text/plain' })
    ).body.document.id;
    await settled(id);
    const read = await gql(server.url, DOCUMENT, { id }, otherKey);
    expect(read.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    const found = (
      await gqlOk(server.url, SEARCH, { input: { query: 'secret launch date March' } }, otherKey)
    ).searchDocuments;
    expect(found).toEqual([]);
    const del = await gql(
      server.url,
      'mutation($id: ID!) { deleteDocument(id: $id) { deletedId } }',
      { id },
      otherKey,
    );
    expect(del.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    const list = (
      await gqlOk(server.url, '{ documents(first: 100) { edges { node { id } } } }', {}, otherKey)
    ).documents;
    expect(list.edges).toEqual([]);
    // Still there for its owner.
    expect((await gqlOk(server.url, DOCUMENT, { id }, key)).document.status).toBe('READY');
  });

  test("a session token sees the tenant's shared documents and its own uploads, not another user's", async () => {
    const mint = (subject: string, extra = '') =>
      gqlOk(
        server.url,
        `mutation { createSessionToken(input: { subject: "${subject}"${extra} }) { token } }`,
        {},
        key,
      ).then((d) => d.createSessionToken.token as string);
    const alice = await mint('alice', ', scopes: [READ, WRITE]');
    const bob = await mint('bob', ', scopes: [READ, WRITE]');
    const mine = await upload('Alice private notes: the blue folder holds the tax forms.', {
      name: 'alice.txt',
      type: 'text/plain',
      token: alice,
    });
    expect(mine.status).toBe(201);
    const aliceDoc = await settled(mine.body.document.id, alice);
    expect(aliceDoc.subject).toBe('alice');
    const q = { input: { query: 'blue folder tax forms' } };
    expect((await gqlOk(server.url, SEARCH, q, alice)).searchDocuments[0].document.id).toBe(aliceDoc.id);
    expect(
      (await gqlOk(server.url, SEARCH, q, bob)).searchDocuments.map((h: any) => h.document.id),
    ).not.toContain(aliceDoc.id);
    expect((await gql(server.url, DOCUMENT, { id: aliceDoc.id }, bob)).errors?.[0]?.extensions?.code).toBe(
      'NOT_FOUND',
    );
    // Nor can Bob reprocess it (and read it back from the payload).
    const reprocessed = await gql(
      server.url,
      'mutation($id: ID!) { reprocessDocument(id: $id) { document { name subject } } }',
      { id: aliceDoc.id },
      bob,
    );
    expect(reprocessed.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    expect((await gqlOk(server.url, DOCUMENT, { id: aliceDoc.id }, alice)).document.status).toBe('READY');
    // Shared documents (uploaded with an API key) are visible to both; the API key sees Alice's too.
    expect(
      (await gqlOk(server.url, SEARCH, { input: { query: 'refund damaged goods' } }, bob)).searchDocuments
        .length,
    ).toBeGreaterThan(0);
    expect((await gqlOk(server.url, DOCUMENT, { id: aliceDoc.id }, key)).document.subject).toBe('alice');
    // A shared document can be read by every user, and changed by none of them: one end user must
    // not delete (or make unsearchable) the tenant's knowledge base for all.
    const shared = await settled(
      (await upload('Shared policy: refunds within 30 days.', { name: 'policy.txt', type: 'text/plain' }))
        .body.document.id,
    );
    for (const mutation of [
      'mutation($id: ID!) { deleteDocument(id: $id) { deletedId } }',
      'mutation($id: ID!) { reprocessDocument(id: $id) { document { id } } }',
    ]) {
      const r = await gql(server.url, mutation, { id: shared.id }, bob);
      expect(r.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
      expect(r.errors?.[0]?.message).toMatch(/shared by the tenant/);
    }
    expect((await gqlOk(server.url, DOCUMENT, { id: shared.id }, key)).document.status).toBe('READY');
    // A token limited to threads (a chat widget) reaches no document, by any route: not even
    // Alice's own through node(id:).
    const widget = await mint('alice', ', scopes: [READ, WRITE], threadIds: []');
    expect((await gql(server.url, DOCUMENT, { id: aliceDoc.id }, widget)).errors?.[0]?.extensions?.code).toBe(
      'FORBIDDEN',
    );
    const NODES = `query($ids: [ID!]!) { node(id: "${aliceDoc.id}") { id } nodes(ids: $ids) { id } }`;
    const viaNode = await gql(server.url, NODES, { ids: [aliceDoc.id] }, widget);
    expect(viaNode.data).toEqual({ node: null, nodes: [null] });
    expect(viaNode.errors?.map((e: any) => e.extensions?.code)).toContain('NOT_FOUND');
    // Her own, Alice can delete.
    await gqlOk(
      server.url,
      'mutation($id: ID!) { deleteDocument(id: $id) { deletedId } }',
      { id: aliceDoc.id },
      alice,
    );
  });
});

describe('processing stopped midway', () => {
  test('resumes after its stored batches: every chunk is embedded and stored exactly once', async () => {
    // A server without its own ingest loop: two loops are driven by hand over its database.
    const quiet = await startTestServer({ documents: false });
    try {
      const { tenant, key: k } = await createTenant(quiet.url, quiet.admin, 'docs-resume');
      const text = Array.from(
        { length: 40 },
        (_, i) => `Section ${i}. ${'words about subject matter '.repeat(40)}`,
      ).join('\n\n');
      const id = (
        await gqlOk(quiet.url, CREATE_DOCUMENT, { input: { name: 'resume.txt', content: text } }, k)
      ).createDocument.document.id;
      const { startDocumentIngest } = await import('../src/documents/document-ingest.js');
      const counting = (onCall: (texts: number) => void) => localEmbedder({ after: (t) => onCall(t.length) });
      // First loop: stopped (as by a restart) after its second batch.
      let first = 0;
      let calls = 0;
      let stopped!: () => void;
      const firstEmbedder = await counting((n) => {
        first += n;
        // Stops taking batches; the one being embedded is still stored.
        if (++calls === 2) void firstLoop.close().then(stopped);
      });
      const firstStopped = new Promise<void>((resolve) => (stopped = resolve));
      const firstLoop = startDocumentIngest({
        database: quiet.database,
        batchSize: 4,
        pollMs: 60_000,
        embedder: firstEmbedder,
      });
      await firstStopped;
      const mid = (await gqlOk(quiet.url, DOCUMENT, { id }, k)).document;
      expect(mid.status).toBe('PENDING');
      expect(mid.progress).toBeGreaterThan(0);
      expect(mid.progress).toBeLessThan(1);
      // Second loop: picks the document up and finishes it.
      let second = 0;
      const ingest = startDocumentIngest({
        database: quiet.database,
        batchSize: 4,
        pollMs: 60_000,
        embedder: await counting((n) => {
          second += n;
        }),
      });
      await ingest.drain();
      await ingest.close();
      const doc = (await gqlOk(quiet.url, DOCUMENT, { id }, k)).document;
      expect(doc.status).toBe('READY');
      expect(first + second).toBe(doc.chunkCount);
      const dbId = parseGlobalId('id', id, 'Document');
      const tenantId = parseGlobalId('id', tenant.id, 'Tenant');
      const rows = await quiet.database.withTenant(tenantId, (tx) =>
        tx.documentChunk.findMany({
          where: { documentId: dbId },
          select: { index: true },
          orderBy: { index: 'asc' },
        }),
      );
      expect(rows.map((r) => r.index)).toEqual(Array.from({ length: doc.chunkCount }, (_, i) => i));
    } finally {
      await quiet.closeAll();
    }
  });
});

describe('the same bytes again', () => {
  test('reuse the chunks of a READY twin read as the same type; read as another type they are embedded anew', async () => {
    const quiet = await startTestServer({ documents: false });
    try {
      const { tenant, key: k } = await createTenant(quiet.url, quiet.admin, 'docs-twins');
      const tenantId = parseGlobalId('id', tenant.id, 'Tenant');
      const content = '<p>Returns are accepted within <b>30 days</b>.</p>';
      const add = async (name: string, mimeType: string) =>
        (await gqlOk(quiet.url, CREATE_DOCUMENT, { input: { name, content, mimeType } }, k)).createDocument
          .document.id as string;
      const { startDocumentIngest } = await import('../src/documents/document-ingest.js');
      let embedded = 0;
      const embedder = await localEmbedder({ before: (texts) => (embedded += texts.length) });
      const drain = async () => {
        const ingest = startDocumentIngest({ database: quiet.database, pollMs: 60_000, embedder });
        await ingest.drain();
        await ingest.close();
      };
      const chunksOf = (id: string) =>
        quiet.database.withTenant(tenantId, (tx) =>
          tx.documentChunk.findMany({
            where: { documentId: parseGlobalId('id', id, 'Document') },
            select: { content: true },
          }),
        );
      const first = await add('first.txt', 'text/plain');
      await drain();
      const afterFirst = embedded;
      expect(afterFirst).toBeGreaterThan(0);
      // The same bytes, the same type: copied, nothing embedded.
      const again = await add('again.txt', 'text/plain');
      await drain();
      expect(embedded).toBe(afterFirst);
      expect((await gqlOk(quiet.url, DOCUMENT, { id: again }, k)).document.status).toBe('READY');
      expect(await chunksOf(again)).toEqual(await chunksOf(first));
      // The same bytes as HTML read differently (no tags): embedded from its own text.
      const html = await add('page.html', 'text/html');
      await drain();
      expect(embedded).toBeGreaterThan(afterFirst);
      const [chunk] = await chunksOf(html);
      expect(chunk?.content).toBe('Returns are accepted within 30 days .');
      expect(chunk?.content).not.toContain('<b>');
    } finally {
      await quiet.closeAll();
    }
  });
});

describe('slow processing', () => {
  test('keeps its lease while it works: another process does not take the document over', async () => {
    const quiet = await startTestServer({ documents: false });
    try {
      const { key: k } = await createTenant(quiet.url, quiet.admin, 'docs-slow');
      const id = (
        await gqlOk(quiet.url, CREATE_DOCUMENT, { input: { name: 'slow.txt', content: 'slow words' } }, k)
      ).createDocument.document.id;
      const { startDocumentIngest } = await import('../src/documents/document-ingest.js');
      let calls = 0;
      const embedder = await localEmbedder({
        before: () => {
          calls++;
          // Three leases long.
          return new Promise((r) => setTimeout(r, 3000));
        },
      });
      const loops = [1, 2].map(() =>
        startDocumentIngest({ database: quiet.database, leaseSeconds: 1, pollMs: 100, embedder }),
      );
      for (let i = 0; (await gqlOk(quiet.url, DOCUMENT, { id }, k)).document.status !== 'READY'; i++) {
        if (i > 200) throw new Error('the document never became READY');
        await new Promise((r) => setTimeout(r, 50));
      }
      await Promise.all(loops.map((l) => l.close()));
      expect(calls).toBe(1);
    } finally {
      await quiet.closeAll();
    }
  });
});

describe('reprocessing', () => {
  test('reprocessDocument answers CONFLICT while a process holds the document, and works once it is done', async () => {
    const quiet = await startTestServer({ documents: false });
    try {
      const { tenant, key: k } = await createTenant(quiet.url, quiet.admin, 'docs-reprocess');
      const id = (
        await gqlOk(quiet.url, CREATE_DOCUMENT, { input: { name: 'held.txt', content: 'held words' } }, k)
      ).createDocument.document.id;
      const REPROCESS = 'mutation($id: ID!) { reprocessDocument(id: $id) { document { status } } }';
      const { startDocumentIngest } = await import('../src/documents/document-ingest.js');
      let calls = 0;
      let release!: () => void;
      const released = new Promise<void>((r) => (release = r));
      let embedding!: () => void;
      const started = new Promise<void>((r) => (embedding = r));
      const ingest = startDocumentIngest({
        database: quiet.database,
        pollMs: 50,
        embedder: await localEmbedder({
          before: () => {
            calls++;
            embedding();
            return released;
          },
        }),
      });
      try {
        await started;
        const busy = await gql(quiet.url, REPROCESS, { id }, k);
        expect(busy.errors?.[0]?.extensions?.code).toBe('CONFLICT');
        expect(busy.errors?.[0]?.message).toMatch(/being processed now/);
        expect((await gqlOk(quiet.url, DOCUMENT, { id }, k)).document.status).toBe('PROCESSING');
        release();
        await ingest.drain();
        expect((await gqlOk(quiet.url, DOCUMENT, { id }, k)).document.status).toBe('READY');
        expect(calls).toBe(1);
        // Done: it is reprocessed.
        expect((await gqlOk(quiet.url, REPROCESS, { id }, k)).reprocessDocument.document.status).toBe(
          'PENDING',
        );
        await ingest.drain();
        expect((await gqlOk(quiet.url, DOCUMENT, { id }, k)).document.status).toBe('READY');
        expect(calls).toBe(2);
      } finally {
        release();
        await ingest.close();
      }
      // PROCESSING with its lease run out (the process died): nobody holds it, so it is reprocessed.
      const tenantId = parseGlobalId('id', tenant.id, 'Tenant');
      await quiet.database.withTenant(tenantId, (tx) =>
        tx.$executeRawUnsafe(
          `UPDATE "Document" SET status = 'PROCESSING', attempts = 1, "notBefore" = (now() AT TIME ZONE 'UTC') - interval '1 second' WHERE id = $1`,
          parseGlobalId('id', id, 'Document'),
        ),
      );
      expect((await gqlOk(quiet.url, REPROCESS, { id }, k)).reprocessDocument.document.status).toBe(
        'PENDING',
      );
    } finally {
      await quiet.closeAll();
    }
  });
});

describe('processing that never ends', () => {
  test('a document whose every attempt stopped midway is FAILED with the reason, not taken up again', async () => {
    const quiet = await startTestServer({ documents: false });
    try {
      const { tenant, key: k } = await createTenant(quiet.url, quiet.admin, 'docs-crashing');
      const tenantId = parseGlobalId('id', tenant.id, 'Tenant');
      const add = async (name: string) =>
        (await gqlOk(quiet.url, CREATE_DOCUMENT, { input: { name, content: `${name} text` } }, k))
          .createDocument.document.id as string;
      const crashing = await add('crashing.txt');
      const once = await add('once.txt');
      // As a process that died while holding them leaves them: PROCESSING, their lease run out.
      const interrupted = (id: string, attempts: number) =>
        quiet.database.withTenant(tenantId, (tx) =>
          tx.$executeRawUnsafe(
            `UPDATE "Document" SET status = 'PROCESSING', attempts = $2, "notBefore" = (now() AT TIME ZONE 'UTC') - interval '1 second' WHERE id = $1`,
            parseGlobalId('id', id, 'Document'),
            attempts,
          ),
        );
      await interrupted(crashing, 3);
      await interrupted(once, 1);
      const { startDocumentIngest } = await import('../src/documents/document-ingest.js');
      let embedded = 0;
      const ingest = startDocumentIngest({
        database: quiet.database,
        maxAttempts: 3,
        pollMs: 60_000,
        embedder: await localEmbedder({ before: (texts) => (embedded += texts.length) }),
      });
      await ingest.drain();
      await ingest.close();
      const failed = (await gqlOk(quiet.url, DOCUMENT, { id: crashing }, k)).document;
      expect(failed.status).toBe('FAILED');
      expect(failed.error).toMatch(
        /Gave up after 3 attempts: processing stopped each time before it finished/,
      );
      // One interruption below the limit: it is simply processed again.
      const ready = (await gqlOk(quiet.url, DOCUMENT, { id: once }, k)).document;
      expect(ready.status).toBe('READY');
      expect(embedded).toBe(ready.chunkCount);
    } finally {
      await quiet.closeAll();
    }
  });
});

describe('configuration', () => {
  test('TROUPE_EMBEDDINGS accepts local, openai:<model> and ollama:<model>, and names the forms otherwise', async () => {
    const { loadConfig } = await import('../src/config.js');
    const env = (v: string) => ({ TROUPE_SECRET: 'x'.repeat(32), TROUPE_EMBEDDINGS: v });
    expect(loadConfig('serve', {}, env('openai:text-embedding-3-small')).config.embeddings).toBe(
      'openai:text-embedding-3-small',
    );
    expect(loadConfig('serve', {}, { TROUPE_SECRET: 'x'.repeat(32) }).config.embeddings).toBe('local');
    expect(() => loadConfig('serve', {}, env('cohere'))).toThrow(
      /TROUPE_EMBEDDINGS must be "local", "local:<dimensions>", "openai:<model>" or "ollama:<model>", got "cohere"/,
    );
  });
});
