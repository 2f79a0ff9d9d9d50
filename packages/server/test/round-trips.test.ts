import pg from 'pg';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { appendRunEvents } from '../src/events/run-event-log.js';
import { BACKEND, startTestServer, type TestServer } from './support/backend.js';
import { CREATE_CREW, createTenant, gqlOk, OPENAI_CREW } from './support/graphql-client.js';

// Messages sent to Postgres per operation (each one a round trip), counted at pg's Client. PGlite
// in process has no wire: there the test only checks the answers.
let server: TestServer;
let key: string;
let tenantId: string;
let crewId: string;
let counting = false;
let sent: string[] = [];
const query = pg.Client.prototype.query;

beforeAll(async () => {
  pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
    if (counting) {
      const q = args[0];
      const text = typeof q === 'string' ? q : String((q as { text?: unknown })?.text);
      // A statement kind's PREPARE goes once per connection (after its 3rd use), not per operation.
      if (!text.startsWith('PREPARE troupe_')) sent.push(text);
    }
    return (query as (...a: unknown[]) => unknown).apply(this, args);
  } as typeof query;
  // Keys stay cached for the whole file: what is counted does not depend on how long a test took.
  server = await startTestServer({ quiet: true, authCache: { ttlMs: 10 * 60_000 } });
  const created = await createTenant(server.url, server.admin, 'round-trips');
  key = created.key;
  tenantId = raw('Tenant', created.tenant.id);
  crewId = (await gqlOk(server.url, CREATE_CREW, { input: OPENAI_CREW }, key)).createCrew.crew.id;
});
afterAll(async () => {
  pg.Client.prototype.query = query;
  await server?.closeAll();
});

/** A global id's row id. */
function raw(kind: string, id: string): string {
  const [k, v] = Buffer.from(id, 'base64').toString().split(':');
  expect(k).toBe(kind);
  return v!;
}

async function counted<T>(fn: () => Promise<T>): Promise<{ result: T; messages: string[] }> {
  sent = [];
  counting = true;
  try {
    return { result: await fn(), messages: sent };
  } finally {
    counting = false;
  }
}

const START =
  'mutation($input: StartRunInput!) { startRun(input: $input) { run { id status inputs idempotencyKey } } }';

test('startRun (key cached): one message that opens the transaction, inserts the run and commits', async () => {
  // The first run of the crew reads its version; later ones are one insert. (It fails at once for
  // want of an LLM key: wait for that, so that its writes are not counted.)
  const warm = await gqlOk(server.url, START, { input: { crewId, inputs: { topic: 'warm' } } }, key);
  const status = async () =>
    (
      await gqlOk(
        server.url,
        'query($id: ID!) { run(id: $id) { status } }',
        { id: warm.startRun.run.id },
        key,
      )
    ).run.status;
  while ((await status()) !== 'FAILED') await new Promise((r) => setTimeout(r, 20));
  const { result, messages } = await counted(() =>
    gqlOk(server.url, START, { input: { crewId, inputs: { topic: 'otters' }, idempotencyKey: 'k1' } }, key),
  );
  expect(result.startRun.run).toMatchObject({
    status: 'QUEUED',
    inputs: { topic: 'otters' },
    idempotencyKey: 'k1',
  });
  const again = await gqlOk(
    server.url,
    START,
    { input: { crewId, inputs: { topic: 'otters' }, idempotencyKey: 'k1' } },
    key,
  );
  expect(again.startRun.run.id).toBe(result.startRun.run.id);
  if (BACKEND === 'postgres') {
    // It was two (the insert, then COMMIT on its own). The run starts executing in this process
    // once committed: its claim is not startRun's.
    const own = messages.filter((m) => m.includes('INSERT INTO "Run"') || m === 'COMMIT');
    expect(own, messages.join('\n---\n')).toHaveLength(1);
    // (The tenant setting as set_config's text, or as its prepared statement's EXECUTE.)
    expect(own[0]).toMatch(
      /^BEGIN;\n(SELECT set_config|EXECUTE troupe_\w+)\('app\.tenant_id'[\s\S]*INSERT INTO "Run"[\s\S]*COMMIT;$/,
    );
    expect(messages[0]).toBe(own[0]);
  }
});

test('polling a run’s status: one message that begins, reads the run and commits', async () => {
  const started = await gqlOk(server.url, START, { input: { crewId, inputs: { topic: 'polled' } } }, key);
  const id = started.startRun.run.id;
  await ended(id);
  const { result, messages } = await counted(() =>
    gqlOk(server.url, 'query($id: ID!) { run(id: $id) { id status output } }', { id }, key),
  );
  expect(result.run).toMatchObject({ id, status: 'FAILED', output: null });
  if (BACKEND === 'postgres') {
    // Through Prisma it was three: BEGIN with the tenant setting, the SELECT, then COMMIT.
    expect(messages, messages.join('\n---\n')).toHaveLength(1);
    expect(messages[0]).toMatch(
      /^BEGIN;\n(SELECT set_config|EXECUTE troupe_\w+)\('app\.tenant_id'[\s\S]*(FROM "Run"|EXECUTE troupe_)[\s\S]*COMMIT;$/,
    );
  }
});

test('a key is looked up in one message on its first request, then not at all while cached', async () => {
  // `key` has been used before (and its lastUsedAt written): a query that reads nothing sends nothing.
  const cached = await counted(() => gqlOk(server.url, '{ __typename }', {}, key));
  const { key: fresh } = await createTenant(server.url, server.admin, 'round-trips fresh');
  const first = await counted(() => gqlOk(server.url, '{ __typename }', {}, fresh));
  if (BACKEND === 'postgres') {
    // The first use also starts writing lastUsedAt, off the request path.
    expect(first.messages[0]).toMatch(/FROM "ApiKey"/);
    expect(first.messages.filter((m) => /FROM "ApiKey"/.test(m))).toHaveLength(1);
    expect(cached.messages).toEqual([]);
  }
});

test('an operation that reads nothing does not wait for a database connection', async () => {
  if (BACKEND !== 'postgres') return; // PGlite in process has no pool to exhaust
  // Every connection of the pool (5 in tests) held by a transaction that waits for the query below.
  let answered = false;
  let release!: () => void;
  const gate = new Promise<void>((r) => {
    release = r;
  });
  const safety = setTimeout(release, 10_000);
  const holders = Array.from({ length: 5 }, () =>
    server.database.withTenant(tenantId, async (tx) => {
      await tx.$queryRawUnsafe('SELECT 1');
      await gate;
      return answered;
    }),
  );
  // Let the holders take their connections first.
  await new Promise((r) => setTimeout(r, 300));
  const r = await gqlOk(server.url, '{ __typename }', {}, key);
  answered = true;
  release();
  clearTimeout(safety);
  expect(r.__typename).toBe('Query');
  // It was answered while the pool was still exhausted (it used to wait for a connection first).
  expect(await Promise.all(holders)).toEqual([true, true, true, true, true]);
});

/** Waits for a run to end (these fail at once, for want of an LLM key). */
async function ended(runId: string): Promise<void> {
  const q = 'query($id: ID!) { run(id: $id) { status } }';
  while (
    !['SUCCEEDED', 'FAILED', 'CANCELLED'].includes(
      (await gqlOk(server.url, q, { id: runId }, key)).run.status,
    )
  )
    await new Promise((r) => setTimeout(r, 20));
  await server.executor.idle();
}

/** Subscribes over SSE; counts the messages sent until the first event arrives, then `take` events. */
async function subscribeCounted(query: string, variables: Record<string, unknown>, take = Infinity) {
  const { sseSubscribe } = await import('./support/sse-client.js');
  const ac = new AbortController();
  const payloads: { data?: any; errors?: { extensions?: { code?: string } }[] }[] = [];
  let beforeFirst: string[] = [];
  sent = [];
  counting = true;
  try {
    for await (const p of sseSubscribe(server.url, query, variables, key, ac.signal)) {
      if (payloads.length === 0) beforeFirst = [...sent];
      payloads.push(p);
      if (payloads.length >= take) break;
    }
  } finally {
    counting = false;
    ac.abort();
  }
  return { payloads, beforeFirst, all: sent };
}

test('runEvents of a finished run: one message (the scope check is the first page)', async () => {
  // A finished run with a log of 31 events, written as the executor would have.
  const crewRowId = raw('Crew', crewId);
  const runRowId = await server.database.withTenant(tenantId, async (tx) => {
    const version = await tx.crewVersion.findFirstOrThrow({ where: { crewId: crewRowId } });
    const run = await tx.run.create({
      data: { tenantId, crewId: crewRowId, crewVersionId: version.id, inputs: {}, status: 'SUCCEEDED' },
    });
    await appendRunEvents(tx, tenantId, run.id, [
      ...Array.from({ length: 30 }, (_, i) => ({
        type: 'TOKEN' as const,
        taskRunId: null,
        delta: `t${i}`,
        data: null,
      })),
      { type: 'RUN_SUCCEEDED', taskRunId: null, delta: null, data: { output: 'ok' } },
    ]);
    return run.id;
  });
  const runId = Buffer.from(`Run:${runRowId}`).toString('base64');
  const { payloads, beforeFirst, all } = await subscribeCounted(
    'subscription($id: ID!) { runEvents(runId: $id) { seq type } }',
    { id: runId },
  );
  const events = payloads.map((p) => p.data.runEvents);
  expect(events.map((e: { seq: number }) => e.seq)).toEqual(Array.from({ length: 31 }, (_, i) => i + 1));
  expect(events.at(-1).type).toBe('RUN_SUCCEEDED');
  if (BACKEND === 'postgres') {
    // It was 2 after authentication (the key is cached here): a script that checked the run
    // exists (and is in the caller's scope), then the first page. Now the first page carries the check.
    expect(beforeFirst, beforeFirst.join('\n---\n')).toHaveLength(1);
    // BEGIN, the tenant setting, the check, the page, COMMIT (each statement as its text, or as the
    // EXECUTE of the statement the connection has prepared once it had sent it a few times).
    const lines = beforeFirst[0]!.trim().split('\n');
    expect(lines).toHaveLength(5);
    expect(lines[0]).toBe('BEGIN;');
    expect(lines[1]).toMatch(/^(SELECT set_config|EXECUTE troupe_\w+)\('app\.tenant_id'/);
    expect(lines[2]).toMatch(/FROM "Run" WHERE|^EXECUTE troupe_/);
    expect(lines[3]).toMatch(/FROM "RunEvent" WHERE|^EXECUTE troupe_/);
    expect(lines[4]).toBe('COMMIT;');
    // The whole log fits in that page, which also says the run has ended: nothing more is sent.
    expect(all).toEqual(beforeFirst);
  }
  // A run that is not there is still NOT_FOUND, as the subscription's one result.
  const missing = Buffer.from('Run:cl000000000000000000000000').toString('base64');
  const gone = await subscribeCounted('subscription($id: ID!) { runEvents(runId: $id) { seq } }', {
    id: missing,
  });
  expect(gone.payloads).toHaveLength(1);
  expect(gone.payloads[0]!.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
  if (BACKEND === 'postgres') expect(gone.all).toHaveLength(1);
});

test('threadEvents: one message before the first event', async () => {
  const crew = await gqlOk(
    server.url,
    'query($id: ID!) { crew(id: $id) { agents { id } } }',
    { id: crewId },
    key,
  );
  const thread = await gqlOk(
    server.url,
    'mutation($input: CreateThreadInput!) { createThread(input: $input) { thread { id } } }',
    { input: { agentId: crew.crew.agents[0].id } },
    key,
  );
  const threadId = thread.createThread.thread.id;
  const sentMessage = await gqlOk(
    server.url,
    'mutation($input: SendMessageInput!) { sendMessage(input: $input) { run { id } } }',
    { input: { threadId, content: 'hello' } },
    key,
  );
  await ended(sentMessage.sendMessage.run.id);
  // A thread's stream stays open: take its first event.
  const { payloads, beforeFirst } = await subscribeCounted(
    'subscription($id: ID!) { threadEvents(threadId: $id) { seq type } }',
    { id: threadId },
    1,
  );
  expect(payloads[0]!.data.threadEvents.seq).toBe(1);
  if (BACKEND === 'postgres') {
    // It was 8 after authentication (the key is cached here): the thread's existence check in a
    // transaction of its own (BEGIN, the tenant setting, the query, COMMIT), then the events in
    // another. Now one script does both.
    expect(beforeFirst, beforeFirst.join('\n---\n')).toHaveLength(1);
    expect(beforeFirst[0]).toMatch(/^BEGIN;[\s\S]*FROM "Thread"[\s\S]*FROM "RunEvent"/);
  }
});
