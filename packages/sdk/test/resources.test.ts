import { afterEach, describe, expect, it } from 'vitest';
import { type Crew, createTroupeClient } from '../src/index';
import { type ReceivedRequest, startTestServer, type TestServer } from './graphql-test-server';

let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const crew: Crew = {
  id: 'Q3Jldzox',
  name: 'Research',
  description: '',
  process: 'SEQUENTIAL',
  version: 1,
  createdAt: '2026-01-01T00:00:00.000Z',
  updatedAt: '2026-01-01T00:00:00.000Z',
  manager: null,
  agents: [
    {
      id: 'QWdlbnQ6MQ==',
      name: 'writer',
      role: 'Writer',
      goal: '',
      backstory: '',
      instructions: '',
      tools: [],
      allowDelegation: false,
      maxIterations: 10,
      model: { provider: 'SCRIPTED', name: 'demo', temperature: null, maxTokens: null },
    },
  ],
  tasks: [
    {
      id: 'VGFzazox',
      name: 'draft',
      description: 'Write about {{topic}}',
      expectedOutput: '',
      outputSchema: null,
      requiresApproval: false,
      agent: { name: 'writer' },
      dependsOn: [],
    },
  ],
};

const apiKey = {
  id: 'QXBpS2V5OjE=',
  name: 'ci',
  prefix: 'tk_ab12',
  scopes: ['READ'],
  createdAt: '2026-01-01T00:00:00.000Z',
  lastUsedAt: null,
  revokedAt: null,
};

/** Answers by operation name, like the real server would for these documents. */
async function client(answers: Record<string, unknown>) {
  server = await startTestServer((request: ReceivedRequest) => {
    const data = answers[request.body.operationName];
    return data === undefined
      ? { status: 400, body: { errors: [{ message: `unexpected ${request.body.operationName}` }] } }
      : { body: { data } };
  });
  return { client: createTroupeClient({ url: server.url, apiKey: 'tk_key' }), requests: server.requests };
}

describe('crews', () => {
  it('lists a page of crews, flattening edges to nodes', async () => {
    const { client: troupe, requests } = await client({
      Crews: {
        crews: { edges: [{ cursor: 'c1', node: crew }], pageInfo: { endCursor: 'c1', hasNextPage: true } },
      },
    });
    const page = await troupe.crews.list({ first: 1, after: 'c0' });
    expect(page).toEqual({ nodes: [crew], pageInfo: { endCursor: 'c1', hasNextPage: true } });
    expect(requests[0]!.body.variables).toEqual({ first: 1, after: 'c0' });
    expect(requests[0]!.body.query).toContain('fragment CrewFields on Crew');
  });

  it('gets one crew by id', async () => {
    const { client: troupe, requests } = await client({ Crew: { crew } });
    await expect(troupe.crews.get(crew.id)).resolves.toEqual(crew);
    expect(requests[0]!.body.variables).toEqual({ id: crew.id });
  });

  it('gets null for a crew the server does not find, and still throws other errors', async () => {
    server = await startTestServer((request) => ({
      body: {
        data: null,
        errors: [
          request.body.variables.id === 'gone'
            ? { message: 'Crew not found: gone', extensions: { code: 'NOT_FOUND' } }
            : { message: 'id: "bad" is not a valid Crew id', extensions: { code: 'BAD_INPUT', field: 'id' } },
        ],
      },
    }));
    const troupe = createTroupeClient({ url: server.url });
    await expect(troupe.crews.get('gone')).resolves.toBeNull();
    await expect(troupe.crews.get('bad')).rejects.toMatchObject({ code: 'BAD_INPUT', field: 'id' });
  });

  it('creates, updates and deletes a crew, unwrapping the payloads', async () => {
    const { client: troupe, requests } = await client({
      CreateCrew: { createCrew: { crew } },
      UpdateCrew: { updateCrew: { crew: { ...crew, name: 'Renamed', version: 2 } } },
      DeleteCrew: { deleteCrew: { deletedId: crew.id } },
    });
    const input = {
      name: 'Research',
      agents: [{ name: 'writer', role: 'Writer', model: { provider: 'SCRIPTED' as const, name: 'demo' } }],
      tasks: [{ name: 'draft', agent: 'writer', description: 'Write about {{topic}}' }],
    };
    await expect(troupe.crews.create(input)).resolves.toEqual(crew);
    await expect(troupe.crews.update({ id: crew.id, name: 'Renamed' })).resolves.toMatchObject({
      version: 2,
    });
    await expect(troupe.crews.delete(crew.id)).resolves.toBe(crew.id);
    expect(requests.map((r) => [r.body.operationName, r.body.variables])).toEqual([
      ['CreateCrew', { input }],
      ['UpdateCrew', { input: { id: crew.id, name: 'Renamed' } }],
      ['DeleteCrew', { id: crew.id }],
    ]);
  });
});

describe('apiKeys, sessionTokens, tenants', () => {
  it('lists, creates and revokes API keys', async () => {
    const revoked = { ...apiKey, revokedAt: '2026-01-02T00:00:00.000Z' };
    const { client: troupe, requests } = await client({
      ApiKeys: { apiKeys: [apiKey] },
      CreateApiKey: { createApiKey: { apiKey, secret: 'tk_ab12_secret' } },
      RevokeApiKey: { revokeApiKey: { apiKey: revoked } },
    });
    await expect(troupe.apiKeys.list()).resolves.toEqual([apiKey]);
    await expect(troupe.apiKeys.create({ name: 'ci', scopes: ['READ'] })).resolves.toEqual({
      apiKey,
      secret: 'tk_ab12_secret',
    });
    await expect(troupe.apiKeys.revoke(apiKey.id)).resolves.toEqual(revoked);
    expect(requests[1]!.body.variables).toEqual({ input: { name: 'ci', scopes: ['READ'] } });
    expect(requests[2]!.body.variables).toEqual({ id: apiKey.id });
  });

  it('mints a session token', async () => {
    const token = { token: 'eyJ...', expiresAt: '2026-01-01T01:00:00.000Z' };
    const { client: troupe, requests } = await client({ CreateSessionToken: { createSessionToken: token } });
    const input = {
      subject: 'user-42',
      scopes: ['READ' as const],
      ttlSeconds: 600,
      threadIds: ['VGhyZWFkOjE='],
    };
    await expect(troupe.sessionTokens.create(input)).resolves.toEqual(token);
    expect(requests[0]!.body.variables).toEqual({ input });
  });

  it('creates a tenant with its first admin key', async () => {
    const created = {
      tenant: { id: 'VGVuYW50OjE=', name: 'Acme', createdAt: '2026-01-01T00:00:00.000Z' },
      apiKey: {
        id: apiKey.id,
        name: 'admin',
        prefix: 'tk_ad12',
        scopes: ['ADMIN'],
        createdAt: apiKey.createdAt,
        secret: 'tk_admin_secret',
      },
    };
    const { client: troupe } = await client({ CreateTenant: { createTenant: created } });
    await expect(troupe.tenants.create({ name: 'Acme' })).resolves.toEqual(created);
  });
});
