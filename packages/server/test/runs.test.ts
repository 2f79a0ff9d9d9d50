import { createOpenAICompatibleTestServer, type OpenAICompatibleTestServer } from '@troupe/agents/testing';
import { createClient } from 'graphql-ws';
import pg from 'pg';
import { afterAll, beforeAll, expect, test } from 'vitest';
import WebSocket from 'ws';
import { createId } from '../src/db/create-id.js';
import { insertRunStatement } from '../src/runs/start-run-sql.js';
import { BACKEND, pgAdmin, startTestServer, type TestServer } from './support/backend.js';
import { CREATE_CREW, createTenant, gql, gqlOk, OPENAI_CREW } from './support/graphql-client.js';
import { sseSubscribe } from './support/sse-client.js';

let llm: OpenAICompatibleTestServer;
let server: TestServer;
let key: string;
let crewId: string;
let tenantId: string;

const CREW = OPENAI_CREW;
const dbId = (globalId: string) => Buffer.from(globalId, 'base64').toString().split(':')[1]!;
const EVENTS = `subscription($runId: ID!, $afterSeq: Int) { runEvents(runId: $runId, afterSeq: $afterSeq) { seq type taskRunId delta data } }`;
const RUN = `query($id: ID!) { run(id: $id) { status output error crewVersion lastSeq taskRuns { task { name } status output attempts usage { promptTokens completionTokens } } usage { promptTokens completionTokens costUsd } } }`;

beforeAll(async () => {
  llm = await createOpenAICompatibleTestServer();
  server = await startTestServer({ providers: { openai: { baseUrl: llm.url, apiKey: 'test' } } });
  const tenant = await createTenant(server.url, server.admin, 'runs');
  key = tenant.key;
  tenantId = Buffer.from(tenant.tenant.id, 'base64').toString().split(':')[1]!;
  crewId = (await gqlOk(server.url, CREATE_CREW, { input: CREW }, key)).createCrew.crew.id;
});
afterAll(async () => {
  await server?.closeAll();
  await llm?.close();
});

async function startRun(inputs: Record<string, unknown>, idempotencyKey?: string) {
  const d = await gqlOk(
    server.url,
    'mutation($input: StartRunInput!) { startRun(input: $input) { run { id status } } }',
    { input: { crewId, inputs, ...(idempotencyKey ? { idempotencyKey } : {}) } },
    key,
  );
  return d.startRun.run as { id: string; status: string };
}

async function events(runId: string, afterSeq = 0) {
  const out: { seq: number; type: string; delta: string | null; taskRunId: string | null }[] = [];
  for await (const r of sseSubscribe(server.url, EVENTS, { runId, afterSeq }, key)) {
    if (r.errors) throw new Error(JSON.stringify(r.errors));
    out.push(r.data.runEvents);
  }
  return out;
}

test('a run executes its tasks, streams every event in order and stores output, checkpoints and usage', async () => {
  llm.enqueue(
    { text: 'Notes about otters: they hold hands.', usage: { promptTokens: 40, completionTokens: 9 } },
    { text: 'Otters hold hands while sleeping.', usage: { promptTokens: 60, completionTokens: 7 } },
  );
  const run = await startRun({ topic: 'otters' });
  expect(run.status).toBe('QUEUED');
  const evs = await events(run.id);
  expect(evs.map((e) => e.seq)).toEqual(evs.map((_e, i) => i + 1));
  const types = evs.map((e) => e.type);
  expect(types[0]).toBe('RUN_STARTED');
  expect(types.at(-1)).toBe('RUN_SUCCEEDED');
  expect(types.filter((t) => t === 'TASK_COMPLETED')).toHaveLength(2);
  expect(types.filter((t) => t === 'USAGE')).toHaveLength(2);
  const d = await gqlOk(server.url, RUN, { id: run.id }, key);
  expect(d.run.status).toBe('SUCCEEDED');
  expect(d.run.output).toBe('Otters hold hands while sleeping.');
  expect(d.run.crewVersion).toBe(1);
  expect(d.run.lastSeq).toBe(evs.length);
  expect(d.run.taskRuns.map((t: any) => [t.task.name, t.status, t.attempts])).toEqual([
    ['research', 'SUCCEEDED', 1],
    ['write', 'SUCCEEDED', 1],
  ]);
  // The streamed tokens of the last task are exactly its stored output.
  const writeTask = evs.find(
    (e) => e.type === 'TASK_STARTED' && e.seq > evs.findIndex((x) => x.type === 'TASK_COMPLETED'),
  )!;
  const text = evs
    .filter((e) => e.type === 'TOKEN' && e.taskRunId === writeTask.taskRunId)
    .map((e) => e.delta)
    .join('');
  expect(text).toBe(d.run.output);
  expect(d.run.usage).toMatchObject({ promptTokens: 100, completionTokens: 16 });
  expect(d.run.taskRuns[0].usage).toEqual({ promptTokens: 40, completionTokens: 9 });
  // The template was filled from the inputs before the LLM saw it.
  expect(JSON.stringify(llm.chatRequests[0]!.body)).toMatch(/Research otters/);

  // Resuming after any sequence number replays exactly the rest.
  const rest = await events(run.id, 3);
  expect(rest.map((e) => e.seq)).toEqual(evs.slice(3).map((e) => e.seq));
});

test('inputs are checked against the task templates before anything runs', async () => {
  const before = llm.chatRequests.length;
  const r = await gql(
    server.url,
    'mutation($input: StartRunInput!) { startRun(input: $input) { run { id } } }',
    { input: { crewId, inputs: {} } },
    key,
  );
  expect(r.errors?.[0]?.extensions?.code).toBe('BAD_INPUT');
  expect(r.errors?.[0]?.message).toMatch(/input\.inputs\.topic: is required by task "research"/);
  const runs = await gqlOk(server.url, '{ runs(first: 50) { edges { node { id } } } }', {}, key);
  expect(runs.runs.edges).toHaveLength(1);
  expect(llm.chatRequests.length).toBe(before);
});

test('the same idempotency key returns the same run; with other inputs it is refused', async () => {
  llm.setFallback(() => ({ text: 'ok' }));
  const a = await startRun({ topic: 'x' }, 'key-1');
  const b = await startRun({ topic: 'x' }, 'key-1');
  expect(b.id).toBe(a.id);
  await events(a.id);
  const other = await gql(
    server.url,
    'mutation($input: StartRunInput!) { startRun(input: $input) { run { id } } }',
    { input: { crewId, inputs: { topic: 'y' }, idempotencyKey: 'key-1' } },
    key,
  );
  expect(other.errors?.[0]?.extensions?.code).toBe('CONFLICT');
  expect(other.errors?.[0]?.message).toMatch(/already used for a run with other inputs/);
});

test('retries of one request at the same moment all get the one run it started', async () => {
  llm.setFallback(() => ({ text: 'ok' }));
  // A client that timed out and retried while its first request was still in flight: the later
  // inserts wait for the first one's commit, and answer with its run instead of an internal error.
  for (const round of [1, 2]) {
    const runs = await Promise.all(
      Array.from({ length: 6 }, () => startRun({ topic: 'same' }, `burst-${round}`)),
    );
    expect(new Set(runs.map((r) => r.id)).size).toBe(1);
    await events(runs[0]!.id);
  }
});

test.runIf(BACKEND === 'postgres')(
  'two transactions inserting one idempotency key: the later waits, then inserts nothing (no unique violation)',
  async () => {
    // Requests in one server share transactions under load; these are two processes' (or two
    // connections') at once, which the burst above cannot make happen at will.
    const [crew] = await pgAdmin(
      async (c) =>
        (await c.query(`SELECT "id", "tenantId", "version" FROM "Crew" WHERE "id" = $1`, [dbId(crewId)]))
          .rows,
      server.databaseUrl,
    );
    const [version] = await pgAdmin(
      async (c) =>
        (
          await c.query(`SELECT "id" FROM "CrewVersion" WHERE "crewId" = $1 AND "version" = $2`, [
            crew.id,
            crew.version,
          ])
        ).rows,
      server.databaseUrl,
    );
    const insert = () =>
      insertRunStatement(
        {
          tenantId: crew.tenantId,
          crewId: crew.id,
          crewVersionId: version.id,
          crewVersion: null,
          inputs: { topic: 'race' },
          idempotencyKey: 'two-transactions',
          subject: null,
          taskNames: ['research', 'write'],
        },
        createId(),
        new Date(),
      ).text;
    const a = new pg.Client({ connectionString: server.databaseUrl });
    const b = new pg.Client({ connectionString: server.databaseUrl });
    await Promise.all([a.connect(), b.connect()]);
    try {
      await a.query('BEGIN');
      expect((await a.query(insert())).rows).toHaveLength(1);
      await b.query('BEGIN');
      const later = b.query(insert());
      await new Promise((r) => setTimeout(r, 200));
      await a.query('COMMIT');
      expect((await later).rows).toEqual([]);
      await b.query('COMMIT');
    } finally {
      await Promise.all([a.end(), b.end()]);
      await pgAdmin(
        (c) => c.query(`DELETE FROM "Run" WHERE "idempotencyKey" = 'two-transactions'`),
        server.databaseUrl,
      );
    }
  },
);

test('a run whose end another writer recorded meanwhile keeps that end: the executor writes nothing more', async () => {
  // As a server that found no worker answering a cancel records it (a lost message, a stalled
  // worker): the worker that did hold the run must not end it a second time.
  llm.setFallback(() => ({ text: Array.from({ length: 60 }, (_, i) => `w${i} `), chunkDelayMs: 20 }));
  const run = await startRun({ topic: 'ended elsewhere' });
  for await (const r of sseSubscribe(server.url, EVENTS, { runId: run.id, afterSeq: 0 }, key))
    if (r.data.runEvents.type === 'TOKEN') break;
  const id = dbId(run.id);
  await server.database.withTenant(tenantId, async (tx) => {
    await tx.run.update({ where: { id }, data: { status: 'CANCELLED', finishedAt: new Date() } });
  });
  // Long enough for the answer to have finished, had the executor gone on.
  await new Promise((r) => setTimeout(r, 2000));
  const after = await gqlOk(server.url, RUN, { id: run.id }, key);
  expect(after.run.status).toBe('CANCELLED');
  const types = (await events(run.id)).map((e) => e.type);
  expect(types).not.toContain('RUN_SUCCEEDED');
  expect(types).not.toContain('TASK_COMPLETED');
});

test('a model answer with NUL characters is stored and streamed without them, not failed', async () => {
  llm.enqueue({ text: ['Notes\u0000 one', ' two'] }, { text: 'Art\u0000icle.' });
  const run = await startRun({ topic: 'nul' });
  const evs = await events(run.id);
  expect(evs.at(-1)!.type).toBe('RUN_SUCCEEDED');
  expect(
    evs
      .filter((e) => e.type === 'TOKEN')
      .map((e) => e.delta)
      .join(''),
  ).toBe('Notes one twoArticle.');
  expect((await gqlOk(server.url, RUN, { id: run.id }, key)).run.output).toBe('Article.');
});

test('a runUpdated subscriber that goes away on a quiet tenant is let go at once', async () => {
  const before = server.bus.subscriberCount();
  for (const transport of ['sse', 'ws'] as const) {
    const controller = new AbortController();
    const q = 'subscription { runUpdated { id } }';
    let watching: Promise<unknown>;
    if (transport === 'sse') {
      watching = (async () => {
        try {
          for await (const _ of sseSubscribe(server.url, q, {}, key, controller.signal)) {
          }
        } catch {}
      })();
    } else {
      const client = createClient({
        url: `${server.url.replace('http', 'ws')}/graphql`,
        webSocketImpl: WebSocket,
        connectionParams: { authorization: `Bearer ${key}` },
        lazy: true,
        retryAttempts: 0,
      });
      const dispose = client.subscribe({ query: q }, { next: () => {}, error: () => {}, complete: () => {} });
      controller.signal.addEventListener('abort', () => {
        dispose();
        void client.dispose();
      });
      watching = Promise.resolve();
    }
    for (let i = 0; i < 100 && server.bus.subscriberCount() === before; i++)
      await new Promise((r) => setTimeout(r, 20));
    expect(server.bus.subscriberCount()).toBe(before + 1);
    controller.abort();
    await watching;
    // Nothing happens on the tenant: the subscription must still end.
    for (let i = 0; i < 100 && server.bus.subscriberCount() !== before; i++)
      await new Promise((r) => setTimeout(r, 20));
    expect(server.bus.subscriberCount(), transport).toBe(before);
  }
});

test('editing the crew changes later runs only: a run keeps the version it pinned', async () => {
  llm.setFallback(() => ({ text: 'fine', chunkDelayMs: 5 }));
  const first = await startRun({ topic: 'v1' });
  await gqlOk(
    server.url,
    'mutation($input: UpdateCrewInput!) { updateCrew(input: $input) { crew { version } } }',
    { input: { id: crewId, name: 'renamed' } },
    key,
  );
  const second = await startRun({ topic: 'v2' });
  await events(first.id);
  await events(second.id);
  const a = await gqlOk(server.url, RUN, { id: first.id }, key);
  const b = await gqlOk(server.url, RUN, { id: second.id }, key);
  expect([a.run.crewVersion, b.run.crewVersion]).toEqual([1, 2]);
});

test('cancelRun stops a running run within a second and the stream ends with RUN_CANCELLED', async () => {
  llm.setFallback(() => ({ text: Array.from({ length: 400 }, (_, i) => `w${i} `), chunkDelayMs: 20 }));
  const run = await startRun({ topic: 'slow' });
  const seen: string[] = [];
  let cancelledAt = 0;
  for await (const r of sseSubscribe(server.url, EVENTS, { runId: run.id, afterSeq: 0 }, key)) {
    const e = r.data.runEvents;
    seen.push(e.type);
    if (e.type === 'TOKEN' && cancelledAt === 0) {
      cancelledAt = Date.now();
      await gqlOk(
        server.url,
        'mutation($id: ID!) { cancelRun(id: $id) { run { id } } }',
        { id: run.id },
        key,
      );
    }
  }
  expect(seen.at(-1)).toBe('RUN_CANCELLED');
  expect(Date.now() - cancelledAt).toBeLessThan(1000 + 500);
  const d = await gqlOk(server.url, RUN, { id: run.id }, key);
  expect(d.run.status).toBe('CANCELLED');
  // The task that was running and the ones that never started are closed with the run.
  expect(d.run.taskRuns.length).toBeGreaterThan(1);
  expect(d.run.taskRuns.map((t: { status: string }) => t.status)).toEqual(
    d.run.taskRuns.map(() => 'CANCELLED'),
  );
});

test('retryRun resumes a failed run after its finished tasks, which are not paid for again', async () => {
  const researchCalls = () =>
    llm.chatRequests.filter((r) => JSON.stringify(r.body).includes('Research retry-topic')).length;
  llm.setFallback((req) =>
    JSON.stringify(req.body).includes('Write about retry-topic')
      ? { error: { status: 400, message: 'bad request from the model server' } }
      : { text: 'research notes' },
  );
  const run = await startRun({ topic: 'retry-topic' });
  const first = await events(run.id);
  expect(first.at(-1)!.type).toBe('RUN_FAILED');
  let d = await gqlOk(server.url, RUN, { id: run.id }, key);
  expect(d.run.status).toBe('FAILED');
  expect(d.run.error).toMatch(/bad request/);
  expect(researchCalls()).toBe(1);

  llm.setFallback(() => ({ text: 'the article' }));
  const retried = await gqlOk(
    server.url,
    'mutation($id: ID!) { retryRun(id: $id) { run { status } } }',
    { id: run.id },
    key,
  );
  expect(retried.retryRun.run.status).toBe('QUEUED');
  const second = await events(run.id, first.length);
  expect(second[0]!.seq).toBe(first.length + 1);
  expect(second.at(-1)!.type).toBe('RUN_SUCCEEDED');
  d = await gqlOk(server.url, RUN, { id: run.id }, key);
  expect(d.run.status).toBe('SUCCEEDED');
  expect(d.run.output).toBe('the article');
  expect(d.run.error).toBeNull();
  expect(researchCalls()).toBe(1);

  const again = await gql(
    server.url,
    'mutation($id: ID!) { retryRun(id: $id) { run { id } } }',
    { id: run.id },
    key,
  );
  expect(again.errors?.[0]?.extensions?.code).toBe('CONFLICT');
});

test('two retries of one failed run at once: one retries it, the other is refused', async () => {
  llm.setFallback((req) =>
    JSON.stringify(req.body).includes('Write about twice-retried')
      ? { error: { status: 400, message: 'bad request from the model server' } }
      : { text: 'notes' },
  );
  const run = await startRun({ topic: 'twice-retried' });
  const first = await events(run.id);
  expect(first.at(-1)!.type).toBe('RUN_FAILED');
  llm.setFallback(() => ({ text: 'the article' }));
  const RETRY = 'mutation($id: ID!) { retryRun(id: $id) { run { id } } }';
  const answers = await Promise.all([1, 2].map(() => gql(server.url, RETRY, { id: run.id }, key)));
  expect(answers.map((a) => a.errors?.[0]?.extensions?.code ?? 'ok').sort()).toEqual(['CONFLICT', 'ok']);
  const second = await events(run.id, first.length);
  expect(second.filter((e) => e.type === 'RUN_STARTED')).toHaveLength(1);
  expect(second.at(-1)!.type).toBe('RUN_SUCCEEDED');
});

test('runUpdated streams a crew’s runs as their status changes', async () => {
  // Subscribers re-read the run on each change: slow enough that RUNNING is still what they read.
  llm.setFallback(() => ({ text: Array.from({ length: 10 }, (_, i) => `d${i} `), chunkDelayMs: 10 }));
  const controller = new AbortController();
  const seen: { id: string; status: string }[] = [];
  const watching = (async () => {
    const q = 'subscription($crewId: ID) { runUpdated(crewId: $crewId) { id status crewVersion } }';
    try {
      for await (const p of sseSubscribe(server.url, q, { crewId }, key, controller.signal)) {
        if (p.errors) throw new Error(JSON.stringify(p.errors));
        seen.push(p.data.runUpdated);
        if (p.data.runUpdated.status === 'SUCCEEDED') break;
      }
    } catch (err) {
      if (!controller.signal.aborted) throw err;
    }
  })();
  await new Promise((r) => setTimeout(r, 300));
  const run = await startRun({ topic: 'dashboards' });
  await watching;
  controller.abort();
  expect(seen.every((r) => r.id === run.id)).toBe(true);
  expect(seen.map((r) => r.status)).toContain('RUNNING');
  expect(seen.at(-1)!.status).toBe('SUCCEEDED');
});

test('a task that requires approval waits; a rejection with feedback gets a revision, an approval finishes the run', async () => {
  const approvalCrew = await gqlOk(
    server.url,
    CREATE_CREW,
    {
      input: {
        name: 'Reviewed crew',
        process: 'SEQUENTIAL',
        agents: [
          { name: 'writer', role: 'Writer', goal: 'Write', backstory: '', model: CREW.agents[0]!.model },
        ],
        tasks: [
          {
            name: 'draft',
            description: 'Draft a tweet about {{topic}}',
            agent: 'writer',
            requiresApproval: true,
          },
        ],
      },
    },
    key,
  );
  // The revision takes a while: the double submit below lands while it is written.
  llm.enqueue(
    { text: 'Otters are neat.' },
    { text: ['Otters hold hands ', 'while they sleep!'], chunkDelayMs: 300 },
  );
  const run = (
    await gqlOk(
      server.url,
      'mutation($input: StartRunInput!) { startRun(input: $input) { run { id taskRuns { id } } } }',
      { input: { crewId: approvalCrew.createCrew.crew.id, inputs: { topic: 'otters' } } },
      key,
    )
  ).startRun.run;
  const taskRunId = run.taskRuns[0].id;
  const RESPOND = `mutation($input: RespondToRunInput!) { respondToRun(input: $input) { run { id } } }`;
  const seen: { type: string; data: any }[] = [];
  let approvals = 0;
  for await (const r of sseSubscribe(server.url, EVENTS, { runId: run.id, afterSeq: 0 }, key)) {
    if (r.errors) throw new Error(JSON.stringify(r.errors));
    const e = r.data.runEvents;
    seen.push(e);
    if (e.type !== 'APPROVAL_REQUESTED') continue;
    approvals++;
    const waiting = await gqlOk(server.url, RUN, { id: run.id }, key);
    expect(waiting.run.status).toBe('WAITING_FOR_APPROVAL');
    if (approvals === 1) {
      // A double submit: one answer is taken; the other is refused as a conflict (the task is no
      // longer waiting), not UNAVAILABLE "try again", which would answer the revision unseen.
      const decision = { approved: false, feedback: 'Mention that they hold hands.' };
      const answers = await Promise.all(
        [1, 2].map(() => gql(server.url, RESPOND, { input: { runId: run.id, taskRunId, ...decision } }, key)),
      );
      expect(answers.map((a) => a.errors?.[0]?.extensions?.code ?? 'ok').sort()).toEqual(['CONFLICT', 'ok']);
    } else await gqlOk(server.url, RESPOND, { input: { runId: run.id, taskRunId, approved: true } }, key);
  }
  expect(approvals).toBe(2);
  expect(seen.at(-1)!.type).toBe('RUN_SUCCEEDED');
  // The revision request carried the reviewer's feedback to the model.
  expect(JSON.stringify(llm.chatRequests.at(-1)!.body)).toContain('Mention that they hold hands.');
  const d = await gqlOk(server.url, RUN, { id: run.id }, key);
  expect(d.run.status).toBe('SUCCEEDED');
  expect(d.run.output).toBe('Otters hold hands while they sleep!');
  // Nothing is waiting any more: answering again is a conflict, not a silent success.
  const again = await gql(server.url, RESPOND, { input: { runId: run.id, taskRunId, approved: true } }, key);
  expect(again.errors?.[0]?.extensions?.code).toBe('CONFLICT');
  // A task run that is not the run's: not found (not "not allowed", to the key that may act on it).
  const stale = Buffer.from('TaskRun:not-a-task-run').toString('base64');
  const wrong = await gql(
    server.url,
    RESPOND,
    { input: { runId: run.id, taskRunId: stale, approved: true } },
    key,
  );
  expect(wrong.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
});

test('run(id) asking only for the run’s own fields answers what the full read answers, in every state', async () => {
  // Such a selection (a status poll, say) is read in one message without Prisma; adding a
  // relation (crewVersion) takes the Prisma path. Both must answer the same, whatever the state.
  const FIELDS = `__typename id status inputs output structuredOutput error errorDetails attempts lastSeq
    idempotencyKey createdAt startedAt finishedAt usage { promptTokens completionTokens totalTokens costUsd }`;
  const polled = `query($id: ID!) { run(id: $id) { ${FIELDS} } }`;
  const full = `query($id: ID!) { run(id: $id) { ${FIELDS} crewVersion } }`;
  const same = async (id: string) => {
    const a = (await gqlOk(server.url, polled, { id }, key)).run;
    const { crewVersion, ...b } = (await gqlOk(server.url, full, { id }, key)).run;
    expect(crewVersion).toBeGreaterThanOrEqual(1);
    expect(a).toEqual(b);
    return a;
  };
  llm.enqueue(
    {
      text: 'Notes on "quotes", \\backslashes\\ and ünïcödé.',
      usage: { promptTokens: 12, completionTokens: 5 },
    },
    { text: 'Done: 1.5 otters.', usage: { promptTokens: 20, completionTokens: 4 } },
  );
  const ok = await startRun({ topic: 'otters', nested: { list: [1, 'two', null], flag: true } }, 'poll-ok');
  await events(ok.id);
  const succeeded = await same(ok.id);
  expect(succeeded).toMatchObject({
    status: 'SUCCEEDED',
    output: 'Done: 1.5 otters.',
    idempotencyKey: 'poll-ok',
    inputs: { topic: 'otters', nested: { list: [1, 'two', null], flag: true } },
    usage: { promptTokens: 32, completionTokens: 9, totalTokens: 41 },
  });
  expect(Date.parse(succeeded.finishedAt)).toBeGreaterThanOrEqual(Date.parse(succeeded.startedAt));
  expect(Math.abs(Date.parse(succeeded.createdAt) - Date.now())).toBeLessThan(60_000);

  llm.enqueue({ error: { status: 400, message: 'the model refused' } });
  const failed = await startRun({ topic: 'refusal' });
  await events(failed.id);
  expect(await same(failed.id)).toMatchObject({ status: 'FAILED', output: null, error: expect.any(String) });

  // Unknown ids are NOT_FOUND on both paths.
  const missing = Buffer.from('Run:nope').toString('base64');
  for (const q of [polled, full])
    expect((await gql(server.url, q, { id: missing }, key)).errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
});

/**
 * A server executing two runs at once, for tenants A and B, each with a one-task crew. Every run is
 * one LLM call, held until the test lets it go: the calls arrive in the order the runs start.
 */
async function fairTurns() {
  const gated = await createOpenAICompatibleTestServer();
  const started: string[] = [];
  const held: (() => void)[] = [];
  let open = false;
  gated.setFallback(async (req) => {
    const name = /run ([AB]\d+)/.exec(JSON.stringify(req.body))?.[1] ?? '?';
    started.push(name);
    if (!open) await new Promise<void>((resolve) => held.push(resolve));
    return { text: `Done with ${name}.` };
  });
  const fair = await startTestServer({
    providers: { openai: { baseUrl: gated.url, apiKey: 'test' } },
    concurrency: 2,
  });
  const tenants = await Promise.all(
    ['A', 'B'].map(async (name) => {
      const { key: tenantKey } = await createTenant(fair.url, fair.admin, `fair-${name}`);
      const crew = await gqlOk(
        fair.url,
        CREATE_CREW,
        {
          input: {
            name: 'One call',
            process: 'SEQUENTIAL',
            agents: [
              { name: 'solo', role: 'Worker', goal: 'Answer', model: { provider: 'OPENAI', name: 'm' } },
            ],
            tasks: [
              { name: 'only', description: 'Handle run {{q}}', expectedOutput: 'A line', agent: 'solo' },
            ],
          },
        },
        tenantKey,
      );
      return { key: tenantKey, crewId: crew.createCrew.crew.id as string };
    }),
  );
  const tenantOf = (name: string) => tenants[name.startsWith('A') ? 0 : 1]!;
  const ids = new Map<string, string>();
  return {
    started,
    /** Starts run `name` (A… for tenant A, B… for tenant B). */
    async start(name: string) {
      const t = tenantOf(name);
      const d = await gqlOk(
        fair.url,
        'mutation($input: StartRunInput!) { startRun(input: $input) { run { id } } }',
        { input: { crewId: t.crewId, inputs: { q: name } } },
        t.key,
      );
      ids.set(name, d.startRun.run.id);
    },
    cancel: (name: string) =>
      gqlOk(
        fair.url,
        'mutation($id: ID!) { cancelRun(id: $id) { run { id } } }',
        { id: ids.get(name) },
        tenantOf(name).key,
      ),
    /** Waits until n runs have started, in all. */
    async startedCount(n: number) {
      for (let i = 0; i < 1000 && started.length < n; i++) await new Promise((r) => setTimeout(r, 10));
      expect(started.length).toBe(n);
    },
    /** Lets the oldest held run finish, which frees a slot for the next. */
    release: () => held.shift()!(),
    async close() {
      open = true;
      for (const release of held.splice(0)) release();
      await fair.closeAll();
      await gated.close();
    },
  };
}

test('runs start in fair turns between tenants: one tenant’s backlog does not hold up another’s runs', async () => {
  const t = await fairTurns();
  try {
    // Tenant A queues six runs: two start, four wait. Then tenant B queues two.
    for (let i = 1; i <= 6; i++) {
      await t.start(`A${i}`);
      if (i <= 2) await t.startedCount(i);
    }
    await t.start('B1');
    await t.start('B2');
    for (let n = 3; n <= 8; n++) {
      t.release();
      await t.startedCount(n);
    }
    // B's runs took turns with A's backlog instead of waiting behind all of it (first come, first
    // served: A1 … A6, B1, B2); each tenant's own runs kept their order.
    expect(t.started).toEqual(['A1', 'A2', 'A3', 'B1', 'A4', 'B2', 'A5', 'A6']);
  } finally {
    await t.close();
  }
});

test('a tenant that cancelled its waiting runs is not held back by the turns it gave up', async () => {
  const t = await fairTurns();
  try {
    for (let i = 1; i <= 6; i++) {
      await t.start(`A${i}`);
      if (i <= 2) await t.startedCount(i);
    }
    for (const name of ['B1', 'B2', 'B3']) await t.start(name);
    for (let i = 3; i <= 6; i++) await t.cancel(`A${i}`);
    await t.start('A7');
    for (let n = 3; n <= 6; n++) {
      t.release();
      await t.startedCount(n);
    }
    // A7 takes its turn after B1, not after B's whole backlog (nor after the four cancelled runs).
    expect(t.started).toEqual(['A1', 'A2', 'B1', 'A7', 'B2', 'B3']);
  } finally {
    await t.close();
  }
});
