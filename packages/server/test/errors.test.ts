import { createClient } from 'graphql-ws';
import { afterAll, beforeAll, expect, test } from 'vitest';
import WebSocket from 'ws';
import { pgAdmin, startTestServer, type TestServer } from './support/backend.js';
import { createTenant, gql } from './support/graphql-client.js';

let prod: TestServer;
let dev: TestServer;
let subscriberKey: string;
beforeAll(async () => {
  prod = await startTestServer({ production: true });
  dev = await startTestServer();
  ({ key: subscriberKey } = await createTenant(prod.url, prod.admin, 'subscriber'));
});
afterAll(async () => {
  await prod?.closeAll();
  await dev?.closeAll();
});

/** Makes createTenant fail inside the server: the app role loses INSERT on "Tenant". */
async function breakDatabase(server: TestServer): Promise<void> {
  const revoke = 'REVOKE INSERT ON "Tenant" FROM troupe_app';
  if (server.database.pglite)
    await server.database.pglite.exec(`RESET ROLE; ${revoke}; SET ROLE troupe_app;`);
  else await pgAdmin((c) => c.query(revoke), server.databaseUrl!);
}

test('expected errors keep their message and code in production', async () => {
  const { key } = await createTenant(prod.url, prod.admin, 'p');
  const r = await gql(prod.url, '{ crew(id: "nope") { id } }', {}, key);
  expect(r.errors?.[0]?.extensions?.code).toBe('BAD_INPUT');
  expect(r.errors?.[0]?.message).toMatch(/^id: /);
});

test('unexpected errors are masked in production and detailed in development', async () => {
  const { key: prodKey } = await createTenant(prod.url, prod.admin, 'p2');
  const { key: devKey } = await createTenant(dev.url, dev.admin, 'd2');
  const query = 'mutation($i: CreateTenantInput!) { createTenant(input: $i) { tenant { id } } }';
  await breakDatabase(prod);
  await breakDatabase(dev);
  const masked = await gql(prod.url, query, { i: { name: 'x' } }, prod.admin);
  expect(masked.errors?.[0]?.message).toBe('Unexpected error.');
  expect(JSON.stringify(masked)).not.toMatch(/prisma|pglite|stack|ECONN|closed/i);
  const detailed = await gql(dev.url, query, { i: { name: 'x' } }, dev.admin);
  expect(detailed.errors?.[0]?.message).toBe('Unexpected error.');
  expect(JSON.stringify(detailed.errors?.[0]?.extensions)).toMatch(/originalError/);
  expect(prodKey && devKey).toBeTruthy();
});

test('subscriptions mask unexpected errors too, over WebSocket and SSE, and keep expected ones', async () => {
  const key = subscriberKey;
  const query = 'subscription($id: ID!) { runEvents(runId: $id) { seq } }';
  const ws = createClient({
    url: `${prod.url.replace('http', 'ws')}/graphql`,
    webSocketImpl: WebSocket,
    connectionParams: { authorization: `Bearer ${key}` },
    retryAttempts: 0,
  });
  const overWebSocket = (id: string) =>
    new Promise<unknown>((resolve) => {
      ws.subscribe({ query, variables: { id } }, { next: resolve, error: resolve, complete: () => {} });
    });
  const overSse = async (id: string) => {
    const res = await fetch(`${prod.url}/graphql`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'text/event-stream',
        authorization: `Bearer ${key}`,
      },
      body: JSON.stringify({ query, variables: { id } }),
    });
    const data = /^event: next\ndata: (.*)$/m.exec(await res.text())?.[1];
    return { status: res.status, ...(data ? JSON.parse(data) : {}) };
  };
  const unseen = Buffer.from('Run:cmissing000000000000000').toString('base64');
  try {
    // Expected: a malformed id is BAD_INPUT naming the argument; an unknown run is NOT_FOUND.
    for (const subscribe of [overWebSocket, overSse]) {
      expect(JSON.stringify(await subscribe('garbage'))).toMatch(
        /"message":"runId: [^"]*".*"code":"BAD_INPUT"/,
      );
      expect(JSON.stringify(await subscribe(unseen))).toMatch(/"code":"NOT_FOUND"/);
    }
    // Unexpected: the run's log cannot be read (the app role loses SELECT on "RunEvent").
    const revoke = 'REVOKE SELECT ON "RunEvent" FROM troupe_app';
    if (prod.database.pglite) await prod.database.pglite.exec(`RESET ROLE; ${revoke}; SET ROLE troupe_app;`);
    else await pgAdmin((c) => c.query(revoke), prod.databaseUrl!);
    for (const subscribe of [overWebSocket, overSse]) {
      const answer = JSON.stringify(await subscribe(unseen));
      expect(answer).toMatch(/"message":"Unexpected error\.".*"code":"INTERNAL_SERVER_ERROR"/);
      expect(answer).not.toMatch(/permission|denied|table|stack/i);
    }
  } finally {
    await ws.dispose();
  }
});
