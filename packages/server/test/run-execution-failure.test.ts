// A run whose execution itself fails (the database unreachable when the executor claims it) is
// tried again, and ends RUN_FAILED once out of attempts: never left RUNNING for good. In-process
// executor (`troupe dev`, `troupe serve` without Redis); workers get the same from BullMQ's attempts.
import { createOpenAICompatibleTestServer, type OpenAICompatibleTestServer } from '@troupe/agents/testing';
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { Database, Tx } from '../src/db/database.js';
import type { SqlText } from '../src/db/sql-text.js';
import { ADMIN_KEY, startTestServer, type TestServer } from './support/backend.js';
import { CREATE_CREW, createTenant, gqlOk, OPENAI_CREW, startRunId } from './support/graphql-client.js';
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
/**
 * Once the LLM has failed (llmFailedAt), transactions (withTenant) take this much longer to
 * commit, while set; each calls onSlowCommit first.
 */
let slowTransactionsMs = 0;
let onSlowCommit: (() => void) | undefined;
let llmFailedAt = 0;
/** The next claim waits for this, then fails as if the database had gone away; claimHeld says it waits. */
let holdClaim: Promise<void> | undefined;
let claimHeld: (() => void) | undefined;

/** The database with failures injected into the executor's scripts. */
function faulty(real: Database): Database {
  return new Proxy(real, {
    get(target, prop) {
      if (prop === 'script')
        return (settings: Record<string, string>, statements: readonly SqlText[]) => {
          const claim = statements.some((s) => s.text.includes('"attempts" = "attempts" + 1'));
          if (holdClaim && claim) {
            const held = holdClaim;
            holdClaim = undefined;
            claimHeld?.();
            return held.then(() => Promise.reject(new Error('Connection terminated unexpectedly')));
          }
          if (failClaims > 0 && claim) {
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
      if (prop === 'withTenant')
        return <T>(tenantId: string, fn: (tx: Tx) => Promise<T>) =>
          target.withTenant(tenantId, async (tx) => {
            const result = await fn(tx);
            if (slowTransactionsMs > 0 && llmFailedAt > 0) {
              onSlowCommit?.();
              await new Promise((r) => setTimeout(r, slowTransactionsMs));
            }
            return result;
          });
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
  crewId = (await gqlOk(server.url, CREATE_CREW, { input: OPENAI_CREW }, key)).createCrew.crew.id;
});

afterAll(async () => {
  await server?.closeAll();
  await llm?.close();
});

async function start(topic: string, crew = crewId): Promise<string> {
  return startRunId(server.url, key, crew, { topic });
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

test('a cancel that comes while the executor takes the run up, before an execution that fails, is not lost', async () => {
  // The cancel is acknowledged (the executor has the run, its crew not started yet); the execution
  // then fails and is tried again: that attempt must find the run cancelled, not run it to the end.
  let release!: () => void;
  holdClaim = new Promise<void>((r) => {
    release = r;
  });
  const held = new Promise<void>((r) => {
    claimHeld = r;
  });
  const calls = llm.chatRequests.length;
  const id = await start('cancelled while taken up');
  await held;
  await gqlOk(server.url, 'mutation($id: ID!) { cancelRun(id: $id) { run { id } } }', { id }, key);
  release();
  const { types, run: r } = await ending(id);
  expect(types).toEqual(['RUN_CANCELLED']);
  expect(r.status).toBe('CANCELLED');
  // Nothing was paid for.
  expect(llm.chatRequests.length).toBe(calls);
});

let retryingCrew: string | undefined;

/**
 * Starts a run whose attempt fails at once (with attempts left), and cancels it while the database
 * is slow at the step `slow` names. The crew waits 60 s between attempts, so a cancel that is lost
 * leaves the run QUEUED.
 */
async function cancelLate(slow: 'stores' | 'retry') {
  retryingCrew ??= (
    await gqlOk(
      server.url,
      CREATE_CREW,
      {
        input: {
          ...OPENAI_CREW,
          name: 'retrying',
          retry: { maxAttempts: 3, backoffMs: 60_000 },
        },
      },
      key,
    )
  ).createCrew.crew.id as string;
  llmFailedAt = 0;
  llm.setFallback(() => {
    llmFailedAt = Date.now();
    return { error: { status: 503, message: 'overloaded', headers: { 'retry-after': '3600' } } };
  });
  try {
    let id: string;
    if (slow === 'stores') {
      slowStoresMs = 400;
      id = await start(`late cancel (${slow})`, retryingCrew);
      while (llmFailedAt === 0) await new Promise((r) => setTimeout(r, 10));
      // The attempt has failed; its events are still being stored.
      await new Promise((r) => setTimeout(r, 50));
    } else {
      // The first transaction after the failure is the one recording the retry: the cancel comes
      // while it commits.
      const committing = new Promise<void>((resolve) => {
        onSlowCommit = resolve;
      });
      slowTransactionsMs = 400;
      id = await start(`late cancel (${slow})`, retryingCrew);
      await committing;
      slowTransactionsMs = 0;
      onSlowCommit = undefined;
    }
    await gqlOk(server.url, 'mutation($id: ID!) { cancelRun(id: $id) { run { id } } }', { id }, key);
    const outcome = await Promise.race([
      ending(id),
      new Promise<never>((_, reject) =>
        setTimeout(() => reject(new Error('the run did not end within 10 s of its cancel')), 10_000),
      ),
    ]);
    return outcome;
  } finally {
    slowStoresMs = 0;
    slowTransactionsMs = 0;
    onSlowCommit = undefined;
    llmFailedAt = 0;
    llm.setFallback(() => ({ text: 'made it' }));
  }
}

test('a cancel that comes after an attempt failed, while the retry is being decided, ends the run cancelled', async () => {
  // The failed attempt's events are still being stored when the cancel comes.
  const { types, run: r } = await cancelLate('stores');
  expect(types.at(-1)).toBe('RUN_CANCELLED');
  expect(types).not.toContain('RUN_RETRYING');
  expect(r.status).toBe('CANCELLED');
});

test('a cancel that comes while the retry itself is being recorded ends the run cancelled', async () => {
  // RUN_RETRYING is being committed when the cancel comes: the run is QUEUED for its next attempt
  // a moment later, and must end there instead of running again in 60 s. (On PGlite, one
  // connection, the cancel's transaction waits for that commit, so only Postgres shows the window.)
  const { types, run: r } = await cancelLate('retry');
  expect(types.slice(-2)).toEqual(['RUN_RETRYING', 'RUN_CANCELLED']);
  expect(r.status).toBe('CANCELLED');
});
