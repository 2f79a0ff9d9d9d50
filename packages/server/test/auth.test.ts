// Authentication and authorisation over real HTTP: who may call what, with which credentials.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { BACKEND, startTestServer, type TestServer } from './support/backend.js';
import { createTenant, type GqlResult, gql, gqlOk, SAMPLE_CREW } from './support/graphql-client.js';

let server: TestServer;
let tenantA: { id: string; key: string; keyId: string };
let tenantB: { id: string; key: string; keyId: string };

const CREWS = '{ crews(first: 10) { edges { node { id name } } } }';
const CREATE_CREW = 'mutation($input: CreateCrewInput!) { createCrew(input: $input) { crew { id name } } }';
const CREATE_KEY =
  'mutation($name: String!, $scopes: [Scope!]!) { createApiKey(input: { name: $name, scopes: $scopes }) { apiKey { id name prefix scopes } secret } }';
const REVOKE_KEY = 'mutation($id: ID!) { revokeApiKey(id: $id) { apiKey { id revokedAt } } }';
const MINT =
  'mutation($input: CreateSessionTokenInput!) { createSessionToken(input: $input) { token expiresAt } }';
const VIEWER = '{ viewer { kind subject scopes tenant { id } } }';

function codes(r: GqlResult): (string | undefined)[] {
  return (r.errors ?? []).map((e) => e.extensions?.code);
}

function expectError(r: GqlResult, code: string, message?: RegExp): void {
  expect(codes(r), JSON.stringify(r.errors)).toContain(code);
  if (message) expect(r.errors!.map((e) => e.message).join('\n')).toMatch(message);
}

function expectUnauthenticated(r: GqlResult, message?: RegExp): void {
  expect(r.status).toBe(401);
  expect(r.data ?? null).toBeNull();
  expectError(r, 'UNAUTHENTICATED', message);
}

async function createKey(owner: string, name: string, scopes: string[]) {
  const d = await gqlOk(server.url, CREATE_KEY, { name, scopes }, owner);
  return d.createApiKey as {
    apiKey: { id: string; name: string; prefix: string; scopes: string[] };
    secret: string;
  };
}

async function mint(key: string, input: Record<string, unknown>) {
  const d = await gqlOk(server.url, MINT, { input }, key);
  return d.createSessionToken as { token: string; expiresAt: string };
}

const b64url = (s: string) => Buffer.from(s).toString('base64url');
const fromB64url = (s: string) => Buffer.from(s, 'base64url').toString('utf8');

/** Rewrites a JWT's payload without re-signing it. */
function withPayload(token: string, change: (p: Record<string, unknown>) => void): string {
  const [h, p, s] = token.split('.');
  const payload = JSON.parse(fromB64url(p!)) as Record<string, unknown>;
  change(payload);
  return `${h}.${b64url(JSON.stringify(payload))}.${s}`;
}

beforeAll(async () => {
  server = await startTestServer();
  const a = await createTenant(server.url, server.admin, 'Tenant A');
  const b = await createTenant(server.url, server.admin, 'Tenant B');
  tenantA = { id: a.tenant.id, key: a.key, keyId: a.keyId };
  tenantB = { id: b.tenant.id, key: b.key, keyId: b.keyId };
});
afterAll(() => server?.closeAll());

describe(`authentication (${BACKEND})`, () => {
  test('no Authorization header: queries and mutations answer 401 UNAUTHENTICATED', async () => {
    expectUnauthenticated(await gql(server.url, CREWS), /Authorization: Bearer/);
    expectUnauthenticated(await gql(server.url, VIEWER));
    expectUnauthenticated(await gql(server.url, CREATE_CREW, { input: SAMPLE_CREW }));
    expectUnauthenticated(
      await gql(server.url, 'mutation { createTenant(input: { name: "x" }) { tenant { id } } }'),
    );
    // Nothing was written by the refused mutation.
    expect((await gqlOk(server.url, CREWS, {}, tenantA.key)).crews.edges).toEqual([]);
  });

  test('garbage credentials answer 401', async () => {
    for (const token of [
      'nonsense',
      'trp_doesnotexist0000000000000000000000000000',
      `trpa_${'x'.repeat(48)}`,
      'a.b.c',
      `${b64url('{"alg":"HS256"}')}.${b64url('{}')}.sig`,
    ]) {
      const r = await gql(server.url, CREWS, {}, token);
      expect(r.status, token).toBe(401);
      expectError(r, 'UNAUTHENTICATED');
    }
    const res = await fetch(`${server.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Basic ${b64url('user:pass')}` },
      body: JSON.stringify({ query: CREWS }),
    });
    expect(res.status).toBe(401);
  });

  test('a mutation sent over GET is refused, even with a valid key', async () => {
    const q = encodeURIComponent(
      'mutation { createApiKey(input: { name: "via GET", scopes: [ADMIN] }) { secret } }',
    );
    const res = await fetch(`${server.url}/graphql?query=${q}`, {
      headers: { authorization: `Bearer ${tenantA.key}`, accept: 'application/json' },
    });
    expect(res.status).toBe(405);
    const keys = await gqlOk(server.url, '{ apiKeys { name } }', {}, tenantA.key);
    expect(keys.apiKeys.map((k: { name: string }) => k.name)).not.toContain('via GET');
  });

  test('GET /health answers 200 without credentials', async () => {
    const res = await fetch(`${server.url}/health`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: 'ok', database: BACKEND });
  });
});

describe(`the platform admin key (${BACKEND})`, () => {
  test('creates tenants, whose first key is an admin key that works at once', async () => {
    const t = await createTenant(server.url, server.admin, 'Tenant C');
    const v = await gqlOk(server.url, VIEWER, {}, t.key);
    expect(v.viewer).toEqual({
      kind: 'API_KEY',
      subject: null,
      scopes: ['READ', 'WRITE', 'ADMIN'],
      tenant: { id: t.tenant.id },
    });
  });

  test('cannot read or write tenant data', async () => {
    const r = await gql(server.url, CREWS, {}, server.admin);
    expect(r.status).toBe(403);
    expectError(r, 'FORBIDDEN', /admin key/);
    expectError(await gql(server.url, CREATE_CREW, { input: SAMPLE_CREW }, server.admin), 'FORBIDDEN');
    expectError(await gql(server.url, '{ apiKeys { id } }', {}, server.admin), 'FORBIDDEN');
  });

  test('a tenant admin key cannot create tenants', async () => {
    const r = await gql(
      server.url,
      'mutation { createTenant(input: { name: "Sneaky" }) { tenant { id } } }',
      {},
      tenantA.key,
    );
    expectError(r, 'FORBIDDEN', /createTenant/);
    expect(r.data?.createTenant ?? null).toBeNull();
  });
});

describe(`API key scopes (${BACKEND})`, () => {
  test('a READ key can query crews but not create one', async () => {
    const read = await createKey(tenantA.key, 'reader', ['READ']);
    expect((await gqlOk(server.url, CREWS, {}, read.secret)).crews.edges).toBeInstanceOf(Array);
    const r = await gql(server.url, CREATE_CREW, { input: SAMPLE_CREW }, read.secret);
    expectError(r, 'FORBIDDEN', /createCrew.*read/);
    expect(r.data?.createCrew ?? null).toBeNull();
    expect((await gqlOk(server.url, CREWS, {}, tenantA.key)).crews.edges).toEqual([]);
  });

  test('a WRITE key can create crews but not API keys', async () => {
    const write = await createKey(tenantA.key, 'writer', ['WRITE']);
    const created = await gqlOk(
      server.url,
      CREATE_CREW,
      { input: { ...SAMPLE_CREW, name: 'Written' } },
      write.secret,
    );
    expect(created.createCrew.crew.name).toBe('Written');
    const r = await gql(server.url, CREATE_KEY, { name: 'escalate', scopes: ['ADMIN'] }, write.secret);
    expectError(r, 'FORBIDDEN', /createApiKey/);
    expectError(await gql(server.url, '{ apiKeys { id } }', {}, write.secret), 'FORBIDDEN');
    const keys = await gqlOk(server.url, '{ apiKeys { name } }', {}, tenantA.key);
    expect(keys.apiKeys.map((k: { name: string }) => k.name)).not.toContain('escalate');
  });

  test('apiKeys shows the prefix, never the secret; a new secret works immediately', async () => {
    const k = await createKey(tenantA.key, 'listed', ['READ']);
    expect(k.secret.startsWith(k.apiKey.prefix)).toBe(true);
    expect(k.secret.length).toBeGreaterThan(k.apiKey.prefix.length + 16);
    const v = await gqlOk(server.url, VIEWER, {}, k.secret);
    expect(v.viewer).toMatchObject({ kind: 'API_KEY', scopes: ['READ'], tenant: { id: tenantA.id } });

    const res = await gql(
      server.url,
      '{ apiKeys { id name prefix scopes revokedAt createdAt } }',
      {},
      tenantA.key,
    );
    const listed = (res.data!.apiKeys as { id: string; prefix: string }[]).find((x) => x.id === k.apiKey.id);
    expect(listed).toMatchObject({
      name: 'listed',
      prefix: k.apiKey.prefix,
      scopes: ['READ'],
      revokedAt: null,
    });
    expect(JSON.stringify(res)).not.toContain(k.secret);
    expect(JSON.stringify(res)).not.toContain(tenantA.key);
    // There is no field to ask for it.
    const asked = await gql(server.url, '{ apiKeys { secret } }', {}, tenantA.key);
    expect(asked.status).toBe(400);
    expect(asked.errors![0]!.message).toMatch(/Cannot query field "secret"/);
  });

  test('a revoked key is refused with 401 saying it was revoked', async () => {
    const k = await createKey(tenantA.key, 'to revoke', ['WRITE']);
    await gqlOk(server.url, CREWS, {}, k.secret);
    const revoked = await gqlOk(server.url, REVOKE_KEY, { id: k.apiKey.id }, tenantA.key);
    expect(revoked.revokeApiKey.apiKey.revokedAt).toEqual(expect.any(String));
    expectUnauthenticated(await gql(server.url, CREWS, {}, k.secret), /revoked/);
    expectUnauthenticated(await gql(server.url, CREATE_CREW, { input: SAMPLE_CREW }, k.secret), /revoked/);
    // Revoking twice is harmless and keeps the first time.
    const again = await gqlOk(server.url, REVOKE_KEY, { id: k.apiKey.id }, tenantA.key);
    expect(again.revokeApiKey.apiKey.revokedAt).toBe(revoked.revokeApiKey.apiKey.revokedAt);
  });

  test('lastUsedAt is set once a key is used', async () => {
    const k = await createKey(tenantA.key, 'used', ['READ']);
    const lastUsed = async () => {
      const d = await gqlOk(server.url, '{ apiKeys { id lastUsedAt } }', {}, tenantA.key);
      return (d.apiKeys as { id: string; lastUsedAt: string | null }[]).find((x) => x.id === k.apiKey.id)!
        .lastUsedAt;
    };
    expect(await lastUsed()).toBeNull();
    const before = Date.now();
    await gqlOk(server.url, CREWS, {}, k.secret);
    let seen: string | null = null;
    for (let i = 0; i < 50 && !seen; i++) {
      seen = await lastUsed();
      if (!seen) await new Promise((r) => setTimeout(r, 100));
    }
    expect(seen).not.toBeNull();
    expect(Date.parse(seen!)).toBeGreaterThanOrEqual(before - 1000);
    expect(Date.parse(seen!)).toBeLessThanOrEqual(Date.now() + 1000);
  });
});

describe(`session tokens (${BACKEND})`, () => {
  test('a minted token reads as its subject with the narrowed scopes', async () => {
    const before = Date.now();
    const s = await mint(tenantA.key, { subject: 'user-42', scopes: ['READ'], ttlSeconds: 600 });
    expect(s.token.split('.')).toHaveLength(3);
    const exp = Date.parse(s.expiresAt);
    expect(exp).toBeGreaterThanOrEqual(before + 599_000);
    expect(exp).toBeLessThanOrEqual(Date.now() + 601_000);
    const v = await gqlOk(server.url, VIEWER, {}, s.token);
    expect(v.viewer).toEqual({
      kind: 'SESSION',
      subject: 'user-42',
      scopes: ['READ'],
      tenant: { id: tenantA.id },
    });
    expect((await gqlOk(server.url, CREWS, {}, s.token)).crews.edges).toBeInstanceOf(Array);
    // Narrowed: the admin key minted it, but it cannot write.
    expectError(await gql(server.url, CREATE_CREW, { input: SAMPLE_CREW }, s.token), 'FORBIDDEN');
  });

  test('asking for a scope above the minting key’s is BAD_INPUT', async () => {
    const read = await createKey(tenantA.key, 'read minter', ['READ']);
    const r = await gql(server.url, MINT, { input: { subject: 'u', scopes: ['WRITE'] } }, read.secret);
    expectError(r, 'BAD_INPUT', /input\.scopes.*write/);
    expect(r.data?.createSessionToken ?? null).toBeNull();
    const ok = await mint(read.secret, { subject: 'u', scopes: ['READ'] });
    expect((await gqlOk(server.url, VIEWER, {}, ok.token)).viewer.scopes).toEqual(['READ']);
  });

  test('token and key inputs are checked: field and rule named, nothing minted', async () => {
    const cases: [string, Record<string, unknown>, string, RegExp][] = [
      [MINT, { input: { subject: 'u', ttlSeconds: 86_401 } }, 'input.ttlSeconds', /integer from 1 to 86400/],
      [MINT, { input: { subject: 'u', ttlSeconds: 0 } }, 'input.ttlSeconds', /integer from 1 to 86400/],
      [MINT, { input: { subject: '   ' } }, 'input.subject', /must not be empty/],
      [MINT, { input: { subject: 'u', scopes: [] } }, 'input.scopes', /at least one scope/],
      [CREATE_KEY, { name: 'no scopes', scopes: [] }, 'input.scopes', /at least one of read, write, admin/],
      [CREATE_KEY, { name: ' ', scopes: ['READ'] }, 'input.name', /must not be empty/],
    ];
    const keysBefore = (await gqlOk(server.url, '{ apiKeys { id } }', {}, tenantA.key)).apiKeys.length;
    for (const [query, variables, field, rule] of cases) {
      const r = await gql(server.url, query, variables, tenantA.key);
      expect(r.errors?.[0]?.extensions, JSON.stringify(variables)).toMatchObject({
        code: 'BAD_INPUT',
        field,
      });
      expect(r.errors![0]!.message).toMatch(rule);
      for (const v of Object.values(r.data ?? {})) expect(v).toBeNull();
    }
    expect((await gqlOk(server.url, '{ apiKeys { id } }', {}, tenantA.key)).apiKeys.length).toBe(keysBefore);
  });

  test('a session token cannot mint tokens, create keys or list them, whatever its scopes', async () => {
    const s = await mint(tenantA.key, { subject: 'power-user', scopes: ['ADMIN'] });
    expectError(
      await gql(server.url, MINT, { input: { subject: 'other' } }, s.token),
      'FORBIDDEN',
      /createSessionToken/,
    );
    expectError(
      await gql(server.url, CREATE_KEY, { name: 'from session', scopes: ['READ'] }, s.token),
      'FORBIDDEN',
    );
    const keys = await gqlOk(server.url, '{ apiKeys { name } }', {}, tenantA.key);
    expect(keys.apiKeys.map((k: { name: string }) => k.name)).not.toContain('from session');
    // Nor list the tenant's keys: key management is for API keys only.
    expectError(await gql(server.url, '{ apiKeys { name prefix } }', {}, s.token), 'FORBIDDEN');
  });

  test("a session token (a browser's) cannot change the tenant's crews, nor read its keys through node()", async () => {
    const s = await mint(tenantA.key, { subject: 'end-user', scopes: ['READ', 'WRITE'] });
    const crew = (
      await gqlOk(
        server.url,
        'mutation($input: CreateCrewInput!) { createCrew(input: $input) { crew { id } } }',
        { input: SAMPLE_CREW },
        tenantA.key,
      )
    ).createCrew.crew.id as string;
    for (const [mutation, variables] of [
      [
        'mutation($input: CreateCrewInput!) { createCrew(input: $input) { crew { id } } }',
        { input: SAMPLE_CREW },
      ],
      [
        'mutation($input: UpdateCrewInput!) { updateCrew(input: $input) { crew { id } } }',
        { input: { id: crew, name: 'hijacked' } },
      ],
      ['mutation($id: ID!) { deleteCrew(id: $id) { deletedId } }', { id: crew }],
    ] as const) {
      const r = await gql(server.url, mutation, variables, s.token);
      expectError(r, 'FORBIDDEN');
    }
    // The crew is as it was: its threads, webhooks and other users' chats with it are safe.
    const still = await gqlOk(
      server.url,
      'query($id: ID!) { crew(id: $id) { name } }',
      { id: crew },
      tenantA.key,
    );
    expect(still.crew.name).toBe(SAMPLE_CREW.name);
    // The key that issued the token is named in its claims: node() does not show it either.
    const kid = JSON.parse(fromB64url(s.token.split('.')[1]!)).kid as string;
    const viaNode = await gql(
      server.url,
      'query($id: ID!) { node(id: $id) { ... on ApiKey { name prefix scopes } } }',
      { id: Buffer.from(`ApiKey:${kid}`).toString('base64') },
      s.token,
    );
    expect(viaNode.data?.node ?? null).toBeNull();
    expect(JSON.stringify(viaNode)).not.toMatch(/prefix|trp/);
  });

  test('an expired token is refused with 401 saying so', async () => {
    const s = await mint(tenantA.key, { subject: 'brief', ttlSeconds: 1 });
    await new Promise((r) => setTimeout(r, 2200));
    expectUnauthenticated(await gql(server.url, VIEWER, {}, s.token), /expired/);
  });

  test('a tampered token is refused with 401', async () => {
    const s = await mint(tenantA.key, { subject: 'honest', scopes: ['READ'] });
    const [h, p, sig] = s.token.split('.') as [string, string, string];
    const i = Math.floor(p.length / 2);
    const flipped = `${h}.${p.slice(0, i)}${p[i] === 'A' ? 'B' : 'A'}${p.slice(i + 1)}.${sig}`;
    expectUnauthenticated(await gql(server.url, VIEWER, {}, flipped));
    const escalated = withPayload(s.token, (pl) => {
      pl.scp = ['admin'];
    });
    expectUnauthenticated(await gql(server.url, VIEWER, {}, escalated), /signature/);
    const renamed = withPayload(s.token, (pl) => {
      pl.sub = 'someone-else';
    });
    expectUnauthenticated(await gql(server.url, VIEWER, {}, renamed), /signature/);
    const unsigned = `${b64url(JSON.stringify({ alg: 'none', typ: 'JWT' }))}.${p}.`;
    expectUnauthenticated(await gql(server.url, VIEWER, {}, unsigned));
    // The untouched token still works.
    expect((await gqlOk(server.url, VIEWER, {}, s.token)).viewer.subject).toBe('honest');
  });

  test('a token for tenant A with its tenant claim changed to B is refused', async () => {
    const s = await mint(tenantA.key, { subject: 'mover', scopes: ['READ'] });
    const moved = withPayload(s.token, (pl) => {
      pl.tid = tenantB.id;
    });
    expectUnauthenticated(await gql(server.url, CREWS, {}, moved));
    // Also with B's key id, as an attacker who read it from B's token would try.
    const movedWithKey = withPayload(s.token, (pl) => {
      pl.tid = tenantB.id;
      pl.kid =
        tenantB.keyId.length > 0 ? Buffer.from(tenantB.keyId, 'base64').toString().split(':')[1] : pl.kid;
    });
    expectUnauthenticated(await gql(server.url, CREWS, {}, movedWithKey));
  });

  test('revoking the minting key stops its tokens', async () => {
    const k = await createKey(tenantA.key, 'minter', ['WRITE']);
    const s = await mint(k.secret, { subject: 'soon-orphaned', scopes: ['READ'] });
    expect((await gqlOk(server.url, VIEWER, {}, s.token)).viewer.subject).toBe('soon-orphaned');
    await gqlOk(server.url, REVOKE_KEY, { id: k.apiKey.id }, tenantA.key);
    expectUnauthenticated(await gql(server.url, VIEWER, {}, s.token), /revoked/);
  });
});
