import { afterAll, beforeAll, expect, test } from 'vitest';
import { pgAdmin, startTestServer, type TestServer } from './support/backend.js';
import { createTenant, gql } from './support/graphql-client.js';

let prod: TestServer;
let dev: TestServer;
beforeAll(async () => {
  prod = await startTestServer({ production: true });
  dev = await startTestServer();
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
