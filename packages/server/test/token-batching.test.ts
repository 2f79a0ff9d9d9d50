// Tokens are stored and streamed in batches (one TOKEN event per flush interval, the first at
// once), and the concatenated deltas are the output either way.
import { createOpenAICompatibleTestServer, type OpenAICompatibleTestServer } from '@troupe/agents/testing';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { startTestServer, type TestServer } from './support/backend.js';
import { CREATE_CREW, createTenant, gqlOk, SAMPLE_CREW } from './support/graphql-client.js';
import { sseSubscribe } from './support/sse-client.js';

let llm: OpenAICompatibleTestServer;
let server: TestServer;
let key: string;
let crewId: string;

beforeAll(async () => {
  llm = await createOpenAICompatibleTestServer();
  server = await startTestServer({ providers: { openai: { baseUrl: llm.url, apiKey: 'test' } } });
  ({ key } = await createTenant(server.url, server.admin, 'tokens'));
  const crew = {
    ...SAMPLE_CREW,
    agents: SAMPLE_CREW.agents.map((a) => ({ ...a, model: { provider: 'OPENAI', name: 'm' } })),
    tasks: [SAMPLE_CREW.tasks[0]],
  };
  crewId = (await gqlOk(server.url, CREATE_CREW, { input: crew }, key)).createCrew.crew.id;
});
afterAll(async () => {
  await server?.closeAll();
  await llm?.close();
});

async function tokenEvents(reply: { text: string[]; chunkDelayMs?: number }) {
  llm.enqueue(reply);
  const runId = (
    await gqlOk(
      server.url,
      'mutation($input: StartRunInput!) { startRun(input: $input) { run { id } } }',
      { input: { crewId, inputs: { topic: 't' } } },
      key,
    )
  ).startRun.run.id;
  const events: { seq: number; type: string; delta: string | null; at: number }[] = [];
  for await (const r of sseSubscribe(
    server.url,
    'subscription($id: ID!) { runEvents(runId: $id) { seq type delta } }',
    { id: runId },
    key,
  ))
    events.push({ ...r.data.runEvents, at: Date.now() });
  const run = (await gqlOk(server.url, 'query($id: ID!) { run(id: $id) { output } }', { id: runId }, key))
    .run;
  expect(events.map((e) => e.seq)).toEqual(events.map((_e, i) => i + 1));
  return { tokens: events.filter((e) => e.type === 'TOKEN'), output: run.output as string };
}

test('a fast stream is stored as a few TOKEN events whose deltas are the whole text', async () => {
  const text = Array.from({ length: 300 }, (_, i) => `w${i} `);
  const { tokens, output } = await tokenEvents({ text });
  expect(output).toBe(text.join(''));
  expect(tokens.map((t) => t.delta).join('')).toBe(output);
  expect(tokens.length).toBeLessThan(text.length / 10);
});

test('a slow stream still delivers each token as its own event', async () => {
  const text = ['slow ', 'tokens ', 'arrive'];
  const { tokens, output } = await tokenEvents({ text, chunkDelayMs: 150 });
  expect(tokens.map((t) => t.delta)).toEqual(text);
  expect(output).toBe('slow tokens arrive');
});
