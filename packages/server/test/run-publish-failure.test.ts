// Live publishing is best effort: a run whose bus rejects every publish (Redis briefly unreachable)
// still finishes, and its subscribers read the events from the durable log.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createOpenAICompatibleTestServer, type OpenAICompatibleTestServer } from '@troupe/agents/testing';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { loadConfig } from '../src/config.js';
import { createInProcessEventBus, type EventBus } from '../src/events/event-bus.js';
import { startServer, type TroupeServer } from '../src/server.js';
import { ADMIN_KEY, createTestDatabase, SECRET, type TestDatabase } from './support/backend.js';
import { CREATE_CREW, createTenant, gqlOk, OPENAI_CREW, startRunId } from './support/graphql-client.js';
import { sseSubscribe } from './support/sse-client.js';

let llm: OpenAICompatibleTestServer;
let tdb: TestDatabase;
let server: TroupeServer;
let dataDir: string;
let failing = true;
let rejected = 0;

beforeAll(async () => {
  llm = await createOpenAICompatibleTestServer();
  llm.setFallback(() => ({ text: 'one two three four five six', chunkDelayMs: 20 }));
  tdb = await createTestDatabase();
  dataDir = mkdtempSync(path.join(tmpdir(), 'troupe-pubfail-'));
  const inner = createInProcessEventBus();
  const bus: EventBus = {
    ...inner,
    async publish(channel, message) {
      if (failing && channel.startsWith('run:')) {
        rejected++;
        throw new Error('Reached the max retries per request limit (which is 3).');
      }
      return inner.publish(channel, message);
    },
  };
  const { config } = loadConfig(
    'embedded',
    { port: 0, host: '127.0.0.1', dataDir },
    { TROUPE_ADMIN_KEY: ADMIN_KEY, TROUPE_SECRET: SECRET },
  );
  server = await startServer(config, {
    database: tdb.database,
    bus,
    providers: { openai: { baseUrl: llm.url, apiKey: 'test' } },
  });
});

afterAll(async () => {
  await server?.close();
  await tdb?.close();
  await llm?.close();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

test('a run whose live events cannot be published still succeeds; a subscriber gets every event from the log', async () => {
  const { key } = await createTenant(server.url, ADMIN_KEY, 'pubfail');
  const crewId = (await gqlOk(server.url, CREATE_CREW, { input: OPENAI_CREW }, key)).createCrew.crew.id;
  const runId = await startRunId(server.url, key, crewId, { topic: 'x' });
  await server.executor.idle();
  expect(rejected).toBeGreaterThan(3);
  failing = false;
  const d = await gqlOk(server.url, 'query($id: ID!) { run(id: $id) { status output } }', { id: runId }, key);
  expect(d.run).toEqual({ status: 'SUCCEEDED', output: 'one two three four five six' });
  const seqs: number[] = [];
  for await (const r of sseSubscribe(
    server.url,
    'subscription($id: ID!) { runEvents(runId: $id) { seq } }',
    { id: runId },
    key,
  ))
    seqs.push(r.data.runEvents.seq);
  expect(seqs.length).toBeGreaterThan(10);
  expect(seqs).toEqual(seqs.map((_s, i) => i + 1));
});
