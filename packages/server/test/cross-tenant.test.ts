// Tenant isolation through the API: tenant B, holding A's global ids, can neither see nor change
// anything of A's. Later features add their operations to `crossTenantCases`.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { BACKEND, startTestServer, type TestServer } from './support/backend.js';
import { createTenant, type GqlResult, gql, gqlOk, SAMPLE_CREW } from './support/graphql-client.js';

/** Global ids of tenant A's objects, as B might have learnt them. */
export interface TenantAIds {
  tenant: string;
  crew: string;
  agents: string[];
  tasks: string[];
  apiKey: string;
  run: string;
  taskRuns: string[];
  thread: string;
  message: string;
  webhook: string;
  webhookDelivery: string;
  inboundHook: string;
}

export interface CrossTenantCase {
  name: string;
  query: string;
  variables: (ids: TenantAIds) => Record<string, unknown>;
  /** Checks B's response; default: an error with code NOT_FOUND and no data. */
  verify?: (r: GqlResult, ids: TenantAIds) => void;
  /** Operations session tokens may never call answer them FORBIDDEN before looking anything up. */
  sessionForbidden?: boolean;
}

const SECRET_NAME = 'Tenant A confidential crew';

function expectCode(r: GqlResult, code: string): void {
  expect(
    r.errors?.map((e) => e.extensions?.code),
    JSON.stringify(r),
  ).toContain(code);
  for (const v of Object.values(r.data ?? {})) expect(v).toBeNull();
}

const expectNotFound = (r: GqlResult) => expectCode(r, 'NOT_FOUND');

const NODE = 'query($id: ID!) { node(id: $id) { id __typename } }';

export const crossTenantCases: CrossTenantCase[] = [
  {
    name: 'crew(id)',
    query: 'query($id: ID!) { crew(id: $id) { id name agents { id } } }',
    variables: (ids) => ({ id: ids.crew }),
  },
  { name: 'node(crew)', query: NODE, variables: (ids) => ({ id: ids.crew }) },
  { name: 'node(agent)', query: NODE, variables: (ids) => ({ id: ids.agents[0] }) },
  { name: 'node(task)', query: NODE, variables: (ids) => ({ id: ids.tasks[1] }) },
  { name: 'node(apiKey)', query: NODE, variables: (ids) => ({ id: ids.apiKey }) },
  { name: 'node(tenant)', query: NODE, variables: (ids) => ({ id: ids.tenant }) },
  {
    name: 'node(crew) asking for its fields',
    query: 'query($id: ID!) { node(id: $id) { ... on Crew { name tasks { name } } } }',
    variables: (ids) => ({ id: ids.crew }),
  },
  {
    name: 'nodes(all of A’s ids)',
    query: 'query($ids: [ID!]!) { nodes(ids: $ids) { id __typename } }',
    variables: (ids) => ({ ids: [ids.tenant, ids.crew, ...ids.agents, ...ids.tasks, ids.apiKey] }),
    verify: (r, ids) => {
      // Relay's nodes answers null for each id it cannot resolve; none leaks.
      expect(r.data?.nodes).toEqual(Array(ids.agents.length + ids.tasks.length + 3).fill(null));
    },
  },
  {
    name: 'updateCrew(rename)',
    query: 'mutation($id: ID!) { updateCrew(input: { id: $id, name: "Taken over" }) { crew { id name } } }',
    variables: (ids) => ({ id: ids.crew }),
    sessionForbidden: true,
  },
  {
    name: 'updateCrew(replace agents and tasks)',
    query: `mutation($id: ID!) { updateCrew(input: {
      id: $id,
      agents: [{ name: "mole", role: "Mole", model: { provider: SCRIPTED, name: "echo" } }],
      tasks: [{ name: "leak", description: "Leak everything", agent: "mole" }]
    }) { crew { id } } }`,
    variables: (ids) => ({ id: ids.crew }),
    sessionForbidden: true,
  },
  {
    name: 'deleteCrew',
    query: 'mutation($id: ID!) { deleteCrew(id: $id) { deletedId } }',
    variables: (ids) => ({ id: ids.crew }),
    sessionForbidden: true,
  },
  {
    name: 'revokeApiKey',
    query: 'mutation($id: ID!) { revokeApiKey(id: $id) { apiKey { id revokedAt } } }',
    variables: (ids) => ({ id: ids.apiKey }),
    sessionForbidden: true,
  },
  {
    name: 'run(id)',
    query: 'query($id: ID!) { run(id: $id) { id status output taskRuns { id output } } }',
    variables: (ids) => ({ id: ids.run }),
  },
  {
    // Only the run's own fields: read without Prisma, in one message.
    name: 'run(id), its own fields only',
    query: 'query($id: ID!) { run(id: $id) { id status inputs output usage { costUsd } } }',
    variables: (ids) => ({ id: ids.run }),
  },
  { name: 'node(run)', query: NODE, variables: (ids) => ({ id: ids.run }) },
  { name: 'node(taskRun)', query: NODE, variables: (ids) => ({ id: ids.taskRuns[0] }) },
  {
    name: 'startRun(A’s crew)',
    query: 'mutation($id: ID!) { startRun(input: { crewId: $id, inputs: { topic: "x" } }) { run { id } } }',
    variables: (ids) => ({ id: ids.crew }),
  },
  {
    name: 'cancelRun',
    query: 'mutation($id: ID!) { cancelRun(id: $id) { run { id status } } }',
    variables: (ids) => ({ id: ids.run }),
  },
  {
    name: 'retryRun',
    query: 'mutation($id: ID!) { retryRun(id: $id) { run { id status } } }',
    variables: (ids) => ({ id: ids.run }),
  },
  { name: 'node(webhook)', query: NODE, variables: (ids) => ({ id: ids.webhook }) },
  { name: 'node(webhookDelivery)', query: NODE, variables: (ids) => ({ id: ids.webhookDelivery }) },
  { name: 'node(inboundHook)', query: NODE, variables: (ids) => ({ id: ids.inboundHook }) },
  {
    name: 'webhook deliveries through node',
    query:
      'query($id: ID!) { node(id: $id) { ... on Webhook { url deliveries(first: 5) { edges { node { id payload } } } } } }',
    variables: (ids) => ({ id: ids.webhook }),
  },
  {
    name: 'createWebhook(A’s crew)',
    query:
      'mutation($id: ID!) { createWebhook(input: { crewId: $id, url: "https://b.example/steal" }) { webhook { id } secret } }',
    variables: (ids) => ({ id: ids.crew }),
    sessionForbidden: true,
  },
  {
    name: 'updateWebhook',
    query:
      'mutation($id: ID!) { updateWebhook(input: { id: $id, url: "https://b.example/steal" }) { webhook { id url } } }',
    variables: (ids) => ({ id: ids.webhook }),
    sessionForbidden: true,
  },
  {
    name: 'deleteWebhook',
    query: 'mutation($id: ID!) { deleteWebhook(id: $id) { deletedId } }',
    variables: (ids) => ({ id: ids.webhook }),
    sessionForbidden: true,
  },
  {
    name: 'redeliverWebhook',
    query: 'mutation($id: ID!) { redeliverWebhook(deliveryId: $id) { delivery { id payload } } }',
    variables: (ids) => ({ id: ids.webhookDelivery }),
    sessionForbidden: true,
  },
  {
    name: 'createInboundHook(A’s crew)',
    query: 'mutation($id: ID!) { createInboundHook(crewId: $id) { hook { id } secret } }',
    variables: (ids) => ({ id: ids.crew }),
    sessionForbidden: true,
  },
  {
    name: 'deleteInboundHook',
    query: 'mutation($id: ID!) { deleteInboundHook(id: $id) { deletedId } }',
    variables: (ids) => ({ id: ids.inboundHook }),
    sessionForbidden: true,
  },
  {
    name: 'respondToRun',
    query:
      'mutation($run: ID!, $task: ID!) { respondToRun(input: { runId: $run, taskRunId: $task, approved: true }) { run { id } } }',
    variables: (ids) => ({ run: ids.run, task: ids.taskRuns[0] }),
  },
  {
    name: 'thread(id)',
    query: 'query($id: ID!) { thread(id: $id) { id messages { edges { node { content } } } } }',
    variables: (ids) => ({ id: ids.thread }),
  },
  { name: 'node(thread)', query: NODE, variables: (ids) => ({ id: ids.thread }) },
  { name: 'node(message)', query: NODE, variables: (ids) => ({ id: ids.message }) },
  {
    name: 'createThread(A’s agent)',
    query: 'mutation($id: ID!) { createThread(input: { agentId: $id }) { thread { id } } }',
    variables: (ids) => ({ id: ids.agents[0] }),
  },
  {
    name: 'sendMessage(A’s thread)',
    query:
      'mutation($id: ID!) { sendMessage(input: { threadId: $id, content: "hi" }) { message { id } run { id } } }',
    variables: (ids) => ({ id: ids.thread }),
  },
  {
    name: 'deleteThread',
    query: 'mutation($id: ID!) { deleteThread(id: $id) { deletedId } }',
    variables: (ids) => ({ id: ids.thread }),
  },
];

let server: TestServer;
let ids: TenantAIds;
let keyA: string;
let keyB: string;
let keyBId: string;
let bCrewId: string;

const SNAPSHOT = `query($id: ID!, $thread: ID!) {
  thread(id: $thread) { id title messages { edges { node { id role content } } } }
  crew(id: $id) {
    id name description process version manager { id }
    agents { id name role goal backstory model { provider name temperature maxTokens } tools maxIterations }
    tasks { id name description expectedOutput agent { id name } dependsOn { id name } }
  }
  apiKeys { id name prefix scopes revokedAt }
  hooks: crew(id: $id) {
    webhooks { id url events enabled deliveries(first: 10) { edges { node { id status attempts } } } }
    inboundHook { id }
  }
}`;

const snapshotA = () => gqlOk(server.url, SNAPSHOT, { id: ids.crew, thread: ids.thread }, keyA);

async function auditCount(tenantGlobalId: string): Promise<number> {
  const tenantId = Buffer.from(tenantGlobalId, 'base64').toString().split(':').slice(1).join(':');
  return server.database.withTenant(tenantId, (tx) => tx.auditEvent.count());
}

beforeAll(async () => {
  server = await startTestServer();
  const a = await createTenant(server.url, server.admin, 'Tenant A');
  const b = await createTenant(server.url, server.admin, 'Tenant B');
  keyA = a.key;
  keyB = b.key;
  keyBId = b.keyId;
  const created = await gqlOk(
    server.url,
    'mutation($input: CreateCrewInput!) { createCrew(input: $input) { crew { id agents { id } tasks { id } } } }',
    { input: { ...SAMPLE_CREW, name: SECRET_NAME } },
    keyA,
  );
  const extra = await gqlOk(
    server.url,
    'mutation { createApiKey(input: { name: "A extra", scopes: [WRITE] }) { apiKey { id } } }',
    {},
    keyA,
  );
  const crew = created.createCrew.crew as { id: string; agents: { id: string }[]; tasks: { id: string }[] };
  ids = {
    tenant: a.tenant.id,
    crew: crew.id,
    agents: crew.agents.map((x) => x.id),
    tasks: crew.tasks.map((x) => x.id),
    apiKey: extra.createApiKey.apiKey.id,
    run: '',
    taskRuns: [],
    thread: '',
    message: '',
    webhook: '',
    webhookDelivery: '',
    inboundHook: '',
  };
  const run = await gqlOk(
    server.url,
    'mutation($id: ID!) { startRun(input: { crewId: $id, inputs: { topic: "secret" } }) { run { id taskRuns { id } } } }',
    { id: crew.id },
    keyA,
  );
  ids.run = run.startRun.run.id;
  ids.taskRuns = run.startRun.run.taskRuns.map((t: { id: string }) => t.id);
  const thread = await gqlOk(
    server.url,
    'mutation($id: ID!) { createThread(input: { agentId: $id }) { thread { id } } }',
    { id: ids.agents[0] },
    keyA,
  );
  ids.thread = thread.createThread.thread.id;
  const sent = await gqlOk(
    server.url,
    'mutation($id: ID!) { sendMessage(input: { threadId: $id, content: "A secret question" }) { message { id } } }',
    { id: ids.thread },
    keyA,
  );
  ids.message = sent.sendMessage.message.id;
  const webhook = await gqlOk(
    server.url,
    'mutation($id: ID!) { createWebhook(input: { crewId: $id, url: "https://a.example/hook", enabled: false }) { webhook { id } } }',
    { id: crew.id },
    keyA,
  );
  ids.webhook = webhook.createWebhook.webhook.id;
  // A delivery row as the outbox writes it (a disabled webhook: the delivery loop leaves it alone).
  const tenantIdA = Buffer.from(a.tenant.id, 'base64').toString().split(':').slice(1).join(':');
  const dbId = (gid: string) => Buffer.from(gid, 'base64').toString().split(':').slice(1).join(':');
  const delivery = await server.database.withTenant(tenantIdA, (tx) =>
    tx.webhookDelivery.create({
      data: {
        tenantId: tenantIdA,
        webhookId: dbId(ids.webhook),
        runId: dbId(ids.run),
        event: 'RUN_SUCCEEDED',
        payload: { secret: SECRET_NAME },
        status: 'FAILED',
        nextAttemptAt: null,
      },
      select: { id: true },
    }),
  );
  ids.webhookDelivery = Buffer.from(`WebhookDelivery:${delivery.id}`).toString('base64');
  const hook = await gqlOk(
    server.url,
    'mutation($id: ID!) { createInboundHook(crewId: $id) { hook { id } } }',
    { id: crew.id },
    keyA,
  );
  ids.inboundHook = hook.createInboundHook.hook.id;
  const bCrew = await gqlOk(
    server.url,
    'mutation($input: CreateCrewInput!) { createCrew(input: $input) { crew { id } } }',
    { input: { ...SAMPLE_CREW, name: 'Tenant B crew' } },
    keyB,
  );
  bCrewId = bCrew.createCrew.crew.id;
});
afterAll(() => server?.closeAll());

describe(`cross-tenant access through the API (${BACKEND})`, () => {
  test('every operation naming A’s objects answers NOT_FOUND to B, and changes nothing', async () => {
    // Sanity: A itself can see each object the cases name.
    for (const id of [
      ids.tenant,
      ids.crew,
      ...ids.agents,
      ...ids.tasks,
      ids.apiKey,
      ids.webhook,
      ids.webhookDelivery,
      ids.inboundHook,
    ]) {
      expect((await gqlOk(server.url, NODE, { id }, keyA)).node.id).toBe(id);
    }
    const before = await snapshotA();
    const auditA = await auditCount(ids.tenant);
    const session = await gqlOk(
      server.url,
      'mutation { createSessionToken(input: { subject: "b-user", scopes: [ADMIN] }) { token } }',
      {},
      keyB,
    );
    const callers = { 'B admin key': keyB, 'B session token': session.createSessionToken.token as string };
    for (const c of crossTenantCases) {
      for (const [who, token] of Object.entries(callers)) {
        const r = await gql(server.url, c.query, c.variables(ids), token);
        const label = `${c.name} as ${who}`;
        try {
          if (c.sessionForbidden && who.includes('session')) expectCode(r, 'FORBIDDEN');
          else (c.verify ?? expectNotFound)(r, ids);
          expect(JSON.stringify(r)).not.toContain(SECRET_NAME);
        } catch (err) {
          throw new Error(`${label}: ${(err as Error).message}\n${JSON.stringify(r)}`);
        }
      }
    }
    expect(await snapshotA()).toEqual(before);
    expect(before.apiKeys.find((k: { id: string }) => k.id === ids.apiKey).revokedAt).toBeNull();
    expect(await auditCount(ids.tenant)).toBe(auditA);
    // A's extra key still works.
    expect((await gqlOk(server.url, NODE, { id: ids.crew }, keyA)).node.__typename).toBe('Crew');
  });

  test('B’s threads list is empty and B cannot stream A’s thread', async () => {
    const list = await gqlOk(server.url, '{ threads(first: 100) { edges { node { id } } } }', {}, keyB);
    expect(list.threads.edges).toEqual([]);
    const r = await gql(
      server.url,
      'subscription($id: ID!) { threadEvents(threadId: $id) { seq type } }',
      { id: ids.thread },
      keyB,
    );
    expect(r.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    expect(JSON.stringify(r)).not.toContain('secret question');
  });

  test('B’s crews list holds only B’s crew', async () => {
    const list = await gqlOk(server.url, '{ crews(first: 100) { edges { node { id name } } } }', {}, keyB);
    expect(list.crews.edges.map((e: { node: { id: string } }) => e.node.id)).toEqual([bCrewId]);
    const aList = await gqlOk(server.url, '{ crews(first: 100) { edges { node { id } } } }', {}, keyA);
    expect(aList.crews.edges.map((e: { node: { id: string } }) => e.node.id)).toEqual([ids.crew]);
  });

  test('B’s apiKeys excludes A’s keys', async () => {
    const a = (await gqlOk(server.url, '{ apiKeys { id } }', {}, keyA)).apiKeys as { id: string }[];
    const b = (await gqlOk(server.url, '{ apiKeys { id prefix } }', {}, keyB)).apiKeys as {
      id: string;
      prefix: string;
    }[];
    expect(a.length).toBe(2);
    expect(b.length).toBe(1);
    expect(b.map((k) => k.id)).not.toContain(ids.apiKey);
    for (const k of a) expect(b.map((x) => x.id)).not.toContain(k.id);
    expect(keyB.startsWith(b[0]!.prefix)).toBe(true);
    // The id createTenant gave for B's first key is the id B's key list shows.
    expect(b[0]!.id).toBe(keyBId);
  });

  test('a session token minted by B cannot read A’s crew; one minted by A can', async () => {
    const mint = 'mutation { createSessionToken(input: { subject: "end-user" }) { token } }';
    const tokenB = (await gqlOk(server.url, mint, {}, keyB)).createSessionToken.token as string;
    const q = 'query($id: ID!) { crew(id: $id) { id name } }';
    expectNotFound(await gql(server.url, q, { id: ids.crew }, tokenB));
    const tokenA = (await gqlOk(server.url, mint, {}, keyA)).createSessionToken.token as string;
    expect((await gqlOk(server.url, q, { id: ids.crew }, tokenA)).crew.name).toBe(SECRET_NAME);
  });

  test('createSessionToken naming a thread that does not exist is NOT_FOUND', async () => {
    const missing = Buffer.from('Thread:cl000000000000000000000000').toString('base64');
    const mint =
      'mutation($ids: [ID!]) { createSessionToken(input: { subject: "u", threadIds: $ids }) { token } }';
    const r = await gql(server.url, mint, { ids: [missing] }, keyB);
    expectNotFound(r);
    expect(r.errors![0]!.message).toContain(missing);
    // A crew id is not a thread id.
    const wrongType = await gql(server.url, mint, { ids: [bCrewId] }, keyB);
    expect(wrongType.errors?.[0]?.extensions).toMatchObject({
      code: 'BAD_INPUT',
      field: 'input.threadIds[0]',
    });
  });
});

describe(`cross-tenant run streams (${BACKEND})`, () => {
  test('B cannot subscribe to A’s run events: NOT_FOUND, and no event is delivered', async () => {
    const { sseSubscribe } = await import('./support/sse-client.js');
    const q = 'subscription($id: ID!) { runEvents(runId: $id) { seq type delta } }';
    const payloads = [];
    for await (const p of sseSubscribe(server.url, q, { id: ids.run }, keyB)) payloads.push(p);
    expect(payloads).toHaveLength(1);
    expect(payloads[0]!.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    expect(payloads[0]!.data?.runEvents ?? null).toBeNull();
  });
});

describe(`cross-tenant run updates (${BACKEND})`, () => {
  test('B cannot watch A’s crew’s run updates: NOT_FOUND', async () => {
    const { sseSubscribe } = await import('./support/sse-client.js');
    const q = 'subscription($id: ID) { runUpdated(crewId: $id) { id status } }';
    const payloads = [];
    for await (const p of sseSubscribe(server.url, q, { id: ids.crew }, keyB)) payloads.push(p);
    expect(payloads).toHaveLength(1);
    expect(payloads[0]!.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
  });
});
