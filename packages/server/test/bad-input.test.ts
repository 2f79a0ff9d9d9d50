// Bad input: every case answers a clear error naming the field and the rule, and writes nothing
// (no crew, no audit event). Checked over real HTTP against a real database.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { BACKEND, startTestServer, type TestServer } from './support/backend.js';
import { createTenant, type GqlResult, gql, gqlOk } from './support/graphql-client.js';

let server: TestServer;
let key: string;
let tenantId: string;
let crewId: string;
let agentId: string;

const CREATE = 'mutation($input: CreateCrewInput!) { createCrew(input: $input) { crew { id } } }';
const UPDATE = 'mutation($input: UpdateCrewInput!) { updateCrew(input: $input) { crew { id version } } }';

type CrewInput = {
  name: string;
  description?: string;
  process?: string;
  manager?: string;
  agents: Record<string, unknown>[];
  tasks: Record<string, unknown>[];
};

const agent = (name: string, extra: Record<string, unknown> = {}) => ({
  name,
  role: `${name} role`,
  model: { provider: 'SCRIPTED', name: 'echo' },
  ...extra,
});
const task = (
  name: string,
  agentName: string,
  dependsOn: string[] = [],
  extra: Record<string, unknown> = {},
) => ({
  name,
  description: `Do ${name}`,
  agent: agentName,
  dependsOn,
  ...extra,
});

function validCrew(): CrewInput {
  return {
    name: 'Valid crew',
    description: 'A crew that passes every rule',
    agents: [agent('alice'), agent('bob')],
    tasks: [task('a', 'alice'), task('b', 'bob', ['a']), task('c', 'alice', ['b'])],
  };
}

interface BadCrewCase {
  name: string;
  input: (c: CrewInput) => CrewInput;
  field: string;
  rule: RegExp;
}

const badCrewCases: BadCrewCase[] = [
  {
    name: 'a cycle in task dependencies',
    input: (c) => ({
      ...c,
      tasks: [task('a', 'alice', ['c']), task('b', 'bob', ['a']), task('c', 'alice', ['b'])],
    }),
    field: 'input.tasks',
    rule: /must not form a cycle: (a -> c -> b -> a|a -> b -> c -> a|b -> a -> c -> b|c -> b -> a -> c)/,
  },
  {
    name: 'a task depending on itself',
    input: (c) => ({ ...c, tasks: [task('a', 'alice', ['a'])] }),
    field: 'input.tasks[0].dependsOn[0]',
    rule: /cannot depend on itself/,
  },
  {
    name: 'dependsOn naming a missing task',
    input: (c) => ({ ...c, tasks: [task('a', 'alice'), task('b', 'bob', ['a', 'ghost'])] }),
    field: 'input.tasks[1].dependsOn[1]',
    rule: /no task named "ghost"/,
  },
  {
    name: 'a task whose agent does not exist',
    input: (c) => ({ ...c, tasks: [task('a', 'alice'), task('b', 'mallory')] }),
    field: 'input.tasks[1].agent',
    rule: /no agent named "mallory".*alice, bob/,
  },
  {
    name: 'duplicate agent names',
    input: (c) => ({ ...c, agents: [agent('alice'), agent('bob'), agent('alice')] }),
    field: 'input.agents[2].name',
    rule: /"alice" is used by another agent/,
  },
  {
    name: 'duplicate task names',
    input: (c) => ({ ...c, tasks: [task('a', 'alice'), task('a', 'bob')] }),
    field: 'input.tasks[1].name',
    rule: /"a" is used by another task/,
  },
  {
    name: 'a crew name of 201 characters',
    input: (c) => ({ ...c, name: 'n'.repeat(201) }),
    field: 'input.name',
    rule: /at most 200 characters \(got 201\)/,
  },
  {
    name: 'a crew description of 20,001 characters',
    input: (c) => ({ ...c, description: 'd'.repeat(20_001) }),
    field: 'input.description',
    rule: /at most 20000 characters \(got 20001\)/,
  },
  {
    name: 'a task description of 20,001 characters',
    input: (c) => ({ ...c, tasks: [task('a', 'alice', [], { description: 'd'.repeat(20_001) })] }),
    field: 'input.tasks[0].description',
    rule: /at most 20000 characters/,
  },
  {
    name: 'an agent name of 201 characters',
    input: (c) => ({ ...c, agents: [agent('a'.repeat(201))], tasks: [task('t', 'a'.repeat(201))] }),
    field: 'input.agents[0].name',
    rule: /at most 200 characters/,
  },
  {
    name: 'an empty crew name',
    input: (c) => ({ ...c, name: '   ' }),
    field: 'input.name',
    rule: /must not be empty/,
  },
  {
    name: 'an empty agents list',
    input: (c) => ({ ...c, agents: [], tasks: [] }),
    field: 'input.agents',
    rule: /at least one agent/,
  },
  {
    name: 'an empty tasks list',
    input: (c) => ({ ...c, tasks: [] }),
    field: 'input.tasks',
    rule: /at least one task/,
  },
  {
    name: 'HIERARCHICAL without a manager',
    input: (c) => ({ ...c, process: 'HIERARCHICAL' }),
    field: 'input.manager',
    rule: /HIERARCHICAL crew needs a manager/,
  },
  {
    name: 'a manager that is not one of the agents',
    input: (c) => ({ ...c, process: 'HIERARCHICAL', manager: 'zed' }),
    field: 'input.manager',
    rule: /no agent named "zed"/,
  },
  {
    name: 'temperature 3',
    input: (c) => ({
      ...c,
      agents: [
        agent('alice', { model: { provider: 'OPENAI', name: 'gpt-4o', temperature: 3 } }),
        agent('bob'),
      ],
    }),
    field: 'input.agents[0].model.temperature',
    rule: /must be a number from 0 to 2/,
  },
  {
    name: 'maxIterations 0',
    input: (c) => ({ ...c, agents: [agent('alice'), agent('bob', { maxIterations: 0 })] }),
    field: 'input.agents[1].maxIterations',
    rule: /must be an integer from 1 to 100/,
  },
  {
    name: 'a tool name with a slash',
    input: (c) => ({ ...c, agents: [agent('alice', { tools: ['web/search'] }), agent('bob')] }),
    field: 'input.agents[0].tools[0]',
    rule: /must be a tool name/,
  },
];

function decodeId(globalId: string): string {
  return Buffer.from(globalId, 'base64').toString().split(':').slice(1).join(':');
}

async function writes(): Promise<{ crews: number; agents: number; tasks: number; audit: number }> {
  return server.database.withTenant(tenantId, async (tx) => ({
    crews: await tx.crew.count(),
    agents: await tx.agent.count(),
    tasks: await tx.task.count(),
    audit: await tx.auditEvent.count(),
  }));
}

/** Runs a request and checks that it wrote nothing. */
async function nothingWritten<T>(fn: () => Promise<T>): Promise<T> {
  const before = await writes();
  const result = await fn();
  expect(await writes()).toEqual(before);
  return result;
}

function expectBadInput(r: GqlResult, field: string, rule: RegExp): void {
  expect(r.errors, JSON.stringify(r)).toHaveLength(1);
  const e = r.errors![0]!;
  expect(e.extensions?.code).toBe('BAD_INPUT');
  expect(e.extensions?.field).toBe(field);
  expect(e.message).toContain(field);
  expect(e.message).toMatch(rule);
  for (const v of Object.values(r.data ?? {})) expect(v).toBeNull();
}

async function postRaw(body: string | ReadableStream<Uint8Array>, headers: Record<string, string> = {}) {
  const res = await fetch(`${server.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}`, ...headers },
    body,
    ...(typeof body === 'string' ? {} : { duplex: 'half' }),
  } as RequestInit);
  return { status: res.status, body: (await res.json()) as GqlResult };
}

beforeAll(async () => {
  server = await startTestServer();
  const t = await createTenant(server.url, server.admin, 'Bad input tenant');
  key = t.key;
  tenantId = decodeId(t.tenant.id);
  const created = await gqlOk(
    server.url,
    'mutation($input: CreateCrewInput!) { createCrew(input: $input) { crew { id agents { id } } } }',
    { input: validCrew() },
    key,
  );
  crewId = created.createCrew.crew.id;
  agentId = created.createCrew.crew.agents[0].id;
});
afterAll(() => server?.closeAll());

describe(`GraphQL documents that cannot run (${BACKEND})`, () => {
  test('a syntax error answers 400 with the position', async () => {
    const r = await nothingWritten(() =>
      gql(server.url, 'mutation { createCrew(input: { name: "x" } { crew { id } }', {}, key),
    );
    expect(r.status).toBe(400);
    expect(r.errors![0]!.message).toMatch(/^Syntax Error/);
    expect(r.errors![0]).toHaveProperty('locations');
  });

  test('an unknown field answers 400 naming it', async () => {
    const r = await gql(server.url, '{ crews(first: 1) { edges { node { id secretSauce } } } }', {}, key);
    expect(r.status).toBe(400);
    expect(r.errors![0]!.message).toMatch(/Cannot query field "secretSauce" on type "Crew"/);
  });

  test('an unknown argument answers 400 naming it', async () => {
    const r = await gql(server.url, '{ crews(first: 1, orderBy: NAME) { edges { node { id } } } }', {}, key);
    expect(r.status).toBe(400);
    expect(r.errors![0]!.message).toMatch(/Unknown argument "orderBy" on field "Query.crews"/);
  });

  test('a variable of the wrong shape answers 400 naming the field', async () => {
    const badEnum = await nothingWritten(() =>
      gql(server.url, CREATE, { input: { ...validCrew(), process: 'ROUND_ROBIN' } }, key),
    );
    expect(badEnum.status).toBe(400);
    expect(badEnum.errors![0]!.message).toMatch(
      /input\.process.*"ROUND_ROBIN" does not exist in "CrewProcess"/,
    );
    const { agents: _omitted, ...noAgents } = validCrew();
    const missing = await nothingWritten(() => gql(server.url, CREATE, { input: noAgents }, key));
    expect(missing.status).toBe(400);
    expect(missing.errors![0]!.message).toMatch(
      /Field "agents" of required type "\[AgentInput!\]!" was not provided/,
    );
  });
});

describe(`queries shaped to ask for too much (${BACKEND})`, () => {
  test('lists nested in lists, deep nesting, many aliases, many ids: refused before they run, saying why', async () => {
    // Crews' agents and each agent's crew point back at each other: 100 crews of 50 agents, three
    // times over, is millions of objects from one small query (any read-only key could send it).
    const cyclic = await gql(
      server.url,
      '{ crews(first: 100) { edges { node { agents { crew { agents { crew { agents { name } } } } } } } } }',
      {},
      key,
    );
    expect(cyclic.status).toBe(400);
    expect(cyclic.errors![0]).toMatchObject({ extensions: { code: 'BAD_INPUT' } });
    expect(cyclic.errors![0]!.message).toMatch(/nests 4 lists in each other.*at most 3/);
    // A crew's manager and the manager's crew: a chain as deep as the query likes.
    const chain = `${'manager { crew { '.repeat(7)}id${' } }'.repeat(7)}`;
    const deep = await gql(server.url, `query($id: ID!) { crew(id: $id) { ${chain} } }`, { id: crewId }, key);
    expect(deep.status).toBe(400);
    expect(deep.errors![0]!.message).toMatch(/nests fields 16 deep; at most 12/);
    const aliases = await gql(
      server.url,
      `{ ${Array.from({ length: 60 }, (_, i) => `a${i}: crews(first: 1) { edges { cursor } }`).join(' ')} }`,
      {},
      key,
    );
    expect(aliases.status).toBe(400);
    expect(aliases.errors![0]!.message).toMatch(/60 aliased fields; at most 50/);
    const ids = Array.from({ length: 101 }, (_, i) => Buffer.from(`Crew:c${i}`).toString('base64'));
    const many = await gql(server.url, 'query($ids: [ID!]!) { nodes(ids: $ids) { id } }', { ids }, key);
    expect(many.errors![0]).toMatchObject({ extensions: { code: 'BAD_INPUT', field: 'ids' } });
    // What apps ask stays allowed: a thread's messages with their runs' task runs, and the
    // introspection query tools send.
    const ok = await gql(
      server.url,
      '{ threads(first: 5) { edges { node { messages(first: 5) { edges { node { run { taskRuns { status } } } } } } } } }',
      {},
      key,
    );
    expect(ok.errors).toBeUndefined();
    // Fragments spread two by two, 40 deep: measured once each (walked each time, that was 2^40
    // visits, and a request without credentials could hold the server for hours).
    const n = 40;
    const fragments = Array.from(
      { length: n },
      (_, i) => `fragment F${i} on Query { ...F${i + 1} ...F${i + 1} }`,
    );
    const doubled = await gql(
      server.url,
      `query { ...F0 }\n${fragments.join('\n')}\nfragment F${n} on Query { viewer { kind } }`,
      {},
      key,
    );
    expect(doubled.errors).toBeUndefined();
    const { getIntrospectionQuery } = await import('graphql');
    const introspection = await gql(server.url, getIntrospectionQuery(), {}, key);
    expect(introspection.errors).toBeUndefined();
  });
});

describe(`invalid ids (${BACKEND})`, () => {
  test('crew(id: "garbage") is BAD_INPUT naming id', async () => {
    expectBadInput(
      await gql(server.url, '{ crew(id: "garbage") { id } }', {}, key),
      'id',
      /not a valid Crew id/,
    );
  });

  test('an Agent’s id passed to crew(id:) is BAD_INPUT', async () => {
    const r = await gql(server.url, 'query($id: ID!) { crew(id: $id) { id } }', { id: agentId }, key);
    expectBadInput(r, 'id', /expected a Crew id, got a Agent id/);
  });

  test('deleteCrew and updateCrew with a wrong id change nothing', async () => {
    const del = await nothingWritten(() =>
      gql(server.url, 'mutation($id: ID!) { deleteCrew(id: $id) { deletedId } }', { id: agentId }, key),
    );
    expectBadInput(del, 'id', /expected a Crew id/);
    const upd = await nothingWritten(() =>
      gql(server.url, UPDATE, { input: { id: 'garbage', name: 'x' } }, key),
    );
    expectBadInput(upd, 'input.id', /not a valid Crew id/);
  });

  test('node(id: "garbage") is BAD_INPUT, not an internal error', async () => {
    const r = await gql(server.url, '{ node(id: "garbage") { id } }', {}, key);
    expect(r.errors?.[0]?.extensions?.code).toBe('BAD_INPUT');
    expect(r.errors?.[0]?.message).toMatch(/Invalid global ID: garbage/);
    const unknownType = Buffer.from('Spaceship:1').toString('base64');
    const u = await gql(server.url, 'query($id: ID!) { node(id: $id) { id } }', { id: unknownType }, key);
    expectBadInput(u, 'id', /"Spaceship" is not a type of object with a global id/);
  });

  test('pagination arguments are checked', async () => {
    const neg = await gql(server.url, '{ crews(first: -1) { edges { node { id } } } }', {}, key);
    expect(neg.errors?.[0]?.extensions?.code).toBe('BAD_INPUT');
    expect(neg.errors?.[0]?.message).toMatch(/"first".*non-negative/);
    const cursor = await gql(
      server.url,
      '{ crews(first: 1, after: "garbage") { edges { node { id } } } }',
      {},
      key,
    );
    expect(cursor.errors?.[0]?.extensions?.code).toBe('BAD_INPUT');
    expect(cursor.errors?.[0]?.message).toMatch(/Invalid cursor/);
  });
});

describe(`crew definitions that break a rule (${BACKEND})`, () => {
  test.each(badCrewCases)('createCrew with $name is BAD_INPUT and writes nothing', async (c) => {
    const r = await nothingWritten(() => gql(server.url, CREATE, { input: c.input(validCrew()) }, key));
    expectBadInput(r, c.field, c.rule);
  });

  test('the valid definition the cases start from is accepted (so each case fails for its own reason)', async () => {
    const r = await gqlOk(server.url, CREATE, { input: { ...validCrew(), name: 'Valid twin' } }, key);
    const id = r.createCrew.crew.id;
    await gqlOk(server.url, 'mutation($id: ID!) { deleteCrew(id: $id) { deletedId } }', { id }, key);
  });

  test('updateCrew with a cycle leaves the crew’s version and tasks unchanged', async () => {
    const READ = `query($id: ID!) { crew(id: $id) { name version tasks { id name agent { name } dependsOn { name } } } }`;
    const before = await gqlOk(server.url, READ, { id: crewId }, key);
    const r = await nothingWritten(() =>
      gql(
        server.url,
        UPDATE,
        {
          input: {
            id: crewId,
            name: 'Renamed with a cycle',
            tasks: [task('a', 'alice', ['c']), task('b', 'bob', ['a']), task('c', 'alice', ['b'])],
          },
        },
        key,
      ),
    );
    expectBadInput(r, 'input.tasks', /must not form a cycle/);
    expect(await gqlOk(server.url, READ, { id: crewId }, key)).toEqual(before);
  });

  test('updateCrew naming a missing agent leaves the crew unchanged', async () => {
    const READ = `query($id: ID!) { crew(id: $id) { name version agents { id name } tasks { id name } } }`;
    const before = await gqlOk(server.url, READ, { id: crewId }, key);
    const r = await nothingWritten(() =>
      gql(server.url, UPDATE, { input: { id: crewId, agents: [agent('alice')] } }, key),
    );
    expectBadInput(r, 'input.tasks[1].agent', /no agent named "bob"/);
    expect(await gqlOk(server.url, READ, { id: crewId }, key)).toEqual(before);
  });
});

describe(`whole operations (${BACKEND})`, () => {
  test('two mutations where the second fails leave the first unwritten', async () => {
    const doc = `mutation($ok: CreateCrewInput!, $bad: CreateCrewInput!) {
      first: createCrew(input: $ok) { crew { id } }
      second: createCrew(input: $bad) { crew { id } }
    }`;
    const bad = { ...validCrew(), name: 'Second', tasks: [task('a', 'alice', ['a'])] };
    const r = await nothingWritten(() =>
      gql(server.url, doc, { ok: { ...validCrew(), name: 'First of two' }, bad }, key),
    );
    expect(r.errors?.[0]?.extensions).toMatchObject({
      code: 'BAD_INPUT',
      field: 'input.tasks[0].dependsOn[0]',
    });
    // Nothing reports the first crew as created: it was rolled back with the operation.
    expect(r.data ?? null).toBeNull();
    const list = await gqlOk(server.url, '{ crews(first: 100) { edges { node { name } } } }', {}, key);
    expect(list.crews.edges.map((e: { node: { name: string } }) => e.node.name)).not.toContain(
      'First of two',
    );
  });

  test('a startRun next to a failing mutation is rolled back with it, even on its one-message path', async () => {
    const created = await gqlOk(server.url, CREATE, { input: { ...validCrew(), name: 'Runs here' } }, key);
    const id = created.createCrew.crew.id;
    const START = 'mutation($input: StartRunInput!) { startRun(input: $input) { run { id } } }';
    // Alone, startRun commits its one insert on its own; this also caches the crew's version, so the
    // next startRun of the crew takes that path unless the operation holds more than it.
    await gqlOk(server.url, START, { input: { crewId: id, inputs: {} } }, key);
    const RUNS = 'query($id: ID!) { runs(first: 100, crewId: $id) { edges { node { id } } } }';
    const count = async () => (await gqlOk(server.url, RUNS, { id }, key)).runs.edges.length;
    expect(await count()).toBe(1);
    const doc = `mutation($id: ID!) {
      first: startRun(input: { crewId: $id, inputs: {} }) { run { id } }
      second: startRun(input: { crewId: "not an id", inputs: {} }) { run { id } }
    }`;
    const r = await gql(server.url, doc, { id }, key);
    expect(r.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_INPUT', field: 'input.crewId' });
    expect(r.data ?? null).toBeNull();
    expect(await count()).toBe(1);
  });

  test('a request body over 1,000,000 bytes answers 413', async () => {
    const body = JSON.stringify({
      query: CREATE,
      variables: { input: { ...validCrew(), description: 'x'.repeat(1_000_001) } },
    });
    const r = await nothingWritten(() => postRaw(body));
    expect(r.status).toBe(413);
    expect(r.body.errors![0]!.message).toMatch(/too large: at most 1000000 bytes/);
  });

  test('a chunked body (no Content-Length) over the limit answers 413 too; a small one works', async () => {
    const chunked = (text: string) =>
      new ReadableStream<Uint8Array>({
        start(controller) {
          const bytes = new TextEncoder().encode(text);
          for (let i = 0; i < bytes.length; i += 64 * 1024) controller.enqueue(bytes.slice(i, i + 64 * 1024));
          controller.close();
        },
      });
    const big = JSON.stringify({
      query: CREATE,
      variables: { input: { ...validCrew(), name: 'Smuggled', description: 'x'.repeat(1_200_000) } },
    });
    const r = await nothingWritten(async () => {
      try {
        return await postRaw(chunked(big));
      } catch (err) {
        // The server may also cut the upload short after answering; either way it is refused.
        return {
          status: 413,
          body: { errors: [{ message: `refused: ${(err as Error).message}` }] } as GqlResult,
        };
      }
    });
    expect(r.status).toBe(413);
    const small = await postRaw(chunked(JSON.stringify({ query: '{ viewer { kind } }' })));
    expect(small.status).toBe(200);
    expect(small.body.data).toEqual({ viewer: { kind: 'API_KEY' } });
  });
});

describe(`in production mode (${BACKEND})`, () => {
  let prod: TestServer;
  beforeAll(async () => {
    prod = await startTestServer({ production: true });
  });
  afterAll(() => prod?.closeAll());

  test('expected errors keep their code and message, with no internals attached', async () => {
    const unauth = await gql(prod.url, '{ viewer { kind } }');
    expect(unauth.status).toBe(401);
    expect(unauth.errors![0]).toMatchObject({
      message: expect.stringMatching(/Authentication required/),
      extensions: { code: 'UNAUTHENTICATED' },
    });
    const t = await createTenant(prod.url, prod.admin, 'Prod tenant');
    const bad = await gql(prod.url, '{ crew(id: "garbage") { id } }', {}, t.key);
    expectBadInput(bad, 'id', /not a valid Crew id/);
    const cycle = await gql(
      prod.url,
      CREATE,
      { input: { ...validCrew(), tasks: [task('a', 'alice', ['b']), task('b', 'bob', ['a'])] } },
      t.key,
    );
    expectBadInput(cycle, 'input.tasks', /must not form a cycle/);
    const missing = Buffer.from('Crew:doesnotexist').toString('base64');
    const nf = await gql(prod.url, 'query($id: ID!) { node(id: $id) { id } }', { id: missing }, t.key);
    expect(nf.errors![0]!.extensions?.code).toBe('NOT_FOUND');
    const forbidden = await gql(prod.url, '{ crews(first: 1) { edges { cursor } } }', {}, prod.admin);
    expect(forbidden.errors![0]!.extensions?.code).toBe('FORBIDDEN');
    for (const r of [unauth, bad, cycle, nf, forbidden]) {
      expect(JSON.stringify(r)).not.toMatch(/originalError|stack|\.ts:\d+/);
    }
  });
});
