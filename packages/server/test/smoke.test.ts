import { afterAll, beforeAll, expect, test } from 'vitest';
import { BACKEND, startTestServer, type TestServer } from './support/backend.js';
import { CREATE_CREW, createTenant, gqlOk, SAMPLE_CREW } from './support/graphql-client.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server?.closeAll());

test(`creates a tenant and a crew, and reads it back (${BACKEND})`, async () => {
  const { key, tenant } = await createTenant(server.url, server.admin, 'Acme');
  const viewer = await gqlOk(server.url, '{ viewer { tenant { id name } scopes } }', {}, key);
  expect(viewer.viewer.tenant).toEqual(tenant);
  expect(viewer.viewer.scopes).toEqual(['READ', 'WRITE', 'ADMIN']);
  const created = await gqlOk(server.url, CREATE_CREW, { input: SAMPLE_CREW }, key);
  expect(created.createCrew.crew.tasks[1].dependsOn).toEqual([{ name: 'research' }]);
  const list = await gqlOk(
    server.url,
    '{ crews(first: 5) { edges { node { id name agents { name } } } } }',
    {},
    key,
  );
  expect(list.crews.edges.map((e: any) => e.node.name)).toEqual(['Research crew']);
});
