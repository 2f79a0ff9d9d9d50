import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createOpenAICompatibleTestServer, type OpenAICompatibleTestServer } from '@troupe/agents/testing';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { loadConfig } from '../src/config.js';
import { systemTransaction } from '../src/db/database.js';
import { startServer, type TroupeServer } from '../src/server.js';
import { ADMIN_KEY, createTestDatabase, SECRET, type TestDatabase } from './support/backend.js';
import { CREATE_CREW, createTenant, gqlOk, OPENAI_CREW } from './support/graphql-client.js';
import { sseSubscribe } from './support/sse-client.js';

// A process that executes runs itself (troupe dev) and stops, or crashes, mid-run: the next
// process on the same database resumes the run after its last finished task.
let llm: OpenAICompatibleTestServer;
let tdb: TestDatabase;
let dataDir: string;
const servers: TroupeServer[] = [];

const EVENTS = `subscription($runId: ID!, $afterSeq: Int) { runEvents(runId: $runId, afterSeq: $afterSeq) { seq type data } }`;

async function start(): Promise<TroupeServer> {
  const { config } = loadConfig(
    'embedded',
    { port: 0, host: '127.0.0.1', dataDir },
    { TROUPE_ADMIN_KEY: ADMIN_KEY, TROUPE_SECRET: SECRET },
  );
  const s = await startServer(config, {
    database: tdb.database,
    providers: { openai: { baseUrl: llm.url, apiKey: 'test' } },
  });
  servers.push(s);
  return s;
}

beforeAll(async () => {
  llm = await createOpenAICompatibleTestServer();
  tdb = await createTestDatabase();
  dataDir = mkdtempSync(path.join(tmpdir(), 'troupe-rec-'));
});
afterAll(async () => {
  for (const s of servers) await s.close().catch(() => {});
  await tdb?.close();
  await llm?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

test('a run left unfinished by a stopped server resumes on the next start; its finished task is not paid twice', async () => {
  const first = await start();
  const { key } = await createTenant(first.url, ADMIN_KEY, 'recovery');
  const crew = OPENAI_CREW;
  const crewId = (await gqlOk(first.url, CREATE_CREW, { input: crew }, key)).createCrew.crew.id;
  llm.enqueue(
    { text: 'Research notes.' },
    { text: ['never ', 'finished ', 'in ', 'time'], chunkDelayMs: 2000 },
    { text: 'The article.' },
  );
  const run = (
    await gqlOk(
      first.url,
      'mutation($id: ID!) { startRun(input: { crewId: $id, inputs: { topic: "otters" } }) { run { id } } }',
      { id: crewId },
      key,
    )
  ).startRun.run;
  // Watch until the second task has started, then stop the server.
  const seen: { seq: number; type: string }[] = [];
  let tasksStarted = 0;
  for await (const r of sseSubscribe(first.url, EVENTS, { runId: run.id, afterSeq: 0 }, key)) {
    seen.push(r.data.runEvents);
    if (r.data.runEvents.type === 'TASK_STARTED' && ++tasksStarted === 2) break;
  }
  // …and its LLM call is under way.
  while (!llm.chatRequests.some((r) => JSON.stringify(r.body).includes('Write about otters')))
    await new Promise((r) => setTimeout(r, 20));
  await first.close();
  const mid = await tdb.database.prisma.$transaction(async (tx) => {
    await tx.$executeRawUnsafe(systemTransaction('app.run_recovery'));
    return tx.run.findMany({ select: { status: true } });
  });
  expect(mid.map((r) => r.status)).toEqual(['RUNNING']);

  const second = await start();
  for await (const r of sseSubscribe(
    second.url,
    EVENTS,
    { runId: run.id, afterSeq: seen.at(-1)!.seq },
    key,
  )) {
    seen.push(r.data.runEvents);
  }
  expect(seen.map((e) => e.seq)).toEqual(seen.map((_e, i) => i + 1));
  expect(seen.at(-1)!.type).toBe('RUN_SUCCEEDED');
  expect(seen.filter((e) => e.type === 'RUN_CANCELLED')).toEqual([]);
  const d = await gqlOk(
    second.url,
    'query($id: ID!) { run(id: $id) { status output taskRuns { task { name } status } } }',
    { id: run.id },
    key,
  );
  expect(d.run).toMatchObject({ status: 'SUCCEEDED', output: 'The article.' });
  const research = llm.chatRequests.filter((r) => JSON.stringify(r.body).includes('Research otters'));
  expect(research).toHaveLength(1);
  expect(llm.chatRequests.filter((r) => JSON.stringify(r.body).includes('Write about otters'))).toHaveLength(
    2,
  );
});
