// The crew API end to end over HTTP: create with agents, tasks and dependencies in one call, read,
// paginate, look up by node id, update (version bump, stable ids), delete.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { BACKEND, startTestServer, type TestServer } from './support/backend.js';
import { createTenant, gql, gqlOk } from './support/graphql-client.js';

let server: TestServer;
// What the server prints as process warnings (Node's DeprecationWarning, say) while these tests run.
const warnings: string[] = [];
process.on('warning', (w) => warnings.push(`${w.name}: ${w.message}`));

const CREATE = `mutation($input: CreateCrewInput!) { createCrew(input: $input) { crew { id } } }`;
const UPDATE = `mutation($input: UpdateCrewInput!) { updateCrew(input: $input) { crew { id version } } }`;
const READ = `query($id: ID!) {
  crew(id: $id) {
    id name description process version manager { id name }
    agents { id name role goal backstory model { provider name temperature } }
    tasks { id name description expectedOutput agent { name } dependsOn { name } }
  }
}`;

interface CrewView {
  id: string;
  name: string;
  description: string;
  process: string;
  version: number;
  manager: { id: string; name: string } | null;
  agents: {
    id: string;
    name: string;
    role: string;
    goal: string;
    backstory: string;
    model: { provider: string; name: string; temperature: number | null };
  }[];
  tasks: {
    id: string;
    name: string;
    description: string;
    expectedOutput: string;
    agent: { name: string };
    dependsOn: { name: string }[];
  }[];
}

const CREW_INPUT = {
  name: 'Launch crew',
  description: 'Plans and writes a product launch',
  process: 'SEQUENTIAL',
  agents: [
    {
      name: 'planner',
      role: 'Launch planner',
      goal: 'Plan the launch',
      backstory: 'Has shipped many products',
      model: { provider: 'OPENAI', name: 'gpt-4o-mini' },
    },
    {
      name: 'copywriter',
      role: 'Copywriter',
      goal: 'Write launch copy',
      backstory: 'Writes crisp copy',
      model: { provider: 'OLLAMA', name: 'llama3.2' },
    },
    {
      name: 'reviewer',
      role: 'Reviewer',
      goal: 'Catch mistakes',
      backstory: 'Pedantic',
      model: { provider: 'SCRIPTED', name: 'echo' },
    },
  ],
  tasks: [
    {
      name: 'plan',
      description: 'Plan {{product}}',
      expectedOutput: 'A plan',
      agent: 'planner',
      dependsOn: [],
    },
    {
      name: 'draft',
      description: 'Draft copy for {{product}}',
      expectedOutput: 'Copy',
      agent: 'copywriter',
      dependsOn: ['plan'],
    },
    {
      name: 'review',
      description: 'Review the copy',
      expectedOutput: 'Notes',
      agent: 'reviewer',
      dependsOn: ['plan', 'draft'],
    },
  ],
};

async function tenantKey(name: string): Promise<string> {
  return (await createTenant(server.url, server.admin, name)).key;
}

async function create(key: string, input: Record<string, unknown>): Promise<string> {
  return (await gqlOk(server.url, CREATE, { input }, key)).createCrew.crew.id;
}

async function read(key: string, id: string): Promise<CrewView> {
  return (await gqlOk(server.url, READ, { id }, key)).crew;
}

beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server?.closeAll());

describe(`crews (${BACKEND})`, () => {
  test('createCrew writes agents, tasks and dependencies in one call, and crew(id) reads them back', async () => {
    const key = await tenantKey('Creator');
    const id = await create(key, CREW_INPUT);
    const crew = await read(key, id);
    expect(crew).toMatchObject({
      id,
      name: 'Launch crew',
      description: 'Plans and writes a product launch',
      process: 'SEQUENTIAL',
      version: 1,
      manager: null,
    });
    expect(
      crew.agents.map((a) => [a.name, a.role, a.goal, a.backstory, a.model.provider, a.model.name]),
    ).toEqual(
      CREW_INPUT.agents.map((a) => [a.name, a.role, a.goal, a.backstory, a.model.provider, a.model.name]),
    );
    expect(
      crew.tasks.map((t) => ({
        name: t.name,
        description: t.description,
        expectedOutput: t.expectedOutput,
        agent: t.agent.name,
        dependsOn: t.dependsOn.map((d) => d.name),
      })),
    ).toEqual(CREW_INPUT.tasks);
    expect(new Set([...crew.agents, ...crew.tasks].map((x) => x.id)).size).toBe(6);
  });

  test('crews(first, after) pages through every crew exactly once', async () => {
    const key = await tenantKey('Pager');
    const made: string[] = [];
    for (let i = 0; i < 5; i++) made.push(await create(key, { ...CREW_INPUT, name: `Crew ${i}` }));
    const seen: string[] = [];
    let after: string | null = null;
    let pages = 0;
    for (;;) {
      const page: {
        crews: {
          edges: { cursor: string; node: { id: string } }[];
          pageInfo: { hasNextPage: boolean; endCursor: string };
        };
      } = await gqlOk(
        server.url,
        'query($after: String) { crews(first: 2, after: $after) { edges { cursor node { id name } } pageInfo { hasNextPage endCursor } } }',
        { after },
        key,
      );
      pages++;
      const edges = page.crews.edges;
      expect(edges.length).toBeLessThanOrEqual(2);
      seen.push(...edges.map((e) => e.node.id));
      if (edges.length) expect(page.crews.pageInfo.endCursor).toBe(edges.at(-1)!.cursor);
      if (!page.crews.pageInfo.hasNextPage) break;
      after = page.crews.pageInfo.endCursor;
      expect(pages).toBeLessThan(10);
    }
    expect(pages).toBe(3);
    expect(new Set(seen).size).toBe(seen.length);
    expect([...seen].sort()).toEqual([...made].sort());
  });

  test('a crew deleted between two pages does not end the listing', async () => {
    const key = await tenantKey('Pager with deletes');
    const made: string[] = [];
    for (let i = 0; i < 5; i++) made.push(await create(key, { ...CREW_INPUT, name: `Crew ${i}` }));
    const PAGE =
      'query($after: String) { crews(first: 2, after: $after) { edges { node { id } } pageInfo { hasNextPage endCursor } } }';
    const first = (await gqlOk(server.url, PAGE, {}, key)).crews;
    const firstIds = first.edges.map((e: { node: { id: string } }) => e.node.id);
    expect(firstIds).toHaveLength(2);
    // The crew the cursor points at goes away before the next page is asked for.
    await gqlOk(
      server.url,
      'mutation($id: ID!) { deleteCrew(id: $id) { deletedId } }',
      { id: firstIds[1] },
      key,
    );
    const rest: string[] = [];
    let after = first.pageInfo.endCursor;
    for (let i = 0; i < 5 && after; i++) {
      const page = (await gqlOk(server.url, PAGE, { after }, key)).crews;
      rest.push(...page.edges.map((e: { node: { id: string } }) => e.node.id));
      after = page.pageInfo.hasNextPage ? page.pageInfo.endCursor : null;
    }
    expect([...firstIds, ...rest].sort()).toEqual([...made].sort());
    expect(rest).toHaveLength(3);
  });

  test('crews(last, before) pages backwards', async () => {
    const key = await tenantKey('Backwards pager');
    for (let i = 0; i < 5; i++) await create(key, { ...CREW_INPUT, name: `Crew ${i}` });
    const all = (
      await gqlOk(server.url, '{ crews(first: 10) { edges { node { id } } } }', {}, key)
    ).crews.edges.map((e: { node: { id: string } }) => e.node.id);
    const LAST =
      'query($before: String) { crews(last: 2, before: $before) { edges { node { id } } pageInfo { hasPreviousPage startCursor } } }';
    const seen: string[] = [];
    let before: string | null = null;
    for (let i = 0; i < 5; i++) {
      const page: {
        edges: { node: { id: string } }[];
        pageInfo: { hasPreviousPage: boolean; startCursor: string };
      } = (await gqlOk(server.url, LAST, { before }, key)).crews;
      seen.unshift(...page.edges.map((e) => e.node.id));
      if (!page.pageInfo.hasPreviousPage) break;
      before = page.pageInfo.startCursor;
    }
    expect(seen).toEqual(all);
  });

  test('node(id) resolves a crew, an agent and a task to the right type', async () => {
    const key = await tenantKey('Noder');
    const id = await create(key, CREW_INPUT);
    const crew = await read(key, id);
    const q = `query($id: ID!) { node(id: $id) { id __typename
      ... on Crew { name } ... on Agent { name crew { id } } ... on Task { name agent { name } } } }`;
    expect((await gqlOk(server.url, q, { id }, key)).node).toEqual({
      id,
      __typename: 'Crew',
      name: 'Launch crew',
    });
    const agent = crew.agents[1]!;
    expect((await gqlOk(server.url, q, { id: agent.id }, key)).node).toEqual({
      id: agent.id,
      __typename: 'Agent',
      name: 'copywriter',
      crew: { id },
    });
    const task = crew.tasks[2]!;
    expect((await gqlOk(server.url, q, { id: task.id }, key)).node).toEqual({
      id: task.id,
      __typename: 'Task',
      name: 'review',
      agent: { name: 'reviewer' },
    });
  });

  test('updateCrew renames, changes a model, adds a task; the version goes up and kept agents keep their ids', async () => {
    const key = await tenantKey('Updater');
    const id = await create(key, CREW_INPUT);
    const before = await read(key, id);
    const agents = CREW_INPUT.agents.map((a) =>
      a.name === 'copywriter' ? { ...a, model: { provider: 'OPENAI', name: 'gpt-4o', temperature: 0.3 } } : a,
    );
    const tasks = [
      ...CREW_INPUT.tasks,
      {
        name: 'publish',
        description: 'Publish it',
        expectedOutput: 'A URL',
        agent: 'planner',
        dependsOn: ['review'],
      },
    ];
    const r = await gqlOk(server.url, UPDATE, { input: { id, name: 'Launch crew v2', agents, tasks } }, key);
    expect(r.updateCrew.crew).toEqual({ id, version: 2 });
    const after = await read(key, id);
    expect(after.name).toBe('Launch crew v2');
    expect(after.description).toBe(before.description);
    expect(after.version).toBe(2);
    expect(after.agents.map((a) => a.id)).toEqual(before.agents.map((a) => a.id));
    expect(after.agents.find((a) => a.name === 'copywriter')!.model).toEqual({
      provider: 'OPENAI',
      name: 'gpt-4o',
      temperature: 0.3,
    });
    expect(after.agents.find((a) => a.name === 'planner')!.model).toEqual(before.agents[0]!.model);
    expect(after.tasks.slice(0, 3).map((t) => t.id)).toEqual(before.tasks.map((t) => t.id));
    expect(after.tasks.map((t) => [t.name, t.dependsOn.map((d) => d.name)])).toEqual([
      ['plan', []],
      ['draft', ['plan']],
      ['review', ['plan', 'draft']],
      ['publish', ['review']],
    ]);
    // A partial update (name only) keeps agents and tasks, and bumps the version again.
    await gqlOk(server.url, UPDATE, { input: { id, description: 'Now with publishing' } }, key);
    const third = await read(key, id);
    expect(third).toEqual({ ...after, description: 'Now with publishing', version: 3 });
  });

  test('updateCrew can replace an agent and hand its task to the new one', async () => {
    const key = await tenantKey('Replacer');
    const id = await create(key, CREW_INPUT);
    const before = await read(key, id);
    const agents = CREW_INPUT.agents.map((a) =>
      a.name === 'copywriter'
        ? {
            name: 'editor',
            role: 'Editor',
            goal: 'Edit',
            backstory: 'Sharp',
            model: { provider: 'SCRIPTED', name: 'echo' },
          }
        : a,
    );
    const tasks = CREW_INPUT.tasks.map((t) => (t.agent === 'copywriter' ? { ...t, agent: 'editor' } : t));
    const r = await gql(server.url, UPDATE, { input: { id, agents, tasks } }, key);
    expect(r.errors).toBeUndefined();
    const after = await read(key, id);
    expect(after.version).toBe(2);
    expect(after.agents.map((a) => a.name)).toEqual(['planner', 'editor', 'reviewer']);
    expect(after.tasks.map((t) => [t.name, t.agent.name, t.dependsOn.map((d) => d.name)])).toEqual([
      ['plan', 'planner', []],
      ['draft', 'editor', ['plan']],
      ['review', 'reviewer', ['plan', 'draft']],
    ]);
    // The task kept its identity; the removed agent is gone.
    expect(after.tasks.map((t) => t.id)).toEqual(before.tasks.map((t) => t.id));
    const gone = await gql(
      server.url,
      'query($id: ID!) { node(id: $id) { id } }',
      { id: before.agents[1]!.id },
      key,
    );
    expect(gone.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
  });

  test('updateCrew to HIERARCHICAL with a manager, and back', async () => {
    const key = await tenantKey('Manager');
    const id = await create(key, CREW_INPUT);
    const before = await read(key, id);
    await gqlOk(server.url, UPDATE, { input: { id, process: 'HIERARCHICAL', manager: 'planner' } }, key);
    const h = await read(key, id);
    expect(h.process).toBe('HIERARCHICAL');
    expect(h.manager).toEqual({ id: before.agents[0]!.id, name: 'planner' });
    expect(h.version).toBe(2);
    // A later edit that leaves process and manager out keeps both.
    await gqlOk(server.url, UPDATE, { input: { id, name: 'Managed crew' } }, key);
    expect(await read(key, id)).toMatchObject({
      name: 'Managed crew',
      process: 'HIERARCHICAL',
      manager: { name: 'planner' },
    });
    // Replacing the manager agent itself.
    const agents = [
      { name: 'lead', role: 'Lead', model: { provider: 'SCRIPTED', name: 'echo' } },
      ...CREW_INPUT.agents.filter((a) => a.name !== 'planner'),
    ];
    const tasks = CREW_INPUT.tasks.map((t) => (t.agent === 'planner' ? { ...t, agent: 'lead' } : t));
    await gqlOk(server.url, UPDATE, { input: { id, agents, tasks, manager: 'lead' } }, key);
    const replaced = await read(key, id);
    expect(replaced.manager?.name).toBe('lead');
    expect(replaced.manager?.id).toBe(replaced.agents[0]!.id);
    expect(replaced.tasks[0]!.agent.name).toBe('lead');
    await gqlOk(server.url, UPDATE, { input: { id, process: 'SEQUENTIAL' } }, key);
    expect(await read(key, id)).toMatchObject({ process: 'SEQUENTIAL', manager: null, version: 5 });
  });

  test('deleteCrew removes the crew with its agents and tasks', async () => {
    const key = await tenantKey('Deleter');
    const keep = await create(key, { ...CREW_INPUT, name: 'Keeper' });
    const id = await create(key, CREW_INPUT);
    const crew = await read(key, id);
    const d = await gqlOk(
      server.url,
      'mutation($id: ID!) { deleteCrew(id: $id) { deletedId } }',
      { id },
      key,
    );
    expect(d.deleteCrew.deletedId).toBe(id);
    const r = await gql(server.url, READ, { id }, key);
    expect(r.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    expect(r.data?.crew ?? null).toBeNull();
    for (const x of [crew.agents[0]!.id, crew.tasks[0]!.id]) {
      const n = await gql(server.url, 'query($id: ID!) { node(id: $id) { id } }', { id: x }, key);
      expect(n.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    }
    const again = await gql(
      server.url,
      'mutation($id: ID!) { deleteCrew(id: $id) { deletedId } }',
      { id },
      key,
    );
    expect(again.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    const list = await gqlOk(server.url, '{ crews(first: 10) { edges { node { id } } } }', {}, key);
    expect(list.crews.edges.map((e: { node: { id: string } }) => e.node.id)).toEqual([keep]);
  });

  test('creating, reading, updating and deleting crews prints no warning on the server console', () => {
    // Prisma sends a nested create's queries together; pg 8 warns (once a process) when a query
    // arrives while its connection is busy. The tests above create, update and delete crews.
    expect(warnings).toEqual([]);
  });
});
