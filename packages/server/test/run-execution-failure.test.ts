// A run whose execution itself fails (the database unreachable when the executor claims it) is
// tried again, and ends RUN_FAILED once out of attempts: never left RUNNING for good. In-process
// executor (`troupe dev`, `troupe serve` without Redis); workers get the same from BullMQ's attempts.
import { createOpenAICompatibleTestServer, type OpenAICompatibleTestServer } from '@troupe/agents/testing';
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { Database } from '../src/db/database.js';
import type { SqlText } from '../src/db/sql-text.js';
import { ADMIN_KEY, startTestServer, type TestServer } from './support/backend.js';
import { CREATE_CREW, createTenant, gqlOk, SAMPLE_CREW } from './support/graphql-client.js';
import { sseSubscribe } from './support/sse-client.js';

let llm: OpenAICompatibleTestServer;
let server: TestServer;
let key: string;
let crewId: string;
/** Claims of a run (the executor picking it up) that fail as if the database had gone away. */
let failClaims = 0;
let failedClaims = 0;
/** Event batches take this long to store (a slow database), while set. */
let slowStoresMs = 0;

/** The database with failures injected into the executor's scripts. */
function faulty(real: Database): Database {
  return new Proxy(real, {
    get(target, prop) {
      if (prop === 'script')
        return (settings: Record<string, string>, statements: readonly SqlText[]) => {
          if (failClaims > 0 && statements.some((s) => s.text.includes('"attempts" = "attempts" + 1'))) {
            failClaims--;
            failedClaims++;
            return Promise.reject(new Error('Connection terminated unexpectedly'));
          }
          if (slowStoresMs > 0 && statements.some((s) => s.text.includes('INSERT INTO "RunEvent"')))
            return new Promise((r) => setTimeout(r, slowStoresMs)).then(() =>
              target.script(settings, statements),
            );
          return target.script(settings, statements);
        };
      const value = Reflect.get(target, prop);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  }) as Database;
}

beforeAll(async () => {
  llm = await createOpenAICompatibleTestServer();
  llm.setFallback(() => ({ text: 'made it' }));
  server = await startTestServer({
    wrapDatabase: faulty,
    providers: { openai: { baseUrl: llm.url, apiKey: 'test' } },
    executionRetry: { attempts: 3, delayMs: 20 },
  });
  ({ key } = await createTenant(server.url, ADMIN_KEY, 'execfail'));
  const crew = {
    ...SAMPLE_CREW,
    agents: SAMPLE_CREW.agents.map((a) => ({ ...a, model: { provider: 'OPENAI', name: 'm' } })),
  };
  crewId = (await gqlOk(server.url, CREATE_CREW, { input: crew }, key)).createCrew.crew.id;
});

afterAll(async () => {
  await server?.closeAll();
  await llm?.close();
});

async function start(topic: string, crew = crewId): Promise<string> {
  const d = await gqlOk(
    server.url,
    'mutation($input: StartRunInput!) { startRun(input: $input) { run { id } } }',
    { input: { crewId: crew, inputs: { topic } } },
    key,
  );
  return d.startRun.run.id;
}

/** The run's event types once its stream ends, and the run as stored. */
async function ending(id: string) {
  const types: string[] = [];
  for await (const r of sseSubscribe(
    server.url,
    'subscription($id: ID!) { runEvents(runId: $id) { type } }',
    { id },
    key,
  ))
    types.push(r.data.runEvents.type);
  const d = await gqlOk(server.url, 'query($id: ID!) { run(id: $id) { status output error } }', { id }, key);
  return { types, run: d.run };
}

const run = async (topic: string) => ending(await start(topic));

test('an execution that fails is tried again and the run succeeds', async () => {
  failClaims = 2;
  failedClaims = 0;
  const { types, run: r } = await run('flaky database');
  expect(failedClaims).toBe(2);
  expect(types.at(-1)).toBe('RUN_SUCCEEDED');
  expect(r).toMatchObject({ status: 'SUCCEEDED', output: 'made it' });
});

test('an execution that fails on every attempt ends the run FAILED with the error, not RUNNING', async () => {
  failClaims = 100;
  failedClaims = 0;
  const { types, run: r } = await run('database gone');
  expect(failedClaims).toBe(3);
  expect(types).toEqual(['RUN_FAILED']);
  expect(r.status).toBe('FAILED');
  expect(r.error).toMatch(/Connection terminated unexpectedly/);
  failClaims = 0;
});

test('a cancel that comes after an attempt failed, while the retry is being decided, ends the run cancelled', async () => {
  const retrying = (
    await gqlOk(
      server.url,
      CREATE_CREW,
      {
        input: {
          ...SAMPLE_CREW,
          name: 'retrying',
          agents: SAMPLE_CREW.agents.map((a) => ({ ...a, model: { provider: 'OPENAI', name: 'm' } })),
          retry: { maxAttempts: 3, backoffMs: 60_000 },
        },
      },
      key,
    )
  ).createCrew.crew.id;
  let failedAt = 0;
  llm.setFallback(() => {
    failedAt = Date.now();
    return { error: { status: 503, message: 'overloaded', headers: { 'retry-after': '3600' } } };
  });
  slowStoresMs = 400;
  try {
    const id = await start('late cancel', retrying);
    while (failedAt === 0) await new Promise((r) => setTimeout(r, 10));
    // The attempt has failed; its events are still being stored when the cancel comes.
    await new Promise((r) => setTimeout(r, 50));
    await gqlOk(server.url, 'mutation($id: ID!) { cancelRun(id: $id) { run { id } } }', { id }, key);
    const { types, run: r } = await ending(id);
    expect(types.at(-1)).toBe('RUN_CANCELLED');
    expect(types).not.toContain('RUN_RETRYING');
    expect(r.status).toBe('CANCELLED');
  } finally {
    slowStoresMs = 0;
    llm.setFallback(() => ({ text: 'made it' }));
  }
});
