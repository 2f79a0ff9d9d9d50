// Redis goes away in the middle of a run and comes back (empty: no persistence) a second later.
// Servers and workers are real processes on a private redis-server that this test kills and restarts.
import { createOpenAICompatibleTestServer, type OpenAICompatibleTestServer } from '@troupe/agents/testing';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { parseGlobalId } from '../../src/graphql/global-id.js';
import { ADMIN_KEY, BACKEND } from '../support/backend.js';
import { CREATE_CREW, createTenant, gqlOk, OPENAI_CREW } from '../support/graphql-client.js';
import {
  type Cluster,
  isGapless,
  type PrivateRedis,
  privateRedis,
  type SeenEvent,
  startCluster,
  tokenText,
  wsSubscribeRun,
} from '../support/process-cluster.js';
import { sseSubscribe } from '../support/sse-client.js';

const CREW = OPENAI_CREW;
const RUN = `query($id: ID!) { run(id: $id) { status output taskRuns { task { name } status output } } }`;
const START = 'mutation($input: StartRunInput!) { startRun(input: $input) { run { id status } } }';
const EVENTS =
  'subscription($runId: ID!, $afterSeq: Int) { runEvents(runId: $runId, afterSeq: $afterSeq) { seq type delta taskRunId } }';
const words = (n: number, tag: string) => Array.from({ length: n }, (_, i) => `${tag}${i} `);

async function waitFor(cond: () => boolean, what: string, ms = 20_000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe.runIf(BACKEND === 'postgres')('Redis restarts during a run', () => {
  let llm: OpenAICompatibleTestServer;
  let redis: PrivateRedis;
  let cluster: Cluster;
  let key: string;
  let crewId: string;

  beforeAll(async () => {
    llm = await createOpenAICompatibleTestServer();
    redis = await privateRedis();
    cluster = await startCluster({
      servers: 2,
      workers: 1,
      redisUrl: redis.url,
      lockMs: 1000,
      workerEnv: () => ({ OPENAI_BASE_URL: llm.url, OPENAI_API_KEY: 'test' }),
    });
    const A = cluster.servers[0]!.url;
    ({ key } = await createTenant(A, ADMIN_KEY, 'redis-restart'));
    crewId = (await gqlOk(A, CREATE_CREW, { input: CREW }, key)).createCrew.crew.id;
  });

  afterAll(async () => {
    await cluster?.close();
    await redis?.kill();
    await llm?.close();
  });

  test('the run finishes and every subscriber ends with every seq exactly once and the full output', async () => {
    const [A, B] = cluster.servers.map((s) => s.url) as [string, string];
    llm.setFallback((req) => {
      if (JSON.stringify(req.body).includes('Research outage')) return { text: words(5, 'n') };
      return { text: words(150, 'o'), chunkDelayMs: 20 }; // about 3 s of streaming
    });
    const run = (await gqlOk(B, START, { input: { crewId, inputs: { topic: 'outage' } } }, key)).startRun
      .run as { id: string };
    const ws = wsSubscribeRun(A, key, run.id);
    const sse: SeenEvent[] = [];
    const sseDone = (async () => {
      for await (const r of sseSubscribe(B, EVENTS, { runId: run.id, afterSeq: 0 }, key))
        sse.push(r.data.runEvents);
    })();
    try {
      await waitFor(
        () =>
          ws.events.filter((e) => e.type === 'TASK_STARTED').length === 2 &&
          ws.events.at(-1)?.type === 'TOKEN',
        'the second task to stream',
      );
      await redis.kill();
      const downAt = Date.now();
      await new Promise((r) => setTimeout(r, 1000));
      await redis.start();
      const upAt = Date.now();
      const outcome = await Promise.race([
        ws.done,
        new Promise((r) => setTimeout(() => r('timeout'), 30_000)),
      ]);
      // On failure, the processes' output says why (a worker that died, a run left RUNNING).
      if (outcome !== 'complete')
        for (const p of [...cluster.servers, ...cluster.workers])
          console.log(p.name, p.output().slice(-3000));
      expect(outcome).toBe('complete');
      await sseDone;
      const finishedIn = Date.now() - upAt;
      const stored = (await gqlOk(A, RUN, { id: run.id }, key)).run;
      expect(stored.status).toBe('SUCCEEDED');
      for (const events of [ws.events, sse]) {
        expect(isGapless(events)).toBe(true);
        expect(events.at(-1)!.type).toBe('RUN_SUCCEEDED');
        expect(tokenText(events)).toBe(stored.taskRuns.map((t: { output: string }) => t.output).join(''));
      }
      console.log(
        `redis restart proof: down ${upAt - downAt} ms; run finished ${finishedIn} ms after Redis came back; ` +
          `${ws.events.length} events, RUN_STARTED x${ws.events.filter((e) => e.type === 'RUN_STARTED').length}`,
      );
    } finally {
      await ws.dispose();
    }
  });
  test('a run still queued when Redis comes back empty is queued again from the database and finishes', async () => {
    const [A] = cluster.servers.map((s) => s.url) as [string];
    llm.setFallback(() => ({ text: words(5, 'q') }));
    // No worker: the run waits in the queue.
    await cluster.workers[0]!.kill('SIGTERM');
    const run = (await gqlOk(A, START, { input: { crewId, inputs: { topic: 'queued' } } }, key)).startRun
      .run as {
      id: string;
      status: string;
    };
    expect(run.status).toBe('QUEUED');
    // Its job is in Redis before Redis goes.
    const probe = new Redis(redis.url);
    const jobKey = `${cluster.prefix}:runs:${parseGlobalId('id', run.id, 'Run')}`;
    try {
      const t = Date.now();
      while ((await probe.exists(jobKey)) === 0 && Date.now() - t < 5000)
        await new Promise((r) => setTimeout(r, 20));
      expect(await probe.exists(jobKey)).toBe(1);
    } finally {
      probe.disconnect();
    }
    await redis.kill();
    await new Promise((r) => setTimeout(r, 500));
    await redis.start(); // empty: the run's job is gone
    await cluster.startWorker(0);
    let stored: { status: string } = { status: 'QUEUED' };
    const t0 = Date.now();
    while (stored.status !== 'SUCCEEDED' && Date.now() - t0 < 30_000) {
      await new Promise((r) => setTimeout(r, 100));
      stored = (await gqlOk(A, RUN, { id: run.id }, key)).run;
    }
    if (stored.status !== 'SUCCEEDED')
      for (const p of [...cluster.servers, ...cluster.workers]) console.log(p.name, p.output().slice(-3000));
    expect(stored.status).toBe('SUCCEEDED');
    const servers = cluster.servers.map((p) => p.output()).join('\n');
    expect(servers).toMatch(/queued 1 run again that the Redis queue did not hold/);
  });
});
