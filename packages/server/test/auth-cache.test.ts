// The per-instance cache of live API keys: authentication reads a key once, not per request, and
// revocation still takes effect on the next request, on the server that revoked it and (through the
// bus) on every other one.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createInProcessEventBus, type EventBus } from '../src/events/event-bus.js';
import { createRedisEventBus } from '../src/events/redis-event-bus.js';
import type { TroupeServer } from '../src/server.js';
import {
  ADMIN_KEY,
  BACKEND,
  createTestDatabase,
  REDIS_URL,
  startInstance,
  type TestDatabase,
} from './support/backend.js';
import { createTenant, type GqlResult, gql, gqlOk } from './support/graphql-client.js';

const CREWS = '{ crews(first: 1) { edges { node { id } } } }';
const VIEWER = '{ viewer { kind subject } }';
const CREATE_KEY =
  'mutation($name: String!, $scopes: [Scope!]!) { createApiKey(input: { name: $name, scopes: $scopes }) { apiKey { id } secret } }';
const REVOKE_KEY = 'mutation($id: ID!) { revokeApiKey(id: $id) { apiKey { id revokedAt } } }';
const MINT = 'mutation($input: CreateSessionTokenInput!) { createSessionToken(input: $input) { token } }';
/** Long enough that nothing in this file expires: what is refused was evicted, not aged out. */
const LONG_TTL_MS = 10 * 60_000;

let tdb: TestDatabase;
let dataDir: string;
const servers: TroupeServer[] = [];
const buses: EventBus[] = [];
/** Every statement sent to the database, by any of the servers (they share it). */
let statements: string[] = [];

/** Statements that look an API key up by its secret's hash (authentication of trp_ keys). */
const keyLookups = () => statements.filter((s) => /FROM "ApiKey" WHERE "hashedSecret"/.test(s)).length;
/** Statements that read the key that issued a session token (by id, in its tenant). */
const issuingKeyLookups = () =>
  statements.filter((s) => /^SELECT [^;]*"revokedAt"[^;]* FROM "public"\."ApiKey" WHERE/.test(s)).length;

async function start(bus: EventBus, ttlMs = LONG_TTL_MS): Promise<TroupeServer> {
  const server = await startInstance(tdb.database, dataDir, { bus, authCache: { ttlMs } });
  servers.push(server);
  return server;
}

function expectRevoked(r: GqlResult, message: RegExp): void {
  expect(r.status).toBe(401);
  expect(r.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  expect(r.errors?.[0]?.message).toMatch(message);
}

/** The database id inside a global id ("Type:id", base64). */
const rawId = (globalId: string) => Buffer.from(globalId, 'base64').toString().split(':')[1]!;

async function newKey(url: string, owner: string, name: string) {
  const d = await gqlOk(url, CREATE_KEY, { name, scopes: ['WRITE'] }, owner);
  return { id: d.createApiKey.apiKey.id as string, secret: d.createApiKey.secret as string };
}

async function mint(url: string, key: string, subject: string): Promise<string> {
  return (await gqlOk(url, MINT, { input: { subject, scopes: ['READ'] } }, key)).createSessionToken.token;
}

beforeAll(async () => {
  tdb = await createTestDatabase({ onQuery: (sql) => void statements.push(sql) });
  dataDir = mkdtempSync(path.join(tmpdir(), 'troupe-authcache-'));
});

afterAll(async () => {
  for (const s of servers) await s.close();
  for (const b of buses) await b.close();
  await tdb?.close();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

describe(`one server (${BACKEND})`, () => {
  let server: TroupeServer;
  let owner: string;

  beforeAll(async () => {
    const bus = createInProcessEventBus();
    buses.push(bus);
    server = await start(bus);
    ({ key: owner } = await createTenant(server.url, ADMIN_KEY, 'auth cache'));
  });

  test('20 requests with one API key look it up once', async () => {
    const k = await newKey(server.url, owner, 'counted');
    statements = [];
    for (let i = 0; i < 20; i++) await gqlOk(server.url, CREWS, {}, k.secret);
    expect(keyLookups()).toBe(1);
  });

  test('20 requests with one session token read its issuing key once', async () => {
    const token = await mint(server.url, owner, 'counted');
    statements = [];
    for (let i = 0; i < 20; i++) await gqlOk(server.url, VIEWER, {}, token);
    expect(issuingKeyLookups()).toBe(1);
    expect(keyLookups()).toBe(0);
  });

  test('a revoked key is refused on the very next request to the server that revoked it', async () => {
    const k = await newKey(server.url, owner, 'revoked here');
    await gqlOk(server.url, CREWS, {}, k.secret);
    await gqlOk(server.url, CREWS, {}, k.secret);
    await gqlOk(server.url, REVOKE_KEY, { id: k.id }, owner);
    expectRevoked(await gql(server.url, CREWS, {}, k.secret), /^This API key was revoked at /);
  });

  test('a session token is refused on the very next request once its issuing key is revoked', async () => {
    const k = await newKey(server.url, owner, 'issuer');
    const token = await mint(server.url, k.secret, 'user-1');
    expect((await gqlOk(server.url, VIEWER, {}, token)).viewer.subject).toBe('user-1');
    await gqlOk(server.url, VIEWER, {}, token);
    await gqlOk(server.url, REVOKE_KEY, { id: k.id }, owner);
    expectRevoked(
      await gql(server.url, VIEWER, {}, token),
      /^Invalid session token: the API key that issued it has been revoked\.$/,
    );
  });

  test('a mutation that rolls back does not evict: its key keeps working from the cache', async () => {
    const k = await newKey(server.url, owner, 'kept');
    await gqlOk(server.url, CREWS, {}, k.secret);
    // revokeApiKey then a failing field: the whole mutation is rolled back, the key stays live.
    const r = await gql(
      server.url,
      'mutation($id: ID!) { revokeApiKey(id: $id) { apiKey { id } } createApiKey(input: { name: "", scopes: [READ] }) { secret } }',
      { id: k.id },
      owner,
    );
    expect(r.errors?.[0]?.extensions?.code).toBe('BAD_INPUT');
    statements = [];
    await gqlOk(server.url, CREWS, {}, k.secret);
    expect(keyLookups()).toBe(0);
  });

  test('a key revoked behind the servers’ back (no bus message) is refused once its entry expires', async () => {
    const bus = createInProcessEventBus();
    buses.push(bus);
    const short = await start(bus, 300);
    const k = await newKey(short.url, owner, 'revoked by SQL');
    const d = await gqlOk(short.url, '{ viewer { tenant { id } } }', {}, k.secret);
    await tdb.database.withTenant(rawId(d.viewer.tenant.id), (tx) =>
      tx.apiKey.update({ where: { id: rawId(k.id) }, data: { revokedAt: new Date() } }),
    );
    await new Promise((r) => setTimeout(r, 400));
    expectRevoked(await gql(short.url, CREWS, {}, k.secret), /^This API key was revoked at /);
  });
});

describe(`two servers sharing a database and Redis (${BACKEND})`, () => {
  let a: TroupeServer;
  let b: TroupeServer;
  let owner: string;

  beforeAll(async () => {
    const prefix = `troupe-test-auth-${randomBytes(4).toString('hex')}:`;
    const busA = await createRedisEventBus({ url: REDIS_URL, prefix });
    const busB = await createRedisEventBus({ url: REDIS_URL, prefix });
    buses.push(busA, busB);
    a = await start(busA);
    b = await start(busB);
    ({ key: owner } = await createTenant(a.url, ADMIN_KEY, 'auth cache, two servers'));
  });

  /** Polls `url` with `token` for up to 1 s until it is refused. */
  async function refusedWithin1s(url: string, query: string, token: string): Promise<GqlResult> {
    const t0 = Date.now();
    for (;;) {
      const r = await gql(url, query, {}, token);
      if (r.status === 401 || Date.now() - t0 > 1000) return r;
      await new Promise((res) => setTimeout(res, 20));
    }
  }

  test('a key revoked on server A is refused by server B, which had it cached, well before the TTL', async () => {
    const k = await newKey(a.url, owner, 'revoked on A');
    await gqlOk(b.url, CREWS, {}, k.secret);
    statements = [];
    await gqlOk(b.url, CREWS, {}, k.secret);
    expect(keyLookups(), 'B serves the key from its cache').toBe(0);
    await gqlOk(a.url, REVOKE_KEY, { id: k.id }, owner);
    expectRevoked(await gql(a.url, CREWS, {}, k.secret), /^This API key was revoked at /);
    expectRevoked(await refusedWithin1s(b.url, CREWS, k.secret), /^This API key was revoked at /);
  });

  test('a session token whose issuing key is revoked on A is refused by B', async () => {
    const k = await newKey(a.url, owner, 'issuer revoked on A');
    const token = await mint(a.url, k.secret, 'user-2');
    await gqlOk(b.url, VIEWER, {}, token);
    statements = [];
    await gqlOk(b.url, VIEWER, {}, token);
    expect(issuingKeyLookups(), 'B serves the issuing key from its cache').toBe(0);
    await gqlOk(a.url, REVOKE_KEY, { id: k.id }, owner);
    expectRevoked(
      await refusedWithin1s(b.url, VIEWER, token),
      /^Invalid session token: the API key that issued it has been revoked\.$/,
    );
  });

  test('the invalidation subscription is not counted as a live subscription', () => {
    expect(a.bus.subscriberCount()).toBe(0);
    expect(b.bus.subscriberCount()).toBe(0);
  });
});
