import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  type AgentTool,
  chunkText,
  createDocumentSearchTool,
  createEmbedder,
  type DocumentSearchHit,
  runCrew,
} from '../src/index.js';
import { createOpenAICompatibleTestServer, type OpenAICompatibleTestServer } from './support/index.js';
import { collectEvents, eventsOfType, testAgent } from './support/run-helpers.js';

let server: OpenAICompatibleTestServer;
beforeEach(async () => {
  server = await createOpenAICompatibleTestServer();
});
afterEach(async () => {
  await server.close();
});

const DOCUMENTS = [
  {
    id: 'doc-shipping',
    name: 'shipping.md',
    text: 'Shipping: orders leave our warehouse within two business days.\n\nInternational delivery takes one to three weeks depending on customs.',
  },
  {
    id: 'doc-returns',
    name: 'returns.md',
    text: 'Refund policy: customers who receive damaged goods get a full refund within 30 days.\n\nSend a photo of the damaged item with your order number.',
  },
];

/** What the server does, in memory: chunk, embed with the local embedder, rank by dot product. */
async function inMemorySearch() {
  const embedder = createEmbedder({ provider: 'local' });
  const chunks = DOCUMENTS.flatMap((document) =>
    chunkText(document.text, { maxTokens: 25, overlapTokens: 0 }).map((chunk) => ({ document, chunk })),
  );
  const { vectors } = await embedder.embed(chunks.map(({ chunk }) => chunk.content));
  const calls: Array<{ query: string; limit: number; signal: AbortSignal | undefined }> = [];
  const search = async (query: string, limit: number, signal?: AbortSignal): Promise<DocumentSearchHit[]> => {
    calls.push({ query, limit, signal });
    const [queryVector] = (await embedder.embed([query], { signal })).vectors;
    return chunks
      .map(({ document, chunk }, i) => ({
        documentName: document.name,
        documentId: document.id,
        chunkIndex: chunk.index,
        content: chunk.content,
        score: vectors[i]!.reduce((sum, value, j) => sum + value * queryVector![j]!, 0),
      }))
      .sort((a, b) => b.score - a.score)
      .slice(0, limit);
  };
  return { search, calls };
}

async function runWith(tool: AgentTool) {
  const events = await collectEvents(
    runCrew({
      crew: {
        name: 'support',
        agents: [
          testAgent(
            'helper',
            { provider: 'openai', name: 'gpt-test', baseUrl: server.url },
            { tools: [tool.name] },
          ),
        ],
        tasks: [
          { name: 'answer', description: 'Can I get my money back for a broken vase?', agent: 'helper' },
        ],
      },
      tools: [tool],
      providers: { openai: { apiKey: 'k' } },
    }),
  );
  const toolMessages = (
    server.chatRequests[1]?.body as { messages: Array<{ role: string; content: string }> }
  )?.messages.filter((message) => message.role === 'tool');
  return { events, results: eventsOfType(events, 'TOOL_RESULT'), toolMessages };
}

describe('search_documents tool', () => {
  it('offers the model a query/limit schema and a description about the uploaded documents', async () => {
    const tool = createDocumentSearchTool(async () => []);
    expect(tool.name).toBe('search_documents');
    expect(tool.description).toMatch(/organisation's uploaded documents/);
    expect(tool.description).toMatch(/look up facts/);
    expect(tool.parameters).toMatchObject({
      type: 'object',
      properties: {
        query: { type: 'string' },
        limit: { type: 'integer', minimum: 1, maximum: 20 },
      },
      required: ['query'],
    });
  });

  it('runs a search the model asks for and gives the model the best passages first', async () => {
    const { search, calls } = await inMemorySearch();
    server.enqueue(
      {
        toolCalls: [
          { name: 'search_documents', arguments: '{"query": "refund policy for damaged goods", "limit": 2}' },
        ],
      },
      { text: 'Yes: damaged goods are refunded within 30 days.' },
    );
    const { events, results, toolMessages } = await runWith(createDocumentSearchTool(search));

    const sentTools = (server.chatRequests[0]!.body as { tools: Array<{ function: { name: string } }> })
      .tools;
    expect(sentTools.map((tool) => tool.function.name)).toEqual(['search_documents']);
    expect(calls).toHaveLength(1);
    expect(calls[0]).toMatchObject({ query: 'refund policy for damaged goods', limit: 2 });
    expect(calls[0]!.signal).toBeInstanceOf(AbortSignal);

    expect(results).toHaveLength(1);
    expect(results[0]!.isError).toBe(false);
    const hits = JSON.parse(results[0]!.result) as Array<{
      document: string;
      chunk: number;
      score: number;
      content: string;
    }>;
    expect(hits).toHaveLength(2);
    expect(hits.map((hit) => Object.keys(hit).sort())).toEqual([
      ['chunk', 'content', 'document', 'score'],
      ['chunk', 'content', 'document', 'score'],
    ]);
    expect(hits[0]).toMatchObject({ document: 'returns.md', chunk: 0 });
    expect(hits[0]!.content).toContain('full refund within 30 days');
    expect(hits[0]!.score).toBeGreaterThan(hits[1]!.score);
    expect(hits[0]!.score).toBe(Math.round(hits[0]!.score * 1000) / 1000);

    // The model's next call carries the passages as the tool result.
    expect(toolMessages).toHaveLength(1);
    expect(toolMessages[0]!.content).toContain('full refund within 30 days');
    expect(toolMessages[0]!.content).toContain('returns.md');
    expect(events.at(-1)).toMatchObject({
      type: 'RUN_SUCCEEDED',
      output: 'Yes: damaged goods are refunded within 30 days.',
    });
  });

  it('asks for 5 passages by default and tells the model when nothing matched', async () => {
    const limits: number[] = [];
    const tool = createDocumentSearchTool(async (_query, limit) => {
      limits.push(limit);
      return [];
    });
    server.enqueue(
      { toolCalls: [{ name: 'search_documents', arguments: '{"query": "warranty on spaceships"}' }] },
      { text: 'I could not find that.' },
    );
    const { results, toolMessages } = await runWith(tool);
    expect(limits).toEqual([5]);
    expect(results[0]!.isError).toBe(false);
    expect(toolMessages[0]!.content).toBe(
      'No passages in the uploaded documents matched "warranty on spaceships".',
    );
  });

  it('refuses a limit over 20 or an empty query without searching, and the run goes on', async () => {
    let searches = 0;
    const tool = createDocumentSearchTool(async () => {
      searches++;
      return [];
    });
    server.enqueue(
      {
        toolCalls: [
          { name: 'search_documents', arguments: '{"query": "refunds", "limit": 50}' },
          { name: 'search_documents', arguments: '{"query": "   "}' },
        ],
      },
      { text: 'done' },
    );
    const { events, results, toolMessages } = await runWith(tool);
    expect(searches).toBe(0);
    expect(results.map((result) => result.isError)).toEqual([true, true]);
    expect(toolMessages[0]!.content).toMatch(/^Error: Invalid arguments for tool "search_documents": limit/);
    expect(toolMessages[1]!.content).toMatch(/query/);
    expect(events.at(-1)).toMatchObject({ type: 'RUN_SUCCEEDED' });
  });

  it('reports a failing search to the model as a tool error', async () => {
    const tool = createDocumentSearchTool(async () => {
      throw new Error('vector index unavailable');
    });
    server.enqueue(
      { toolCalls: [{ name: 'search_documents', arguments: '{"query": "refunds"}' }] },
      { text: 'Search is down.' },
    );
    const { events, results, toolMessages } = await runWith(tool);
    expect(results[0]!.isError).toBe(true);
    expect(toolMessages[0]!.content).toBe('Error: vector index unavailable');
    expect(events.at(-1)).toMatchObject({ type: 'RUN_SUCCEEDED', output: 'Search is down.' });
  });

  it('returns at most `limit` hits even if the search function returns more', async () => {
    const many = Array.from({ length: 8 }, (_, i) => ({
      documentName: `doc-${i}.txt`,
      documentId: `id-${i}`,
      chunkIndex: i,
      score: 0.912345 - i / 100,
      content: `passage ${i}`,
    }));
    const tool = createDocumentSearchTool(async () => many);
    const context = { signal: new AbortController().signal, taskName: 't', agentName: 'a' };
    await expect(tool.invoke({ query: 'anything', limit: 3 }, context)).resolves.toEqual([
      { document: 'doc-0.txt', chunk: 0, score: 0.912, content: 'passage 0' },
      { document: 'doc-1.txt', chunk: 1, score: 0.902, content: 'passage 1' },
      { document: 'doc-2.txt', chunk: 2, score: 0.892, content: 'passage 2' },
    ]);
  });
});
