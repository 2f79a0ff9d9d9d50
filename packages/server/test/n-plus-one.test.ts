import { afterAll, beforeAll, expect, test } from 'vitest';
import { startTestServer, type TestServer } from './support/backend.js';
import { CREATE_CREW, createTenant, gqlOk, SAMPLE_CREW } from './support/graphql-client.js';

const QUERY = '{ crews(first: 20) { edges { node { agents { name } tasks { name dependsOn { name } } } } } }';

let server: TestServer;
let counting = false;
let statements = 0;
beforeAll(async () => {
  server = await startTestServer({
    quiet: true,
    // Keys stay cached: authentication costs the same (nothing) in both counts, however long it took.
    authCache: { ttlMs: 10 * 60_000 },
    onQuery: () => {
      if (counting) statements++;
    },
  });
});
afterAll(() => server?.closeAll());

async function countFor(key: string): Promise<{ statements: number; crews: number }> {
  statements = 0;
  counting = true;
  const d = await gqlOk(server.url, QUERY, {}, key);
  counting = false;
  return { statements, crews: d.crews.edges.length };
}

async function tenantWithCrews(n: number): Promise<string> {
  const { key } = await createTenant(server.url, server.admin, `t${n}`);
  for (let i = 0; i < n; i++) {
    await gqlOk(server.url, CREATE_CREW, { input: { ...SAMPLE_CREW, name: `crew ${i}` } }, key);
  }
  return key;
}

test('listing crews with agents, tasks and dependencies costs the same SQL for 2 and for 20 crews', async () => {
  const small = await countFor(await tenantWithCrews(2));
  const large = await countFor(await tenantWithCrews(20));
  expect(small.crews).toBe(2);
  expect(large.crews).toBe(20);
  expect(small.statements).toBeGreaterThan(0);
  expect(large.statements).toBe(small.statements);
  // Authentication, the tenant transaction and a handful of batched loads: no per-crew queries.
  expect(large.statements).toBeLessThan(15);
});
