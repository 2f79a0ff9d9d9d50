import pg from 'pg';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { BACKEND, startTestServer, type TestServer } from './support/backend.js';
import { CREATE_CREW, createTenant, gqlOk, OPENAI_CREW } from './support/graphql-client.js';

// Messages sent to Postgres per operation (each one a round trip), counted at pg's Client. PGlite
// in process has no wire: there the test only checks the answers.
let server: TestServer;
let key: string;
let crewId: string;
let counting = false;
let sent: string[] = [];
const query = pg.Client.prototype.query;

beforeAll(async () => {
  pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
    if (counting) {
      const q = args[0];
      sent.push(typeof q === 'string' ? q : String((q as { text?: unknown })?.text));
    }
    return (query as (...a: unknown[]) => unknown).apply(this, args);
  } as typeof query;
  // Keys stay cached for the whole file: what is counted does not depend on how long a test took.
  server = await startTestServer({ quiet: true, authCache: { ttlMs: 10 * 60_000 } });
  ({ key } = await createTenant(server.url, server.admin, 'round-trips'));
  crewId = (await gqlOk(server.url, CREATE_CREW, { input: OPENAI_CREW }, key)).createCrew.crew.id;
});
afterAll(async () => {
  pg.Client.prototype.query = query;
  await server?.closeAll();
});

async function counted<T>(fn: () => Promise<T>): Promise<{ result: T; messages: string[] }> {
  sent = [];
  counting = true;
  try {
    return { result: await fn(), messages: sent };
  } finally {
    counting = false;
  }
}

const START =
  'mutation($input: StartRunInput!) { startRun(input: $input) { run { id status inputs idempotencyKey } } }';

test('startRun (key cached): one message that opens the transaction and inserts the run, COMMIT', async () => {
  // The first run of the crew reads its version; later ones are one insert. (It fails at once for
  // want of an LLM key: wait for that, so that its writes are not counted.)
  const warm = await gqlOk(server.url, START, { input: { crewId, inputs: { topic: 'warm' } } }, key);
  const status = async () =>
    (
      await gqlOk(
        server.url,
        'query($id: ID!) { run(id: $id) { status } }',
        { id: warm.startRun.run.id },
        key,
      )
    ).run.status;
  while ((await status()) !== 'FAILED') await new Promise((r) => setTimeout(r, 20));
  const { result, messages } = await counted(() =>
    gqlOk(server.url, START, { input: { crewId, inputs: { topic: 'otters' }, idempotencyKey: 'k1' } }, key),
  );
  expect(result.startRun.run).toMatchObject({
    status: 'QUEUED',
    inputs: { topic: 'otters' },
    idempotencyKey: 'k1',
  });
  const again = await gqlOk(
    server.url,
    START,
    { input: { crewId, inputs: { topic: 'otters' }, idempotencyKey: 'k1' } },
    key,
  );
  expect(again.startRun.run.id).toBe(result.startRun.run.id);
  if (BACKEND === 'postgres') {
    // The run starts executing in this process once committed: its claim is not startRun's.
    const own = messages.slice(0, messages.indexOf('COMMIT') + 1);
    expect(own, messages.join('\n---\n')).toHaveLength(2);
    expect(own[0]).toMatch(/^BEGIN;[\s\S]*set_config[\s\S]*INSERT INTO "Run"/);
  }
});

test('a key is looked up in one message on its first request, then not at all while cached', async () => {
  // `key` has been used before (and its lastUsedAt written): a query that reads nothing sends nothing.
  const cached = await counted(() => gqlOk(server.url, '{ __typename }', {}, key));
  const { key: fresh } = await createTenant(server.url, server.admin, 'round-trips fresh');
  const first = await counted(() => gqlOk(server.url, '{ __typename }', {}, fresh));
  if (BACKEND === 'postgres') {
    // The first use also starts writing lastUsedAt, off the request path.
    expect(first.messages[0]).toMatch(/FROM "ApiKey"/);
    expect(first.messages.filter((m) => /FROM "ApiKey"/.test(m))).toHaveLength(1);
    expect(cached.messages).toEqual([]);
  }
});
