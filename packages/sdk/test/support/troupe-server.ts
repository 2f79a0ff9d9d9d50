import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createOpenAICompatibleTestServer, type OpenAICompatibleTestServer } from '@troupe/agents/testing';
import { loadConfig, startTroupeServer, type TroupeServerHandle } from '@troupe/server';

/** Which backend: TROUPE_TEST_BACKEND=pglite (default: embedded, in-process bus) or postgres (+ Redis bus). */
export const BACKEND = (process.env.TROUPE_TEST_BACKEND ?? 'pglite') as 'pglite' | 'postgres';
const PG_URL = process.env.TROUPE_TEST_PG_URL ?? 'postgresql://postgres@127.0.0.1:5432/test';
const REDIS_URL = process.env.TROUPE_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

async function pgAdmin(sql: string): Promise<void> {
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** A real Troupe server on port 0 with a scripted LLM behind it; runs execute in this process. */
export interface TroupeTestServer {
  url: string;
  adminKey: string;
  /** The OpenAI-compatible server the crews' agents talk to. */
  llm: OpenAICompatibleTestServer;
  /** Live event subscriptions the server holds right now. */
  subscriberCount(): number;
  /** Creates a tenant; resolves to its admin API key. */
  createTenant(name: string): Promise<string>;
  /** Waits until the server holds `count` live subscriptions (default: none). */
  waitForSubscribers(count?: number, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export async function startTroupeTestServer(
  options: { corsOrigins?: string[] } = {},
): Promise<TroupeTestServer> {
  const llm = await createOpenAICompatibleTestServer();
  // Agents with provider OPENAI read these at run time.
  process.env.OPENAI_BASE_URL = llm.url;
  process.env.OPENAI_API_KEY = 'test';
  const dataDir = mkdtempSync(path.join(tmpdir(), 'troupe-sdk-'));
  const adminKey = `trpa_${randomBytes(24).toString('hex')}`;
  // Postgres: a database of its own; Redis: a key prefix of its own (live events go through Redis).
  const database = `troupe_sdk_${randomBytes(5).toString('hex')}`;
  const backendEnv: Record<string, string> = {};
  if (BACKEND === 'postgres') {
    await pgAdmin(`CREATE DATABASE "${database}"`);
    const url = new URL(PG_URL);
    url.pathname = `/${database}`;
    Object.assign(backendEnv, {
      DATABASE_URL: url.toString(),
      REDIS_URL,
      TROUPE_QUEUE_PREFIX: database,
    });
  }
  const { config } = loadConfig(
    'embedded',
    { port: 0, host: '127.0.0.1', dataDir },
    {
      TROUPE_ADMIN_KEY: adminKey,
      TROUPE_SECRET: randomBytes(32).toString('hex'),
      TROUPE_CORS_ORIGINS: options.corsOrigins?.join(',') ?? '',
      ...backendEnv,
    },
  );
  let server: TroupeServerHandle;
  try {
    server = await startTroupeServer(config);
  } catch (error) {
    await llm.close();
    if (BACKEND === 'postgres') await pgAdmin(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
    throw error;
  }
  return {
    url: server.url,
    adminKey,
    llm,
    subscriberCount: () => server.subscriberCount(),
    async createTenant(name) {
      const response = await fetch(`${server.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${adminKey}` },
        body: JSON.stringify({
          query: 'mutation($name: String!) { createTenant(input: { name: $name }) { apiKey { secret } } }',
          variables: { name },
        }),
      });
      const body = (await response.json()) as { data: { createTenant: { apiKey: { secret: string } } } };
      return body.data.createTenant.apiKey.secret;
    },
    async waitForSubscribers(count = 0, timeoutMs = 5000) {
      const deadline = Date.now() + timeoutMs;
      while (server.subscriberCount() !== count) {
        if (Date.now() > deadline) {
          throw new Error(
            `expected ${count} live subscriptions, the server holds ${server.subscriberCount()}`,
          );
        }
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    },
    async close() {
      await server.close();
      await llm.close();
      if (BACKEND === 'postgres') await pgAdmin(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** A crew of two sequential tasks whose agents stream from the test LLM. */
export const TWO_TASK_CREW = {
  name: 'Writers',
  agents: [
    { name: 'researcher', role: 'Researcher', model: { provider: 'OPENAI' as const, name: 'm' } },
    { name: 'writer', role: 'Writer', model: { provider: 'OPENAI' as const, name: 'm' } },
  ],
  tasks: [
    { name: 'research', description: 'Research {{topic}}', agent: 'researcher' },
    { name: 'write', description: 'Write about {{topic}}', agent: 'writer', dependsOn: ['research'] },
  ],
};
