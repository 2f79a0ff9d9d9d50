// Live streams end with their credentials: revoking an API key closes the WebSocket connections it
// (or a session token it issued) authenticated, on every server, and ends its SSE streams; a session
// token's WebSocket is closed when the token expires. Other keys' streams are untouched.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createOpenAICompatibleTestServer, type OpenAICompatibleTestServer } from '@troupe/agents/testing';
import { type Client, createClient } from 'graphql-ws';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, test, vi } from 'vitest';
import WebSocket from 'ws';
import { createCredentialWatch } from '../src/auth/credential-watch.js';
import { createInProcessEventBus, type EventBus } from '../src/events/event-bus.js';
import { createRedisEventBus } from '../src/events/redis-event-bus.js';
import { untilCredentialsEnd } from '../src/http/stream-credentials.js';
import type { TroupeServer } from '../src/server.js';
import {
  ADMIN_KEY,
  BACKEND,
  createTestDatabase,
  REDIS_URL,
  startInstance,
  type TestDatabase,
} from './support/backend.js';
import { CREATE_CREW, createTenant, gqlOk, SAMPLE_CREW } from './support/graphql-client.js';
import { sseSubscribe } from './support/sse-client.js';

const EVENTS = 'subscription($runId: ID!) { runEvents(runId: $runId) { seq type } }';
const CREATE_KEY =
  'mutation($name: String!) { createApiKey(input: { name: $name, scopes: [WRITE] }) { apiKey { id } secret } }';
const REVOKE_KEY = 'mutation($id: ID!) { revokeApiKey(id: $id) { apiKey { id revokedAt } } }';
const MINT =
  'mutation($input: CreateSessionTokenInput!) { createSessionToken(input: $input) { token expiresAt } }';
const START_RUN = 'mutation($input: StartRunInput!) { startRun(input: $input) { run { id } } }';
const CANCEL_RUN = 'mutation($id: ID!) { cancelRun(id: $id) { run { id } } }';
const CREW = {
  ...SAMPLE_CREW,
  agents: SAMPLE_CREW.agents.map((a) => ({ ...a, model: { provider: 'OPENAI', name: 'm' } })),
};
/** An answer that streams for about 10 s: runs stay live while the tests revoke keys. */
const SLOW_TEXT = Array.from({ length: 250 }, (_, i) => `w${i}`).join(' ');

let llm: OpenAICompatibleTestServer;
let tdb: TestDatabase;
let dataDir: string;
const servers: TroupeServer[] = [];
const buses: EventBus[] = [];

async function start(bus: EventBus): Promise<TroupeServer> {
  const server = await startInstance(tdb.database, dataDir, {
    bus,
    providers: { openai: { baseUrl: llm.url, apiKey: 'test' } },
  });
  servers.push(server);
  return server;
}

beforeAll(async () => {
  llm = await createOpenAICompatibleTestServer();
  llm.setFallback(() => ({ text: SLOW_TEXT, chunkDelayMs: 40 }));
  tdb = await createTestDatabase();
  dataDir = mkdtempSync(path.join(tmpdir(), 'troupe-revoke-'));
});

afterAll(async () => {
  for (const s of servers) await s.close();
  for (const b of buses) await b.close();
  await tdb?.close();
  await llm?.close();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

interface Closed {
  code: number;
  reason: string;
  at: number;
}

/** A graphql-ws client that connects at once; `closed` resolves with the close event. */
function wsClient(url: string, token: string) {
  let resolveClosed!: (v: Closed) => void;
  const closed = new Promise<Closed>((r) => {
    resolveClosed = r;
  });
  let resolveConnected!: () => void;
  const connected = new Promise<void>((r) => {
    resolveConnected = r;
  });
  let isClosed = false;
  const c: Client = createClient({
    url: `${url.replace('http', 'ws')}/graphql`,
    webSocketImpl: WebSocket,
    connectionParams: { authorization: `Bearer ${token}` },
    lazy: false,
    retryAttempts: 0,
    onNonLazyError: () => {},
    on: {
      connected: () => resolveConnected(),
      closed: (e) => {
        isClosed = true;
        resolveClosed({
          code: (e as CloseEvent).code,
          reason: String((e as CloseEvent).reason),
          at: Date.now(),
        });
      },
    },
  });
  return { c, closed, connected, isClosed: () => isClosed };
}

/** Subscribes to a run's events; `events` fills as they arrive, `ended` settles with the stream. */
function watchRun(c: Client, runId: string) {
  const events: { seq: number; type: string }[] = [];
  const ended = new Promise<{ error?: unknown }>((resolve) => {
    c.subscribe(
      { query: EVENTS, variables: { runId } },
      {
        next: (v) => (v.errors ? resolve({ error: v.errors }) : events.push(v.data!.runEvents as never)),
        error: (error) => resolve({ error }),
        complete: () => resolve({}),
      },
    );
  });
  return { events, ended };
}

async function until(what: string, ok: () => boolean, ms = 10_000): Promise<void> {
  const t0 = Date.now();
  while (!ok()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Two clients follow the run; resolves once each has received an event. */
async function bothStreaming(runId: string, x: Client, y: Client) {
  const xRun = watchRun(x, runId);
  const yRun = watchRun(y, runId);
  await until('both sockets to receive events', () => xRun.events.length > 0 && yRun.events.length > 0);
  return [xRun, yRun] as const;
}

/** A tenant with a crew, its owner key and a fresh WRITE key. */
async function tenantWithCrew(url: string, name: string) {
  const { key: owner, tenant } = await createTenant(url, ADMIN_KEY, name);
  const crewId = (await gqlOk(url, CREATE_CREW, { input: CREW }, owner)).createCrew.crew.id as string;
  return { owner, crewId, tenantId: rowId(tenant.id) };
}

/** A global id's row id. */
const rowId = (globalId: string) => Buffer.from(globalId, 'base64').toString().split(':')[1]!;

async function newKey(url: string, owner: string, name: string) {
  const d = await gqlOk(url, CREATE_KEY, { name }, owner);
  return { id: d.createApiKey.apiKey.id as string, secret: d.createApiKey.secret as string };
}

async function mint(url: string, key: string, ttlSeconds?: number) {
  const d = await gqlOk(url, MINT, { input: { subject: 'end-user', ttlSeconds } }, key);
  return {
    token: d.createSessionToken.token as string,
    expiresAt: Date.parse(d.createSessionToken.expiresAt),
  };
}

async function slowRun(url: string, owner: string, crewId: string): Promise<string> {
  return (await gqlOk(url, START_RUN, { input: { crewId, inputs: { topic: 'slow' } } }, owner)).startRun.run
    .id;
}

/** Revokes and returns when the answer came (the time the 1 s budgets count from). */
async function revoke(url: string, owner: string, keyId: string): Promise<number> {
  await gqlOk(url, REVOKE_KEY, { id: keyId }, owner);
  return Date.now();
}

describe(`one server (${BACKEND})`, () => {
  let server: TroupeServer;
  let owner: string;
  let crewId: string;

  beforeAll(async () => {
    const bus = createInProcessEventBus();
    buses.push(bus);
    server = await start(bus);
    ({ owner, crewId } = await tenantWithCrew(server.url, 'revocation streams'));
  });

  /** Nothing stays watched once every connection and stream is closed. */
  async function expectNothingWatched(): Promise<void> {
    await until('the credential watch to empty', () => server.credentialWatch.size() === 0, 2000);
    expect(server.credentialWatch.keys()).toBe(0);
  }

  test('revoking an API key closes its WebSocket with 4403 within 1 s; another key’s socket keeps streaming', async () => {
    const victim = await newKey(server.url, owner, 'victim');
    const bystander = await newKey(server.url, owner, 'bystander');
    const runId = await slowRun(server.url, owner, crewId);
    const v = wsClient(server.url, victim.secret);
    const b = wsClient(server.url, bystander.secret);
    try {
      const [, bRun] = await bothStreaming(runId, v.c, b.c);
      const revokedAt = await revoke(server.url, owner, victim.id);
      const closed = await v.closed;
      expect(closed.code).toBe(4403);
      expect(closed.reason).toBe('Forbidden: the API key was revoked.');
      expect(closed.at - revokedAt).toBeLessThan(1000);
      // The other key's socket is open and still receives the run's events.
      const seen = bRun.events.length;
      await until('the bystander to receive more events', () => bRun.events.length > seen);
      expect(b.isClosed()).toBe(false);
      await gqlOk(server.url, CANCEL_RUN, { id: runId }, owner);
      expect(await bRun.ended).toEqual({});
      expect(bRun.events.at(-1)?.type).toBe('RUN_CANCELLED');
      expect(b.isClosed()).toBe(false);
    } finally {
      await v.c.dispose();
      await b.c.dispose();
    }
    await expectNothingWatched();
  });

  test('revoking a key closes the WebSockets of the session tokens it issued with 4403', async () => {
    const issuer = await newKey(server.url, owner, 'issuer');
    const other = await newKey(server.url, owner, 'other issuer');
    const { token } = await mint(server.url, issuer.secret);
    const { token: otherToken } = await mint(server.url, other.secret);
    const runId = await slowRun(server.url, owner, crewId);
    const v = wsClient(server.url, token);
    const b = wsClient(server.url, otherToken);
    try {
      const [, bRun] = await bothStreaming(runId, v.c, b.c);
      const revokedAt = await revoke(server.url, owner, issuer.id);
      const closed = await v.closed;
      expect(closed.code).toBe(4403);
      expect(closed.reason).toBe('Forbidden: the API key that issued this session token was revoked.');
      expect(closed.at - revokedAt).toBeLessThan(1000);
      const seen = bRun.events.length;
      await until('the other token to receive more events', () => bRun.events.length > seen);
      expect(b.isClosed()).toBe(false);
      await gqlOk(server.url, CANCEL_RUN, { id: runId }, owner);
      await bRun.ended;
    } finally {
      await v.c.dispose();
      await b.c.dispose();
    }
    await expectNothingWatched();
  });

  test('a session token’s WebSocket is closed with 4401 when the token expires', async () => {
    const { token, expiresAt } = await mint(server.url, owner, 2);
    const { token: lasting } = await mint(server.url, owner, 600);
    const s = wsClient(server.url, token);
    const l = wsClient(server.url, lasting);
    try {
      await s.connected;
      await l.connected;
      expect(server.credentialWatch.size()).toBe(2);
      const closed = await s.closed;
      expect(closed.code).toBe(4401);
      expect(closed.reason).toBe('Unauthorized: the session token expired.');
      expect(closed.at).toBeGreaterThanOrEqual(expiresAt);
      expect(closed.at - expiresAt).toBeLessThan(1000);
      expect(l.isClosed()).toBe(false);
      expect(server.credentialWatch.size()).toBe(1);
    } finally {
      await s.c.dispose();
      await l.c.dispose();
    }
    await expectNothingWatched();
  });

  test('revoking a key ends its SSE stream with a FORBIDDEN error, then the stream completes', async () => {
    const victim = await newKey(server.url, owner, 'sse victim');
    const runId = await slowRun(server.url, owner, crewId);
    const results: { data?: unknown; errors?: { message: string; extensions?: { code?: string } }[] }[] = [];
    let revokedAt = 0;
    const t0 = Date.now();
    for await (const r of sseSubscribe(server.url, EVENTS, { runId }, victim.secret)) {
      results.push(r);
      if (results.length === 1) revokedAt = await revoke(server.url, owner, victim.id);
      if (Date.now() - t0 > 15_000) break;
    }
    const ended = Date.now();
    expect(results.length).toBeGreaterThan(1);
    expect(results.slice(0, -1).every((r) => !r.errors)).toBe(true);
    expect(results.at(-1)?.errors?.[0]).toMatchObject({
      message: 'Forbidden: the API key was revoked.',
      extensions: { code: 'FORBIDDEN' },
    });
    expect(ended - revokedAt).toBeLessThan(1000);
    await gqlOk(server.url, CANCEL_RUN, { id: runId }, owner);
    await expectNothingWatched();
    await until('the run subscription to end', () => server.bus.subscriberCount() === 0, 5000);
  });

  test('a session token’s SSE stream ends with an UNAUTHENTICATED error when the token expires', async () => {
    const { token, expiresAt } = await mint(server.url, owner, 2);
    const runId = await slowRun(server.url, owner, crewId);
    const results: { errors?: { message: string; extensions?: { code?: string } }[] }[] = [];
    for await (const r of sseSubscribe(server.url, EVENTS, { runId }, token)) results.push(r);
    expect(Date.now()).toBeGreaterThanOrEqual(expiresAt);
    expect(results.at(-1)?.errors?.[0]).toMatchObject({
      message: 'Unauthorized: the session token expired.',
      extensions: { code: 'UNAUTHENTICATED' },
    });
    await gqlOk(server.url, CANCEL_RUN, { id: runId }, owner);
    await expectNothingWatched();
  });

  test('an SSE stream the client abandons is no longer watched', async () => {
    const k = await newKey(server.url, owner, 'sse abandoned');
    const runId = await slowRun(server.url, owner, crewId);
    const abort = new AbortController();
    const it = sseSubscribe(server.url, EVENTS, { runId }, k.secret, abort.signal);
    await it.next();
    expect(server.credentialWatch.size()).toBe(1);
    abort.abort();
    await it.return(undefined).catch(() => {});
    await expectNothingWatched();
    await gqlOk(server.url, CANCEL_RUN, { id: runId }, owner);
  });
});

describe(`two servers sharing a database and Redis (${BACKEND})`, () => {
  let a: TroupeServer;
  let b: TroupeServer;
  let owner: string;
  let crewId: string;
  let tenantId: string;
  let prefix: string;

  beforeAll(async () => {
    prefix = `troupe-test-revoke-${randomBytes(4).toString('hex')}:`;
    const busA = await createRedisEventBus({ url: REDIS_URL, prefix });
    const busB = await createRedisEventBus({ url: REDIS_URL, prefix });
    buses.push(busA, busB);
    a = await start(busA);
    b = await start(busB);
    ({ owner, crewId, tenantId } = await tenantWithCrew(a.url, 'revocation streams, two servers'));
  });

  test('revoking a key on server A closes its WebSocket on server B with 4403 within 1 s', async () => {
    const victim = await newKey(a.url, owner, 'victim on B');
    const bystander = await newKey(a.url, owner, 'bystander on B');
    const { token } = await mint(a.url, victim.secret);
    const runId = await slowRun(a.url, owner, crewId);
    const v = wsClient(b.url, victim.secret);
    const t = wsClient(b.url, token);
    const o = wsClient(b.url, bystander.secret);
    try {
      await t.connected;
      const [, oRun] = await bothStreaming(runId, v.c, o.c);
      const revokedAt = await revoke(a.url, owner, victim.id);
      for (const closed of [await v.closed, await t.closed]) {
        expect(closed.code).toBe(4403);
        expect(closed.reason).toMatch(
          /^Forbidden: the API key (that issued this session token )?was revoked\.$/,
        );
        expect(closed.at - revokedAt).toBeLessThan(1000);
      }
      const seen = oRun.events.length;
      await until('the bystander to receive more events', () => oRun.events.length > seen);
      expect(o.isClosed()).toBe(false);
      await gqlOk(a.url, CANCEL_RUN, { id: runId }, owner);
      await oRun.ended;
    } finally {
      await v.c.dispose();
      await t.c.dispose();
      await o.c.dispose();
    }
    await until('B to watch nothing', () => b.credentialWatch.size() === 0, 2000);
  });
  test("servers that share no bus: a key revoked on A still ends its WebSocket on B, at B's next check", async () => {
    // Each with a bus of its own (as servers sharing a database without Redis, or a publish that
    // failed): B hears nothing of the revocation and finds it in the database.
    const lone = await startInstance(tdb.database, dataDir, {
      bus: createInProcessEventBus(),
      providers: { openai: { baseUrl: llm.url, apiKey: 'test' } },
      revocationRecheckMs: 300,
    });
    servers.push(lone);
    const victim = await newKey(a.url, owner, 'victim on a lone server');
    const v = wsClient(lone.url, victim.secret);
    try {
      await v.connected;
      const revokedAt = await revoke(a.url, owner, victim.id);
      const closed = await v.closed;
      expect(closed.code).toBe(4403);
      expect(closed.at - revokedAt).toBeLessThan(2000);
    } finally {
      await v.c.dispose();
    }
  });

  test('a revocation the bus never delivered (Redis dropped the connection) ends the sockets once the bus is back', async () => {
    const victim = await newKey(a.url, owner, 'victim, missed message');
    const bystander = await newKey(a.url, owner, 'bystander, missed message');
    const runId = await slowRun(a.url, owner, crewId);
    const v = wsClient(b.url, victim.secret);
    const o = wsClient(b.url, bystander.secret);
    const redis = new Redis(REDIS_URL);
    try {
      const [, oRun] = await bothStreaming(runId, v.c, o.c);
      // Revoked in the database without the mutation: no message on the bus, as when Redis was down.
      await tdb.database.withTenant(tenantId, (tx) =>
        tx.apiKey.update({ where: { id: rowId(victim.id) }, data: { revokedAt: new Date() } }),
      );
      await new Promise((r) => setTimeout(r, 300));
      expect(v.isClosed()).toBe(false);
      // The servers' bus subscribers lose their connection and reconnect (ioredis does it by itself).
      const clients = String(await redis.call('CLIENT', 'LIST', 'TYPE', 'pubsub'));
      const ids = [...clients.matchAll(/id=(\d+) .*name=(\S+)/g)]
        .filter((m) => m[2] === `${prefix}bus-sub`)
        .map((m) => m[1]!);
      expect(ids.length).toBe(2);
      for (const id of ids) await redis.call('CLIENT', 'KILL', 'ID', id);
      const closed = await v.closed;
      expect(closed.code).toBe(4403);
      expect(closed.reason).toBe('Forbidden: the API key was revoked.');
      const seen = oRun.events.length;
      await until('the bystander to receive more events', () => oRun.events.length > seen);
      expect(o.isClosed()).toBe(false);
      await gqlOk(a.url, CANCEL_RUN, { id: runId }, owner);
      await oRun.ended;
    } finally {
      redis.disconnect();
      await v.c.dispose();
      await o.c.dispose();
    }
    await until('B to watch nothing', () => b.credentialWatch.size() === 0, 2000);
  });
});

describe('the credential watch', () => {
  const principal = (keyId: string, expiresAt?: Date) =>
    expiresAt
      ? { kind: 'session' as const, tenantId: 't', keyId, subject: 's', scopes: [], expiresAt }
      : { kind: 'apiKey' as const, tenantId: 't', keyId, scopes: [] };

  test('a key revoked while its connection authenticated still ends it', async () => {
    const watch = createCredentialWatch();
    const since = watch.since();
    watch.revoke('t', 'k1');
    const ended: string[] = [];
    watch.watch(principal('k1'), since, { revoked: () => ended.push('revoked'), expired: () => {} });
    // A connection authenticated after the revocation is not affected by it.
    watch.watch(principal('k1'), watch.since(), { revoked: () => ended.push('later'), expired: () => {} });
    await new Promise((r) => setTimeout(r, 0));
    expect(ended).toEqual(['revoked']);
    expect(watch.size()).toBe(1);
  });

  test('an expiry beyond setTimeout’s limit (2^31-1 ms) waits in steps, does not fire early; unwatching clears it', async () => {
    const watch = createCredentialWatch();
    let expired = false;
    const far = new Date(Date.now() + 40 * 24 * 3600_000);
    const timers = vi.spyOn(globalThis, 'setTimeout');
    const unwatch = watch.watch(principal('k2', far), watch.since(), {
      revoked: () => {},
      expired: () => {
        expired = true;
      },
    });
    await new Promise((r) => setTimeout(r, 50));
    // One timer, at the longest delay setTimeout takes (a longer one would fire at once, again and again).
    const armed = timers.mock.calls.map((c) => c[1]).filter((ms) => typeof ms === 'number' && ms > 1000);
    timers.mockRestore();
    expect(armed).toEqual([2 ** 31 - 1]);
    expect(expired).toBe(false);
    expect(watch.size()).toBe(1);
    unwatch();
    expect(watch.size()).toBe(0);
    expect(watch.keys()).toBe(0);
  });

  test('a stream whose source fails (a log read, say) is no longer watched', async () => {
    const watch = createCredentialWatch();
    async function* failing() {
      yield { data: { n: 1 } };
      throw new Error('the log could not be read');
    }
    const stream = untilCredentialsEnd(failing(), watch, principal('k3'), watch.since());
    expect(watch.size()).toBe(1);
    expect(await stream.next()).toEqual({ done: false, value: { data: { n: 1 } } });
    await expect(stream.next()).rejects.toThrow('the log could not be read');
    expect(watch.size()).toBe(0);
  });
});
