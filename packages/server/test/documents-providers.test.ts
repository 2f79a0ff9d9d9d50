import { createOpenAICompatibleTestServer, type OpenAICompatibleTestServer } from '@troupe/agents/testing';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startTestServer, type TestServer } from './support/backend.js';
import { CREATE_CREW, createTenant, gql, gqlOk } from './support/graphql-client.js';

// Documents embedded by an OpenAI-compatible server (the real `openai` client against a local
// server speaking the wire protocol), provider failures, and agents searching documents in a run.

let llm: OpenAICompatibleTestServer;
let server: TestServer;
let key: string;

const DOC = 'id status error progress chunkCount embeddingModel';
const CREATE = `mutation($input: CreateDocumentInput!) { createDocument(input: $input) { document { id } } }`;
const READ = `query($id: ID!) { document(id: $id) { ${DOC} } }`;
const SEARCH = `query($input: SearchDocumentsInput!) { searchDocuments(input: $input) { score content document { name } } }`;

/** Requests one embedding call makes before giving up: the first and the client's 3 retries. */
const PER_ATTEMPT = 4;
/** 503s that ask for an immediate retry (so the client's retries take no time here). */
const outage = (n: number) =>
  Array.from({ length: n }, () => ({
    error: { status: 503, message: 'overloaded', headers: { 'retry-after': '0' } },
  }));

async function add(name: string, content: string, token = key): Promise<string> {
  return (await gqlOk(server.url, CREATE, { input: { name, content } }, token)).createDocument.document.id;
}

async function settled(id: string, token = key) {
  // drain() ends when nothing is due: a document between two attempts (PENDING, its backoff of a
  // few ms not over yet) is not due, so wait that out and drain again.
  for (let i = 0; ; i++) {
    await server.documents!.drain();
    const doc = (await gqlOk(server.url, READ, { id }, token)).document;
    if (doc.status !== 'PENDING' || i === 100) return doc;
    await new Promise((r) => setTimeout(r, 10));
  }
}

beforeAll(async () => {
  llm = await createOpenAICompatibleTestServer();
  server = await startTestServer({
    providers: { openai: { baseUrl: llm.url, apiKey: 'test-key' } },
    env: { TROUPE_EMBEDDINGS: 'openai:text-embedding-3-small' },
    // Retryable failures come back quickly here.
    documents: { pollMs: 60_000, backoffMs: 1, maxAttempts: 3 },
  });
  ({ key } = await createTenant(server.url, server.admin, 'docs-openai'));
});
afterAll(async () => {
  await server?.closeAll();
  await llm?.close();
});

describe('OpenAI embeddings', () => {
  test('chunks are embedded by the configured model, in batches, and the query too', async () => {
    const before = llm.embeddingRequests.length;
    const id = await add('returns.md', 'Damaged goods can be returned within 30 days for a full refund.');
    const doc = await settled(id);
    expect(doc).toMatchObject({
      status: 'READY',
      embeddingModel: 'openai:text-embedding-3-small',
      progress: 1,
    });
    const sent = llm.embeddingRequests.slice(before);
    expect(sent).toHaveLength(1);
    expect((sent[0]!.body as { model: string }).model).toBe('text-embedding-3-small');
    expect(sent[0]!.headers.authorization).toBe('Bearer test-key');
    const hits = (await gqlOk(server.url, SEARCH, { input: { query: 'refund for damaged goods' } }, key))
      .searchDocuments;
    expect(hits[0].document.name).toBe('returns.md');
    expect(hits[0].score).toBeGreaterThan(0);
    expect(hits[0].score).toBeLessThanOrEqual(1.0001);
    // The query went to the same model.
    const last = llm.embeddingRequests.at(-1)!.body as { input: string[] | string };
    expect(JSON.stringify(last.input)).toContain('refund for damaged goods');
  });

  test('the same file uploaded again is not embedded again: its chunks and vectors are copied', async () => {
    const text = 'Our warehouse in Porto ships orders every weekday before 4 pm.';
    const first = await settled(await add('porto.txt', text));
    expect(first.status).toBe('READY');
    const before = llm.embeddingRequests.length;
    const again = await settled(await add('porto copy.txt', text));
    expect(again).toMatchObject({ status: 'READY', chunkCount: first.chunkCount, progress: 1 });
    expect(llm.embeddingRequests.length).toBe(before);
    const hits = (
      await gqlOk(server.url, SEARCH, { input: { query: 'Porto warehouse ships', limit: 5 } }, key)
    ).searchDocuments;
    expect(hits.map((h: any) => h.document.name).sort()).toEqual(
      expect.arrayContaining(['porto copy.txt', 'porto.txt']),
    );
    expect(hits[0].score).toBeCloseTo(hits[1].score, 5);
  });

  test('a rejected key fails the document at once, with the reason, and tries no more', async () => {
    llm.enqueueEmbeddings({
      error: { status: 401, message: 'Incorrect API key provided', type: 'invalid_request_error' },
    });
    const before = llm.embeddingRequests.length;
    const doc = await settled(await add('bad-key.txt', 'some words to embed'));
    expect(doc.status).toBe('FAILED');
    expect(doc.error).toMatch(/Incorrect API key|401|auth/i);
    expect(llm.embeddingRequests.length - before).toBe(1);
  });

  test('a provider outage is tried again after a backoff, and the document ends READY with its error cleared', async () => {
    // The client's own retries (429/5xx) are spent first; then the ingest loop tries again later.
    const before = llm.embeddingRequests.length;
    llm.enqueueEmbeddings(...outage(PER_ATTEMPT));
    const id = await add('outage.txt', 'text that waits for the provider to come back');
    const doc = await settled(id);
    expect(doc.status).toBe('READY');
    expect(doc.error).toBeNull();
    expect(llm.embeddingRequests.length - before).toBe(PER_ATTEMPT + 1);
  });

  test('an outage that outlasts every attempt ends FAILED, saying how many attempts were made', async () => {
    const before = llm.embeddingRequests.length;
    llm.enqueueEmbeddings(...outage(3 * PER_ATTEMPT));
    const doc = await settled(await add('down.txt', 'text the provider never embeds'));
    expect(doc.status).toBe('FAILED');
    expect(doc.error).toMatch(/Gave up after 3 attempts: .*overloaded/);
    expect(llm.embeddingRequests.length - before).toBe(3 * PER_ATTEMPT);
  });
});

describe('agents search documents in a run', () => {
  test('an agent with the search_documents tool gets the passages of the tenant’s documents', async () => {
    await settled(await add('office.md', 'The Lisbon office opens at 8:30 and the door code is 4711.'));
    const crew = await gqlOk(
      server.url,
      CREATE_CREW,
      {
        input: {
          name: 'Office helper',
          process: 'SEQUENTIAL',
          agents: [
            {
              name: 'helper',
              role: 'Office assistant',
              goal: 'Answer from the documents',
              backstory: '',
              tools: ['search_documents'],
              model: { provider: 'OPENAI', name: 'test-model' },
            },
          ],
          tasks: [{ name: 'answer', description: 'Answer: {{question}}', agent: 'helper' }],
        },
      },
      key,
    );
    const before = llm.requests.length;
    llm.enqueue(
      {
        toolCalls: [
          {
            id: 'call_1',
            name: 'search_documents',
            arguments: '{"query":"Lisbon office door code","limit":2}',
          },
        ],
      },
      { text: 'The door code is 4711.' },
    );
    const started = await gqlOk(
      server.url,
      'mutation($input: StartRunInput!) { startRun(input: $input) { run { id } } }',
      {
        input: { crewId: crew.createCrew.crew.id, inputs: { question: 'What is the door code in Lisbon?' } },
      },
      key,
    );
    const runId = started.startRun.run.id;
    let run: any;
    for (let i = 0; i < 200; i++) {
      run = (
        await gqlOk(server.url, 'query($id: ID!) { run(id: $id) { status output } }', { id: runId }, key)
      ).run;
      if (['SUCCEEDED', 'FAILED', 'CANCELLED'].includes(run.status)) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(run).toMatchObject({ status: 'SUCCEEDED', output: 'The door code is 4711.' });
    // The model's second call carried the tool's result: the passage from the document.
    const chat = llm.requests.slice(before).filter((r) => r.path.endsWith('/chat/completions'));
    const toolMessage = (chat[1]!.body as { messages: { role: string; content: string }[] }).messages.find(
      (m) => m.role === 'tool',
    );
    expect(toolMessage?.content).toContain('door code is 4711');
    expect(toolMessage?.content).toContain('office.md');
  });

  test('a run does not see documents an end user uploaded privately', async () => {
    const token = (
      await gqlOk(
        server.url,
        'mutation { createSessionToken(input: { subject: "erin", scopes: [READ, WRITE] }) { token } }',
        {},
        key,
      )
    ).createSessionToken.token as string;
    await settled(await add('erin.txt', 'Erin private: the safe combination is 9931.', token), token);
    const direct = (await gqlOk(server.url, SEARCH, { input: { query: 'safe combination' } }, token))
      .searchDocuments;
    expect(direct[0].document.name).toBe('erin.txt');
    const { documentSearchTool } = await import('../src/documents/run-tool.js');
    const { embedderSource } = await import('../src/documents/document-search.js');
    const { parseGlobalId } = await import('../src/graphql/global-id.js');
    const tenant = (await gqlOk(server.url, '{ viewer { tenant { id } } }', {}, key)).viewer.tenant.id;
    const tenantId = parseGlobalId('id', tenant, 'Tenant');
    const embedder = embedderSource('openai:text-embedding-3-small', {
      openai: { baseUrl: llm.url, apiKey: 'test-key' },
    });
    // The tool of a run started with an API key, and of a chat run of Erin's thread.
    const shared = await documentSearchTool(server.database, embedder, tenantId, null);
    const sharedResult = JSON.stringify(
      await shared.invoke({ query: 'safe combination', limit: 5 }, {} as never),
    );
    expect(sharedResult).not.toContain('9931');
    const erins = await documentSearchTool(server.database, embedder, tenantId, 'erin');
    const erinResult = JSON.stringify(
      await erins.invoke({ query: 'safe combination', limit: 5 }, {} as never),
    );
    expect(erinResult).toContain('9931');
  });
});

test('searchDocuments reports an embedder outage as UNAVAILABLE', async () => {
  llm.enqueueEmbeddings(...outage(PER_ATTEMPT));
  const r = await gql(server.url, SEARCH, { input: { query: 'anything' } }, key);
  expect(r.errors?.[0]?.extensions?.code).toBe('UNAVAILABLE');
  expect(r.errors?.[0]?.message).toMatch(/embedder failed/);
});
