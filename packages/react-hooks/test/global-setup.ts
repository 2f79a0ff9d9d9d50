// Once per test run: a real Troupe server (in this Node process, outside happy-dom) and a small
// control endpoint the tests read the server's live subscription count from.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TestProject } from 'vitest/node';
import { startTroupeTestServer } from '../../sdk/test/support/troupe-server';
import { testModel } from './test-model';

declare module 'vitest' {
  export interface ProvidedContext {
    troupe: { url: string; adminKey: string; controlUrl: string };
  }
}

/** happy-dom's page origin in vitest: the server must allow it (CORS), like a real browser app. */
export const TEST_ORIGIN = 'http://localhost:3000';

export default async function setup(project: TestProject) {
  const server = await startTroupeTestServer({ corsOrigins: [TEST_ORIGIN] });
  server.llm.setFallback(testModel);
  const control = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'access-control-allow-origin': '*' });
    res.end(JSON.stringify({ subscribers: server.subscriberCount() }));
  });
  await new Promise<void>((resolve) => control.listen(0, '127.0.0.1', resolve));
  const { port } = control.address() as AddressInfo;
  project.provide('troupe', {
    url: server.url,
    adminKey: server.adminKey,
    controlUrl: `http://127.0.0.1:${port}`,
  });
  return async () => {
    await new Promise<void>((resolve) => control.close(() => resolve()));
    await server.close();
  };
}
