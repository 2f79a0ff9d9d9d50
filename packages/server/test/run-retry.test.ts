// A crew's retry policy: a failed attempt with attempts left is logged as RUN_RETRYING, the run
// waits (QUEUED) and resumes from its checkpoints; only the last failure is RUN_FAILED.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  createOpenAICompatibleTestServer,
  type OpenAICompatibleTestServer,
  type OpenAITestReply,
} from '@troupe/agents/testing';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { loadConfig } from '../src/config.js';
import type { EventBus } from '../src/events/event-bus.js';
import { createRedisEventBus } from '../src/events/redis-event-bus.js';
import { type RunWorker, startRunWorker } from '../src/runs/run-worker.js';
import { startServer, type TroupeServer } from '../src/server.js';
import {
  ADMIN_KEY,
  BACKEND,
  createTestDatabase,
  dropRunQueue,
  SECRET,
  type TestDatabase,
} from './support/backend.js';
import { CREATE_CREW, createTenant, gql, gqlOk, OPENAI_CREW } from './support/graphql-client.js';
import { sseSubscribe } from './support/sse-client.js';

const REDIS_URL = process.env.TROUPE_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const CREW = OPENAI_CREW;
const EVENTS = `subscription($runId: ID!) { runEvents(runId: $runId) { seq type data } }`;
const RUN = `query($id: ID!) { run(id: $id) { status output error attempts taskRuns { task { name } status attempts } } }`;
const START = 'mutation($input: StartRunInput!) { startRun(input: $input) { run { id status } } }';
const CANCEL = 'mutation($id: ID!) { cancelRun(id: $id) { run { id status } } }';

/** 503 with a Retry-After the provider will not wait for: one LLM call per failed attempt. */
const UNAVAILABLE: OpenAITestReply = {
  error: { status: 503, message: 'model server overloaded', headers: { 'retry-after': '3600' } },
};

/** Answers the write task's first `failures` calls with 503, everything else with text. */
function failWritesFirst(llm: OpenAICompatibleTestServer, topic: string, failures: number) {
  let writes = 0;
  llm.setFallback((req) => {
    const body = JSON.stringify(req.body);
    if (body.includes(`Write about ${topic}`)) {
      writes++;
      return writes <= failures ? UNAVAILABLE : { text: `Article on ${topic}.` };
    }
    return { text: `Notes on ${topic}.` };
  });
  const calls = (task: 'Research' | 'Write about') =>
    llm.chatRequests.filter((r) => JSON.stringify(r.body).includes(`${task} ${topic}`)).length;
  return { research: () => calls('Research'), write: () => calls('Write about') };
}

async function events(url: string, key: string, runId: string) {
  const out: { seq: number; type: string; data: any }[] = [];
  for await (const r of sseSubscribe(url, EVENTS, { runId }, key)) {
    if (r.errors) throw new Error(JSON.stringify(r.errors));
    out.push(r.data.runEvents);
  }
  return out;
}

/** The contract, on either executor. */
function retryContract(setup: () => { url: string; key: string; llm: OpenAICompatibleTestServer }) {
  const crew = async (name: string, retry?: { maxAttempts: number; backoffMs: number }) => {
    const { url, key } = setup();
    const d = await gqlOk(url, CREATE_CREW, { input: { ...CREW, name, ...(retry ? { retry } : {}) } }, key);
    return d.createCrew.crew.id as string;
  };
  const start = async (crewId: string, topic: string) => {
    const { url, key } = setup();
    return (await gqlOk(url, START, { input: { crewId, inputs: { topic } } }, key)).startRun.run.id as string;
  };

  test('a failing attempt is retried after backoff and resumes after its finished task', async () => {
    const { url, key, llm } = setup();
    const crewId = await crew('retrying', { maxAttempts: 3, backoffMs: 100 });
    const calls = failWritesFirst(llm, 'flaky', 2);
    const runId = await start(crewId, 'flaky');
    const t0 = Date.now();
    const evs = await events(url, key, runId);
    const types = evs.map((e) => e.type);
    expect(evs.map((e) => e.seq)).toEqual(evs.map((_e, i) => i + 1));
    expect(types.filter((t) => t === 'RUN_RETRYING')).toHaveLength(2);
    expect(types).not.toContain('RUN_FAILED');
    expect(types.at(-1)).toBe('RUN_SUCCEEDED');
    const retries = evs.filter((e) => e.type === 'RUN_RETRYING').map((e) => e.data);
    expect(retries.map((d) => [d.attempt, d.maxAttempts, d.delayMs])).toEqual([
      [1, 3, 100],
      [2, 3, 200],
    ]);
    expect(retries[0].error).toMatchObject({ code: 'PROVIDER_ERROR' });
    expect(retries[0].error.message).toMatch(/503/);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(300);
    // The research task ran once; the write task once per attempt.
    expect(calls.research()).toBe(1);
    expect(calls.write()).toBe(3);
    const d = await gqlOk(url, RUN, { id: runId }, key);
    expect(d.run).toMatchObject({
      status: 'SUCCEEDED',
      output: 'Article on flaky.',
      error: null,
      attempts: 3,
    });
    expect(d.run.taskRuns.map((t: any) => [t.task.name, t.status, t.attempts])).toEqual([
      ['research', 'SUCCEEDED', 1],
      ['write', 'SUCCEEDED', 3],
    ]);
  });

  test('when attempts are exhausted the run is FAILED with the last error', async () => {
    const { url, key, llm } = setup();
    const crewId = await crew('exhausted', { maxAttempts: 2, backoffMs: 50 });
    const calls = failWritesFirst(llm, 'doomed', 100);
    const runId = await start(crewId, 'doomed');
    const types = (await events(url, key, runId)).map((e) => e.type);
    expect(types.filter((t) => t === 'RUN_RETRYING')).toHaveLength(1);
    expect(types.at(-1)).toBe('RUN_FAILED');
    expect(calls.write()).toBe(2);
    expect(calls.research()).toBe(1);
    const d = await gqlOk(url, RUN, { id: runId }, key);
    expect(d.run.status).toBe('FAILED');
    expect(d.run.error).toMatch(/503/);
  });

  test('a failure another attempt cannot fix (HTTP 400) is not retried', async () => {
    const { url, key, llm } = setup();
    const crewId = await crew('refused', { maxAttempts: 3, backoffMs: 50 });
    llm.setFallback((req) =>
      JSON.stringify(req.body).includes('Write about refused')
        ? { error: { status: 400, message: 'bad request' } }
        : { text: 'notes' },
    );
    const before = llm.chatRequests.length;
    const runId = await start(crewId, 'refused');
    const types = (await events(url, key, runId)).map((e) => e.type);
    expect(types).not.toContain('RUN_RETRYING');
    expect(types.at(-1)).toBe('RUN_FAILED');
    expect(llm.chatRequests.length - before).toBe(2);
  });

  test('cancelRun during the backoff wait cancels the run; no further attempt is made', async () => {
    const { url, key, llm } = setup();
    const crewId = await crew('cancel-wait', { maxAttempts: 3, backoffMs: 1500 });
    const calls = failWritesFirst(llm, 'waiting', 100);
    const runId = await start(crewId, 'waiting');
    const types: string[] = [];
    for await (const r of sseSubscribe(url, EVENTS, { runId }, key)) {
      types.push(r.data.runEvents.type);
      if (r.data.runEvents.type === 'RUN_RETRYING') {
        const d = await gqlOk(url, RUN, { id: runId }, key);
        expect(d.run.status).toBe('QUEUED');
        await gqlOk(url, CANCEL, { id: runId }, key);
      }
    }
    expect(types.slice(-2)).toEqual(['RUN_RETRYING', 'RUN_CANCELLED']);
    await new Promise((r) => setTimeout(r, 2000));
    expect(calls.write()).toBe(1);
    const d = await gqlOk(url, RUN, { id: runId }, key);
    expect(d.run.status).toBe('CANCELLED');
    // The finished task keeps its checkpoint: retried, the run does not pay for it again.
    expect(d.run.taskRuns.map((t: any) => [t.task.name, t.status])).toEqual([
      ['research', 'SUCCEEDED'],
      ['write', 'CANCELLED'],
    ]);
    const again = failWritesFirst(llm, 'waiting', 0);
    const researched = again.research();
    await gqlOk(url, 'mutation($id: ID!) { retryRun(id: $id) { run { id } } }', { id: runId }, key);
    expect((await events(url, key, runId)).at(-1)!.type).toBe('RUN_SUCCEEDED');
    expect(again.research()).toBe(researched);
    expect((await gqlOk(url, RUN, { id: runId }, key)).run.output).toBe('Article on waiting.');
  });
}

async function retryInput(url: string, key: string) {
  const bad = async (retry: unknown, field: string, rule: RegExp) => {
    const r = await gql(url, CREATE_CREW, { input: { ...CREW, name: 'bad retry', retry } }, key);
    expect(r.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_INPUT', field });
    expect(r.errors?.[0]?.message).toMatch(rule);
  };
  await bad({ maxAttempts: 0 }, 'input.retry.maxAttempts', /integer from 1 to 10/);
  await bad({ maxAttempts: 11 }, 'input.retry.maxAttempts', /integer from 1 to 10/);
  await bad({ backoffMs: -1 }, 'input.retry.backoffMs', /integer from 0 to 3600000/);
  const crews = await gqlOk(url, '{ crews(first: 100) { edges { node { name } } } }', {}, key);
  expect(crews.crews.edges.map((e: any) => e.node.name)).not.toContain('bad retry');

  const created = await gqlOk(
    url,
    CREATE_CREW.replace('version', 'version retry { maxAttempts backoffMs }'),
    {
      input: { ...CREW, name: 'policy' },
    },
    key,
  );
  expect(created.createCrew.crew.retry).toEqual({ maxAttempts: 1, backoffMs: 1000 });
  const updated = await gqlOk(
    url,
    'mutation($input: UpdateCrewInput!) { updateCrew(input: $input) { crew { retry { maxAttempts backoffMs } } } }',
    { input: { id: created.createCrew.crew.id, retry: { maxAttempts: 4 } } },
    key,
  );
  expect(updated.updateCrew.crew.retry).toEqual({ maxAttempts: 4, backoffMs: 1000 });
}

describe(`retry policy, runs in the server process (${BACKEND})`, () => {
  let llm: OpenAICompatibleTestServer;
  let tdb: TestDatabase;
  let server: TroupeServer;
  let dataDir: string;
  let key: string;

  beforeAll(async () => {
    llm = await createOpenAICompatibleTestServer();
    tdb = await createTestDatabase();
    dataDir = mkdtempSync(path.join(tmpdir(), 'troupe-retry-'));
    const { config } = loadConfig(
      'embedded',
      { port: 0, host: '127.0.0.1', dataDir },
      { TROUPE_ADMIN_KEY: ADMIN_KEY, TROUPE_SECRET: SECRET },
    );
    server = await startServer(config, {
      database: tdb.database,
      providers: { openai: { baseUrl: llm.url, apiKey: 'test' } },
    });
    ({ key } = await createTenant(server.url, ADMIN_KEY, 'retries'));
  });
  afterAll(async () => {
    await server?.close();
    await tdb?.close();
    await llm?.close();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  test('createCrew / updateCrew retry: validated, defaults, partial update', () =>
    retryInput(server.url, key));
  retryContract(() => ({ url: server.url, key, llm }));
});

describe.runIf(BACKEND === 'postgres')('retry policy, runs on BullMQ workers', () => {
  const prefix = `troupe-test-${randomBytes(5).toString('hex')}`;
  let llm: OpenAICompatibleTestServer;
  let tdb: TestDatabase;
  let server: TroupeServer;
  let workerBus: EventBus;
  let worker: RunWorker;
  let dataDir: string;
  let key: string;

  beforeAll(async () => {
    llm = await createOpenAICompatibleTestServer();
    tdb = await createTestDatabase();
    dataDir = mkdtempSync(path.join(tmpdir(), 'troupe-retry-'));
    const { config } = loadConfig(
      'serve',
      { port: 0, host: '127.0.0.1', dataDir, migrate: false },
      {
        DATABASE_URL: tdb.url,
        REDIS_URL,
        TROUPE_QUEUE_PREFIX: prefix,
        TROUPE_ADMIN_KEY: ADMIN_KEY,
        TROUPE_SECRET: SECRET,
      },
    );
    server = await startServer(config, { database: tdb.database });
    workerBus = await createRedisEventBus({ url: REDIS_URL, prefix: `${prefix}:` });
    worker = await startRunWorker({
      database: tdb.database,
      bus: workerBus,
      redisUrl: REDIS_URL,
      prefix,
      concurrency: 2,
      providers: { openai: { baseUrl: llm.url, apiKey: 'test' } },
      graceMs: 200,
    });
    ({ key } = await createTenant(server.url, ADMIN_KEY, 'retries'));
  });
  afterAll(async () => {
    await worker?.close();
    await server?.close();
    await workerBus?.close();
    await dropRunQueue(prefix);
    await tdb?.close();
    await llm?.close();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  retryContract(() => ({ url: server.url, key, llm }));
});
