import { createOpenAICompatibleTestServer, type OpenAICompatibleTestServer } from '@troupe/agents/testing';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { BACKEND, pgAdmin, startTestServer, type TestServer } from './support/backend.js';
import { CREATE_CREW, createTenant, gql, gqlOk, SAMPLE_CREW } from './support/graphql-client.js';
import { sseSubscribe } from './support/sse-client.js';

let llm: OpenAICompatibleTestServer;
let server: TestServer;
let key: string;
let agentId: string;
let topicCrewId: string;
let chatCrewId: string;

interface ThreadEvent {
  seq: number;
  runId: string;
  runSeq: number;
  type: string;
  delta: string | null;
  data: any;
}

const THREAD_EVENTS = `subscription($threadId: ID!, $afterSeq: Int) { threadEvents(threadId: $threadId, afterSeq: $afterSeq) { seq runId runSeq type delta data } }`;
const CREATE_THREAD = `mutation($input: CreateThreadInput!) { createThread(input: $input) { thread { id concurrency subject } } }`;
const SEND = `mutation($input: SendMessageInput!) { sendMessage(input: $input) { message { id role content } run { id status } } }`;
const MESSAGES = `query($id: ID!) { thread(id: $id) { lastSeq messages(first: 50) { edges { node { id role content run { id } } } } } }`;

const openaiModel = { provider: 'OPENAI', name: 'test-model' };

beforeAll(async () => {
  llm = await createOpenAICompatibleTestServer();
  server = await startTestServer({ providers: { openai: { baseUrl: llm.url, apiKey: 'test' } } });
  ({ key } = await createTenant(server.url, server.admin, 'threads'));
  const crew = await gqlOk(
    server.url,
    CREATE_CREW,
    { input: { ...SAMPLE_CREW, agents: SAMPLE_CREW.agents.map((a) => ({ ...a, model: openaiModel })) } },
    key,
  );
  topicCrewId = crew.createCrew.crew.id;
  agentId = crew.createCrew.crew.agents.find((a: { name: string }) => a.name === 'writer').id;
  const chat = await gqlOk(
    server.url,
    CREATE_CREW,
    {
      input: {
        name: 'Support crew',
        process: 'SEQUENTIAL',
        agents: [{ name: 'helper', role: 'Support agent', goal: 'Help', backstory: '', model: openaiModel }],
        tasks: [{ name: 'answer', description: 'Answer the customer: {{message}}', agent: 'helper' }],
      },
    },
    key,
  );
  chatCrewId = chat.createCrew.crew.id;
});
afterAll(async () => {
  await server?.closeAll();
  await llm?.close();
});

async function createThread(input: Record<string, unknown>, token = key) {
  return (await gqlOk(server.url, CREATE_THREAD, { input }, token)).createThread.thread as {
    id: string;
    concurrency: string;
    subject: string | null;
  };
}

async function send(threadId: string, content: string, token = key) {
  return (await gqlOk(server.url, SEND, { input: { threadId, content } }, token)).sendMessage as {
    message: { id: string; role: string; content: string };
    run: { id: string; status: string };
  };
}

/** Streams a thread's events until `done` says so (a thread's stream never ends by itself). */
async function watch(
  threadId: string,
  done: (events: ThreadEvent[]) => boolean,
  afterSeq = 0,
  token = key,
): Promise<ThreadEvent[]> {
  const out: ThreadEvent[] = [];
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), 20_000);
  try {
    for await (const r of sseSubscribe(server.url, THREAD_EVENTS, { threadId, afterSeq }, token, ac.signal)) {
      if (r.errors) throw new Error(JSON.stringify(r.errors));
      out.push(r.data.threadEvents);
      if (done(out)) break;
    }
  } finally {
    clearTimeout(timer);
    ac.abort();
  }
  return out;
}

const runsEnded = (n: number) => (evs: ThreadEvent[]) =>
  evs.filter((e) => ['RUN_SUCCEEDED', 'RUN_FAILED', 'RUN_CANCELLED'].includes(e.type)).length >= n;

function lastRequestMessages() {
  return (llm.chatRequests.at(-1)!.body as { messages: { role: string; content: string }[] }).messages;
}

describe('a chat with one agent', () => {
  test('the reply streams on threadEvents and is stored; the next message sees the history', async () => {
    const thread = await createThread({ agentId, title: 'Otters' });
    expect(thread.concurrency).toBe('REJECT');
    llm.enqueue({ text: ['Otters ', 'hold ', 'hands.'] });
    const first = await send(thread.id, 'Tell me a fact about otters.');
    expect(first.message).toMatchObject({ role: 'USER', content: 'Tell me a fact about otters.' });

    const evs = await watch(thread.id, runsEnded(1));
    expect(evs.map((e) => e.seq)).toEqual(evs.map((_e, i) => i + 1));
    expect(evs[0]).toMatchObject({ type: 'MESSAGE_CREATED', runSeq: 1 });
    expect(evs[0]!.data.message).toMatchObject({ id: first.message.id, role: 'USER' });
    const reply = evs.find((e) => e.type === 'MESSAGE_CREATED' && e.data.message.role === 'ASSISTANT')!;
    const streamed = evs
      .filter((e) => e.type === 'TOKEN')
      .map((e) => e.delta)
      .join('');
    expect(streamed).toBe('Otters hold hands.');
    expect(reply.data.message.content).toBe(streamed);
    expect(evs.at(-1)!.type).toBe('RUN_SUCCEEDED');

    // Only the chosen agent answered, with the message in its task.
    expect(JSON.stringify(lastRequestMessages())).toContain('Tell me a fact about otters.');
    expect(lastRequestMessages()[0]!.content).toContain('You are writer');

    llm.enqueue({ text: 'They also have pockets.' });
    await send(thread.id, 'Another one?');
    const more = await watch(thread.id, runsEnded(1), evs.length);
    expect(more[0]!.seq).toBe(evs.length + 1);
    const msgs = lastRequestMessages();
    expect(msgs.map((m) => m.role)).toEqual(['system', 'user', 'assistant', 'user']);
    expect(msgs[1]!.content).toBe('Tell me a fact about otters.');
    expect(msgs[2]!.content).toBe('Otters hold hands.');
    expect(msgs[3]!.content).toContain('Another one?');

    const d = await gqlOk(server.url, MESSAGES, { id: thread.id }, key);
    expect(d.thread.messages.edges.map((e: any) => [e.node.role, e.node.content])).toEqual([
      ['USER', 'Tell me a fact about otters.'],
      ['ASSISTANT', 'Otters hold hands.'],
      ['USER', 'Another one?'],
      ['ASSISTANT', 'They also have pockets.'],
    ]);
    expect(d.thread.lastSeq).toBe(evs.length + more.length);
  });

  test('resumeSeq: just before the answering run’s first event while it runs, lastSeq otherwise', async () => {
    const RESUME = `query($id: ID!) { thread(id: $id) { lastSeq resumeSeq } }`;
    const seqs = async () => (await gqlOk(server.url, RESUME, { id: thread.id }, key)).thread;
    const thread = await createThread({ agentId });
    expect(await seqs()).toEqual({ lastSeq: 0, resumeSeq: 0 });
    llm.enqueue({ text: 'first reply' }, { hang: true });
    await send(thread.id, 'one');
    const first = await watch(thread.id, runsEnded(1));
    expect(await seqs()).toEqual({ lastSeq: first.length, resumeSeq: first.length });

    const answering = await send(thread.id, 'two');
    await watch(thread.id, (evs) => evs.some((e) => e.type === 'TASK_STARTED'), first.length);
    const during = await seqs();
    expect(during.lastSeq).toBeGreaterThan(first.length + 1);
    expect(during.resumeSeq).toBe(first.length);
    // From there, a viewer that opens the chat now sees the answering run from its user message on.
    const replay = await watch(
      thread.id,
      (evs) => evs.length >= during.lastSeq - during.resumeSeq,
      during.resumeSeq,
    );
    expect(replay[0]).toMatchObject({ type: 'MESSAGE_CREATED', runId: answering.run.id, runSeq: 1 });
    expect(replay.every((e) => e.runId === answering.run.id)).toBe(true);

    await gqlOk(
      server.url,
      'mutation($id: ID!) { cancelRun(id: $id) { run { id } } }',
      { id: answering.run.id },
      key,
    );
    await watch(thread.id, runsEnded(1), during.lastSeq);
    const after = await seqs();
    expect(after.resumeSeq).toBe(after.lastSeq);
  });

  test('history is windowed to the thread’s token budget, newest kept', async () => {
    const thread = await createThread({ agentId, historyTokens: 30 });
    const long = 'x'.repeat(200); // ~50 tokens: over the budget on its own
    llm.enqueue({ text: 'ok one' }, { text: 'ok two' }, { text: 'ok three' });
    await send(thread.id, long);
    await watch(thread.id, runsEnded(1));
    await send(thread.id, 'short question');
    await watch(thread.id, runsEnded(2));
    await send(thread.id, 'third');
    await watch(thread.id, runsEnded(3));
    const msgs = lastRequestMessages();
    const history = msgs.slice(1, -1).map((m) => m.content);
    expect(history).toEqual(['short question', 'ok two']);
  });

  test('REJECT: a message sent while the previous reply is streaming is refused, nothing written', async () => {
    const thread = await createThread({ agentId });
    llm.enqueue({ text: ['slow ', 'reply ', 'here'], chunkDelayMs: 300 });
    await send(thread.id, 'first');
    const r = await gql(server.url, SEND, { input: { threadId: thread.id, content: 'second' } }, key);
    expect(r.errors?.[0]?.extensions?.code).toBe('CONFLICT');
    expect(r.errors?.[0]?.message).toMatch(/still going/);
    await watch(thread.id, runsEnded(1));
    const d = await gqlOk(server.url, MESSAGES, { id: thread.id }, key);
    expect(d.thread.messages.edges.map((e: any) => e.node.content)).toEqual(['first', 'slow reply here']);
  });

  test('ENQUEUE: messages sent while a reply streams wait their turn and see the replies before them', async () => {
    const thread = await createThread({ agentId, concurrency: 'ENQUEUE' });
    llm.enqueue(
      { text: ['first ', 'answer'], chunkDelayMs: 200 },
      { text: 'second answer' },
      { text: 'third answer' },
    );
    const a = await send(thread.id, 'q1');
    const b = await send(thread.id, 'q2');
    const c = await send(thread.id, 'q3');
    expect(b.run.status).toBe('QUEUED');
    const evs = await watch(thread.id, runsEnded(3));
    expect(evs.map((e) => e.seq)).toEqual(evs.map((_e, i) => i + 1));
    // Runs answered one after another, in the order the messages were sent.
    const starts = evs.filter((e) => e.type === 'RUN_STARTED').map((e) => e.runId);
    expect(starts).toEqual([a.run.id, b.run.id, c.run.id]);
    const ends = evs.filter((e) => e.type === 'RUN_SUCCEEDED').map((e) => e.seq);
    const startSeqs = evs.filter((e) => e.type === 'RUN_STARTED').map((e) => e.seq);
    expect(startSeqs[1]).toBeGreaterThan(ends[0]!);
    expect(startSeqs[2]).toBeGreaterThan(ends[1]!);
    const msgs = lastRequestMessages();
    expect(msgs.slice(1, -1).map((m) => m.content)).toEqual(['q1', 'first answer', 'q2', 'second answer']);
  });

  test('cancelling the running reply lets the next queued message go', async () => {
    const thread = await createThread({ agentId, concurrency: 'ENQUEUE' });
    llm.enqueue({ hang: true }, { text: 'after cancel' });
    const a = await send(thread.id, 'hangs');
    const b = await send(thread.id, 'next');
    await watch(thread.id, (evs) => evs.some((e) => e.type === 'TASK_STARTED'));
    await gqlOk(
      server.url,
      'mutation($id: ID!) { cancelRun(id: $id) { run { id } } }',
      { id: a.run.id },
      key,
    );
    const evs = await watch(thread.id, runsEnded(2));
    expect(evs.filter((e) => e.type === 'RUN_CANCELLED').map((e) => e.runId)).toEqual([a.run.id]);
    expect(evs.filter((e) => e.type === 'RUN_SUCCEEDED').map((e) => e.runId)).toEqual([b.run.id]);
  });
});

test.runIf(BACKEND === 'postgres')(
  'cancelling a waiting message while the reply before it ends does not deadlock',
  async () => {
    // The reply's last batch locks the thread (appending to its log), then releases the waiting
    // run. A cancel of that waiting run must not hold the run while it waits for the thread.
    const thread = await createThread({ agentId, concurrency: 'ENQUEUE' });
    llm.enqueue({ hang: true });
    const a = await send(thread.id, 'hangs');
    const b = await send(thread.id, 'waits');
    await watch(thread.id, (evs) => evs.some((e) => e.type === 'TASK_STARTED'));
    const ids = await pgAdmin(
      (c) =>
        c
          .query('SELECT "id" FROM "Run" WHERE "threadId" = $1 ORDER BY "createdAt"', [
            Buffer.from(thread.id, 'base64').toString().split(':')[1],
          ])
          .then((r) => r.rows.map((row) => row.id as string)),
      server.databaseUrl,
    );
    expect(ids).toHaveLength(2);
    const ender = new pg.Client({ connectionString: server.databaseUrl });
    await ender.connect();
    try {
      // The ending reply, as its store does it: the thread first, ...
      await ender.query('BEGIN');
      await ender.query('UPDATE "Thread" SET "lastSeq" = "lastSeq" WHERE "id" = $1', [
        Buffer.from(thread.id, 'base64').toString().split(':')[1],
      ]);
      const cancel = gql(
        server.url,
        'mutation($id: ID!) { cancelRun(id: $id) { run { id } } }',
        { id: b.run.id },
        key,
      );
      await new Promise((r) => setTimeout(r, 300));
      // ... then the waiting run (released to go next). Before the fix this is a deadlock: one of
      // the two transactions is aborted after deadlock_timeout.
      await ender.query('UPDATE "Run" SET "waitingForThread" = "waitingForThread" WHERE "id" = $1', [ids[1]]);
      await ender.query('COMMIT');
      const r = await cancel;
      expect(r.errors).toBeUndefined();
    } finally {
      await ender.end();
    }
    const status = async (id: string) =>
      (await gqlOk(server.url, 'query($id: ID!) { run(id: $id) { status } }', { id }, key)).run.status;
    expect(await status(b.run.id)).toBe('CANCELLED');
    await gqlOk(
      server.url,
      'mutation($id: ID!) { cancelRun(id: $id) { run { id } } }',
      { id: a.run.id },
      key,
    );
    await watch(thread.id, runsEnded(2));
  },
);

test('an agent with chat threads is not removed or renamed by updateCrew: its threads stay', async () => {
  const helper = { name: 'helper', role: 'Support agent', goal: 'Help', backstory: '', model: openaiModel };
  const crew = (
    await gqlOk(
      server.url,
      CREATE_CREW,
      {
        input: {
          name: 'Renamed crew',
          process: 'SEQUENTIAL',
          agents: [helper],
          tasks: [{ name: 'answer', description: 'Answer: {{message}}', agent: 'helper' }],
        },
      },
      key,
    )
  ).createCrew.crew;
  const thread = await createThread({ agentId: crew.agents[0].id });
  llm.enqueue({ text: 'kept answer' });
  await send(thread.id, 'kept question');
  await watch(thread.id, runsEnded(1));
  const UPDATE = 'mutation($input: UpdateCrewInput!) { updateCrew(input: $input) { crew { version } } }';
  const renamed = await gql(
    server.url,
    UPDATE,
    {
      input: {
        id: crew.id,
        agents: [{ ...helper, name: 'assistant' }],
        tasks: [{ name: 'answer', description: 'Answer: {{message}}', agent: 'assistant' }],
      },
    },
    key,
  );
  expect(renamed.errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT', field: 'input.agents' });
  expect(renamed.errors?.[0]?.message).toMatch(/"helper" \(1 thread\).*deleteThread/);
  const messages = (await gqlOk(server.url, MESSAGES, { id: thread.id }, key)).thread.messages.edges.map(
    (e: any) => e.node.content,
  );
  expect(messages).toEqual(['kept question', 'kept answer']);
  // Keeping the name, the agent may change; the thread goes on with it.
  const changed = await gqlOk(
    server.url,
    UPDATE,
    { input: { id: crew.id, agents: [{ ...helper, goal: 'Help kindly' }] } },
    key,
  );
  expect(changed.updateCrew.crew.version).toBe(2);
  llm.enqueue({ text: 'second answer' });
  await send(thread.id, 'again');
  expect((await watch(thread.id, runsEnded(2))).at(-1)!.type).toBe('RUN_SUCCEEDED');
});

describe('a chat with a crew', () => {
  test('the crew’s templates get {{message}}; a crew needing other inputs is refused', async () => {
    const bad = await gql(server.url, CREATE_THREAD, { input: { crewId: topicCrewId } }, key);
    expect(bad.errors?.[0]?.extensions?.code).toBe('BAD_INPUT');
    expect(bad.errors?.[0]?.message).toMatch(/\{\{topic\}\}/);

    const thread = await createThread({ crewId: chatCrewId });
    llm.enqueue({ text: 'Try turning it off and on.' });
    await send(thread.id, 'My router is broken');
    const evs = await watch(thread.id, runsEnded(1));
    expect(evs.at(-1)!.type).toBe('RUN_SUCCEEDED');
    expect(JSON.stringify(lastRequestMessages())).toContain('Answer the customer: My router is broken');
  });

  test('bad input is a clear error and writes nothing', async () => {
    const both = await gql(server.url, CREATE_THREAD, { input: { crewId: chatCrewId, agentId } }, key);
    expect(both.errors?.[0]?.message).toMatch(/exactly one of crewId and agentId/);
    const thread = await createThread({ agentId });
    const empty = await gql(server.url, SEND, { input: { threadId: thread.id, content: '  ' } }, key);
    expect(empty.errors?.[0]).toMatchObject({ extensions: { code: 'BAD_INPUT' } });
    expect(empty.errors?.[0]?.message).toMatch(/input.content/);
    const d = await gqlOk(server.url, MESSAGES, { id: thread.id }, key);
    expect(d.thread.messages.edges).toEqual([]);
    expect(d.thread.lastSeq).toBe(0);
  });
});

describe('idempotency keys and retries', () => {
  test('a key names one message: its retry gets it back; other content, or a startRun, is refused and shown nothing', async () => {
    const thread = await createThread({ crewId: chatCrewId, concurrency: 'ENQUEUE' });
    const sendKeyed = (content: string, idempotencyKey: string) =>
      gql(server.url, SEND, { input: { threadId: thread.id, content, idempotencyKey } }, key);
    llm.setFallback(() => ({ text: 'Noted.' }));
    const first = await sendKeyed('Please reset my password', 'msg-1');
    const again = await sendKeyed('Please reset my password', 'msg-1');
    expect([again.data!.sendMessage.message.id, again.data!.sendMessage.run.id]).toEqual([
      first.data!.sendMessage.message.id,
      first.data!.sendMessage.run.id,
    ]);
    const other = await sendKeyed('Delete my account', 'msg-1');
    expect(other.errors?.[0]).toMatchObject({
      extensions: { code: 'CONFLICT' },
      message: expect.stringMatching(/already used for a message with other content/),
    });
    // startRun with the key of someone's message: refused, not answered with that chat's run.
    const started = await gql(
      server.url,
      'mutation($input: StartRunInput!) { startRun(input: $input) { run { id inputs output } } }',
      { input: { crewId: chatCrewId, inputs: { message: 'x' }, idempotencyKey: 'msg-1' } },
      key,
    );
    expect(started.data?.startRun ?? null).toBeNull();
    expect(started.errors?.[0]).toMatchObject({
      extensions: { code: 'CONFLICT' },
      message: expect.stringMatching(/already used for a message/),
    });
    expect(JSON.stringify(started)).not.toContain('reset my password');
    await watch(thread.id, runsEnded(1));
    const d = await gqlOk(server.url, MESSAGES, { id: thread.id }, key);
    expect(d.thread.messages.edges.map((e: any) => e.node.content)).toEqual([
      'Please reset my password',
      'Noted.',
    ]);
  });

  test("a chat run follows its crew's retry policy", async () => {
    const crew = await gqlOk(
      server.url,
      CREATE_CREW,
      {
        input: {
          name: 'Retrying support crew',
          process: 'SEQUENTIAL',
          retry: { maxAttempts: 2, backoffMs: 50 },
          agents: [
            { name: 'helper', role: 'Support agent', goal: 'Help', backstory: '', model: openaiModel },
          ],
          tasks: [{ name: 'answer', description: 'Answer the customer: {{message}}', agent: 'helper' }],
        },
      },
      key,
    );
    const thread = await createThread({ crewId: crew.createCrew.crew.id });
    // The provider is overloaded once (a Retry-After the client will not wait for), then answers.
    llm.enqueue(
      { error: { status: 503, message: 'model server overloaded', headers: { 'retry-after': '3600' } } },
      { text: 'Back now: here is your answer.' },
    );
    await send(thread.id, 'Are you there?');
    const evs = await watch(thread.id, runsEnded(1));
    expect(evs.map((e) => e.type)).toContain('RUN_RETRYING');
    expect(evs.at(-1)!.type).toBe('RUN_SUCCEEDED');
    const d = await gqlOk(server.url, MESSAGES, { id: thread.id }, key);
    expect(d.thread.messages.edges.map((e: any) => e.node.content)).toEqual([
      'Are you there?',
      'Back now: here is your answer.',
    ]);
  });
});

describe('end users (session tokens)', () => {
  async function token(input: Record<string, unknown>) {
    const d = await gqlOk(
      server.url,
      'mutation($input: CreateSessionTokenInput!) { createSessionToken(input: $input) { token } }',
      { input: { ttlSeconds: 600, scopes: ['READ', 'WRITE'], ...input } },
      key,
    );
    return d.createSessionToken.token as string;
  }

  test("a user does not see another user's chat runs, in any form; runs outside threads stay visible", async () => {
    const dave = await token({ subject: 'dave-runs' });
    const erin = await token({ subject: 'erin-runs' });
    // erin watches the tenant's run updates while dave chats and the app runs a crew.
    const ac = new AbortController();
    const updated: string[] = [];
    const watching = (async () => {
      try {
        for await (const r of sseSubscribe(
          server.url,
          'subscription { runUpdated { id } }',
          {},
          erin,
          ac.signal,
        )) {
          if (r.errors) throw new Error(JSON.stringify(r.errors));
          updated.push(r.data.runUpdated.id);
        }
      } catch (err) {
        if (!ac.signal.aborted) throw err;
      }
    })();
    await new Promise((r) => setTimeout(r, 300));
    const thread = await createThread({ agentId }, dave);
    llm.enqueue({ text: 'a private answer' });
    const chat = (await send(thread.id, 'my private question', dave)).run.id;
    await watch(thread.id, runsEnded(1), 0, dave);
    llm.enqueue({ text: 'a shared report' });
    const shared = (
      await gqlOk(
        server.url,
        'mutation($input: StartRunInput!) { startRun(input: $input) { run { id } } }',
        { input: { crewId: chatCrewId, inputs: { message: 'for everyone' } } },
        key,
      )
    ).startRun.run.id as string;
    const ended = 'query($id: ID!) { run(id: $id) { status } }';
    while (['QUEUED', 'RUNNING'].includes((await gqlOk(server.url, ended, { id: shared }, key)).run.status))
      await new Promise((r) => setTimeout(r, 50));
    await new Promise((r) => setTimeout(r, 300));
    ac.abort();
    await watching;

    const listed = async (t: string) =>
      (await gqlOk(server.url, '{ runs(first: 100) { edges { node { id } } } }', {}, t)).runs.edges.map(
        (e: any) => e.node.id,
      );
    expect(await listed(dave)).toEqual(expect.arrayContaining([chat, shared]));
    const erinSees = await listed(erin);
    expect(erinSees).toContain(shared);
    expect(erinSees).not.toContain(chat);
    expect(updated).toContain(shared);
    expect(updated).not.toContain(chat);
    // The chat run's task run (its id is no secret to whoever saw it once) carries the reply too.
    const taskRunId = (
      await gqlOk(
        server.url,
        'query($id: ID!) { run(id: $id) { taskRuns { id output } } }',
        { id: chat },
        dave,
      )
    ).run.taskRuns[0].id as string;
    expect(
      (
        await gqlOk(
          server.url,
          'query($id: ID!) { node(id: $id) { ... on TaskRun { output } } }',
          { id: taskRunId },
          dave,
        )
      ).node.output,
    ).toBe('a private answer');
    for (const [query, vars] of [
      ['query($id: ID!) { run(id: $id) { status } }', { id: chat }],
      ['query($id: ID!) { run(id: $id) { inputs thread { id } } }', { id: chat }],
      ['query($id: ID!) { node(id: $id) { id } }', { id: chat }],
      ['query($id: ID!) { node(id: $id) { id ... on TaskRun { output } } }', { id: taskRunId }],
      ['mutation($id: ID!) { cancelRun(id: $id) { run { id } } }', { id: chat }],
    ] as const) {
      const r = await gql(server.url, query, vars, erin);
      expect(r.data?.node ?? null).toBeNull();
      if (!('node' in (r.data ?? {}))) expect(r.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    }
    const stream = [];
    for await (const r of sseSubscribe(
      server.url,
      'subscription($id: ID!) { runEvents(runId: $id) { type } }',
      { id: chat },
      erin,
    ))
      stream.push(r);
    expect(stream).toHaveLength(1);
    expect(stream[0]!.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    expect(
      (await gqlOk(server.url, 'query($id: ID!) { run(id: $id) { status } }', { id: shared }, erin)).run
        .status,
    ).toBe('SUCCEEDED');
  });

  test("runs outside threads: a user's own are theirs alone; the tenant's are read by all, acted on by none", async () => {
    const frank = await token({ subject: 'frank-runs' });
    const gina = await token({ subject: 'gina-runs' });
    const START = 'mutation($input: StartRunInput!) { startRun(input: $input) { run { id subject } } }';
    const CANCEL = 'mutation($id: ID!) { cancelRun(id: $id) { run { id } } }';
    const RUN = 'query($id: ID!) { run(id: $id) { status inputs } }';
    // Slow answers: every run is still going when it is cancelled.
    llm.setFallback(() => ({ text: Array.from({ length: 100 }, (_, i) => `x${i} `), chunkDelayMs: 30 }));
    try {
      const start = async (t: string, input: Record<string, unknown>) =>
        (await gqlOk(server.url, START, { input: { crewId: chatCrewId, ...input } }, t)).startRun.run;
      // Frank's own run: Gina sees nothing of it (its inputs are Frank's).
      const franks = await start(frank, { inputs: { message: 'frank private' } });
      expect(franks.subject).toBe('frank-runs');
      expect((await gql(server.url, RUN, { id: franks.id }, gina)).errors?.[0]?.extensions?.code).toBe(
        'NOT_FOUND',
      );
      expect((await gql(server.url, CANCEL, { id: franks.id }, gina)).errors?.[0]?.extensions?.code).toBe(
        'NOT_FOUND',
      );
      // A session token starts runs for its own subject only.
      const posing = await gql(
        server.url,
        START,
        { input: { crewId: chatCrewId, inputs: { message: 'x' }, subject: 'gina-runs' } },
        frank,
      );
      expect(posing.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
      // The tenant's run (an API key's, for no one): read by both users, cancelled by neither.
      const tenants = await start(key, { inputs: { message: 'for everyone' } });
      expect((await gqlOk(server.url, RUN, { id: tenants.id }, gina)).run.inputs).toEqual({
        message: 'for everyone',
      });
      const refused = await gql(server.url, CANCEL, { id: tenants.id }, gina);
      expect(refused.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
      expect((await gqlOk(server.url, RUN, { id: tenants.id }, key)).run.status).not.toBe('CANCELLED');
      // A run an API key starts for Gina: hers to cancel; Frank cannot see it.
      const forGina = await start(key, { inputs: { message: 'for gina' }, subject: 'gina-runs' });
      expect((await gql(server.url, RUN, { id: forGina.id }, frank)).errors?.[0]?.extensions?.code).toBe(
        'NOT_FOUND',
      );
      await gqlOk(server.url, CANCEL, { id: forGina.id }, gina);
      await gqlOk(server.url, CANCEL, { id: franks.id }, frank);
      await gqlOk(server.url, CANCEL, { id: tenants.id }, key);
      for (const id of [forGina.id, franks.id, tenants.id]) {
        let status = '';
        for (let i = 0; i < 100 && status !== 'CANCELLED'; i++) {
          status = (await gqlOk(server.url, RUN, { id }, key)).run.status;
          if (status !== 'CANCELLED') await new Promise((r) => setTimeout(r, 50));
        }
        expect(status).toBe('CANCELLED');
      }
    } finally {
      llm.setFallback(() => ({ text: 'ok' }));
    }
  });

  test('a user sees only their own threads; a token limited to a thread can touch only that one', async () => {
    const alice = await token({ subject: 'alice' });
    const bob = await token({ subject: 'bob' });
    const aliceThread = await createThread({ agentId }, alice);
    expect(aliceThread.subject).toBe('alice');
    const other = await createThread({ agentId });

    for (const [query, vars] of [
      [MESSAGES, { id: aliceThread.id }],
      [SEND, { input: { threadId: aliceThread.id, content: 'hi' } }],
      ['query($id: ID!) { node(id: $id) { id } }', { id: aliceThread.id }],
    ] as const) {
      const r = await gql(server.url, query, vars, bob);
      expect(r.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    }
    const bobList = await gqlOk(server.url, '{ threads(first: 50) { edges { node { id } } } }', {}, bob);
    expect(bobList.threads.edges).toEqual([]);
    const aliceList = await gqlOk(server.url, '{ threads(first: 50) { edges { node { id } } } }', {}, alice);
    expect(aliceList.threads.edges.map((e: any) => e.node.id)).toEqual([aliceThread.id]);

    const limited = await token({ subject: 'carol', threadIds: [other.id] });
    llm.enqueue({ text: 'hello carol' });
    const sent = await send(other.id, 'hi', limited);
    const evs = await watch(other.id, runsEnded(1), 0, limited);
    expect(evs.at(-1)!.type).toBe('RUN_SUCCEEDED');
    expect(
      (await gqlOk(server.url, 'query($id: ID!) { run(id: $id) { status } }', { id: sent.run.id }, limited))
        .run.status,
    ).toBe('SUCCEEDED');
    const elsewhere = await gql(server.url, MESSAGES, { id: aliceThread.id }, limited);
    expect(elsewhere.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    const start = await gql(
      server.url,
      'mutation($input: StartRunInput!) { startRun(input: $input) { run { id } } }',
      { input: { crewId: chatCrewId, inputs: { message: 'x' } } },
      limited,
    );
    expect(start.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const runs = await gqlOk(server.url, '{ runs(first: 100) { edges { node { id } } } }', {}, limited);
    expect(runs.runs.edges.map((e: any) => e.node.id)).toEqual([sent.run.id]);
    const stream = sseSubscribe(server.url, THREAD_EVENTS, { threadId: aliceThread.id }, limited);
    const first = await stream.next();
    expect(first.value?.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
  });

  test('a session token streams only the threads and runs it may see: NOT_FOUND for the others', async () => {
    const dave = await token({ subject: 'dave' });
    const erin = await token({ subject: 'erin' });
    const thread = await createThread({ agentId }, dave);
    llm.enqueue({ text: 'hello dave' });
    const sent = await send(thread.id, 'hi', dave);
    expect((await watch(thread.id, runsEnded(1), 0, dave)).at(-1)!.type).toBe('RUN_SUCCEEDED');
    const RUN_EVENTS = 'subscription($id: ID!) { runEvents(runId: $id) { seq type } }';
    const results = async (query: string, vars: Record<string, unknown>, t: string) => {
      const out = [];
      for await (const r of sseSubscribe(server.url, query, vars, t)) out.push(r);
      return out;
    };
    // The thread's own subject, and a token limited to the thread, may watch the run.
    for (const t of [dave, await token({ subject: 'x', threadIds: [thread.id] })]) {
      const evs = await results(RUN_EVENTS, { id: sent.run.id }, t);
      expect(evs.every((r) => !r.errors)).toBe(true);
      expect(evs.at(-1)!.data.runEvents.type).toBe('RUN_SUCCEEDED');
    }
    // Another subject cannot watch the thread; a token limited to another thread cannot watch the run.
    const other = await createThread({ agentId });
    for (const [query, vars, t] of [
      [THREAD_EVENTS, { threadId: thread.id }, erin],
      [RUN_EVENTS, { id: sent.run.id }, await token({ subject: 'x', threadIds: [other.id] })],
      [RUN_EVENTS, { id: sent.run.id }, await token({ subject: 'x', threadIds: [] })],
    ] as const) {
      const r = await results(query, vars, t);
      expect(r).toHaveLength(1);
      expect(r[0]!.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    }
  });
});

test('deleteThread removes its messages and runs; a running reply must be cancelled first', async () => {
  const thread = await createThread({ agentId });
  llm.enqueue({ text: 'bye' });
  const sent = await send(thread.id, 'hello');
  await watch(thread.id, runsEnded(1));
  const del = await gqlOk(
    server.url,
    'mutation($id: ID!) { deleteThread(id: $id) { deletedId } }',
    { id: thread.id },
    key,
  );
  expect(del.deleteThread.deletedId).toBe(thread.id);
  for (const [q, id] of [
    [MESSAGES, thread.id],
    ['query($id: ID!) { run(id: $id) { id } }', sent.run.id],
  ] as const) {
    const r = await gql(server.url, q, { id }, key);
    expect(r.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
  }
});
