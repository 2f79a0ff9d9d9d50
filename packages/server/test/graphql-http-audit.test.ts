import { serverAudits } from 'graphql-http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from './support/backend.js';
import { createTenant } from './support/graphql-client.js';

let server: TestServer;
let key: string;
beforeAll(async () => {
  server = await startTestServer();
  ({ key } = await createTenant(server.url, server.admin, 'audit'));
});
afterAll(() => server?.closeAll());

describe('graphql-http server audits (GraphQL over HTTP spec)', () => {
  // Built lazily: the URL is only known once the server listens.
  const audits = serverAudits({
    url: () => `${server.url}/graphql`,
    fetchFn: (input: RequestInfo | URL, init?: RequestInit) => {
      const headers = new Headers(init?.headers);
      headers.set('authorization', `Bearer ${key}`);
      return fetch(input, { ...init, headers });
    },
  });

  it('has audits to run', () => {
    expect(audits.filter((a) => /^(MUST|SHOULD)/.test(a.name)).length).toBeGreaterThan(20);
  });

  for (const audit of audits.filter((a) => /^(MUST|SHOULD)/.test(a.name))) {
    it(audit.name, async () => {
      const result = await audit.fn();
      if (result.status !== 'ok') throw new Error(`${result.reason}`);
    });
  }
});
