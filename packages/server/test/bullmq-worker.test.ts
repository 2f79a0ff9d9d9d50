import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createOpenAICompatibleTestServer, type OpenAICompatibleTestServer } from '@troupe/agents/testing';
import { Queue, UnrecoverableError, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { loadConfig } from '../src/config.js';
import { openDatabase } from '../src/db/database.js';
import type { EventBus } from '../src/events/event-bus.js';
import { createRedisEventBus } from '../src/events/redis-event-bus.js';
import { parseGlobalId } from '../src/graphql/global-id.js';
import { createBullMqExecutor } from '../src/runs/bullmq-executor.js';
import type { RunJob } from '../src/runs/execute-run.js';
import { createRunRanker } from '../src/runs/run-fairness.js';
import { freshRunJobs, RUN_JOB_OPTIONS } from '../src/runs/run-queue.js';
import { type RunWorker, startRunWorker } from '../src/runs/run-worker.js';
import { startServer, type TroupeServer } from '../src/server.js';
import {
  ADMIN_KEY,
  BACKEND,
  createTestDatabase,
  dropRunQueue,
  pgAdmin,
  SECRET,
  type TestDatabase,
} from './support/backend.js';
import { BIN, runCli } from './support/cli-process.js';
import { CREATE_CREW, createTenant, gqlOk, OPENAI_CREW } from './support/graphql-client.js';
import { sseSubscribe } from './support/sse-client.js';

// Servers queue runs in Redis, workers execute them: Postgres only (a worker is its own process,
// and PGlite is one process's database).
const REDIS_URL = process.env.TROUPE_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const PREFIX = `troupe-test-${randomBytes(5).toString('hex')}`;

const CREW = OPENAI_CREW;
const EVENTS = `subscription($runId: ID!, $afterSeq: Int) { runEvents(runId: $runId, afterSeq: $afterSeq) { seq type taskRunId } }`;
const RUN = `query($id: ID!) { run(id: $id) { status output taskRuns { task { name } status attempts } } }`;
const CANCEL = 'mutation($id: ID!) { cancelRun(id: $id) { run { id } } }';

describe.runIf(BACKEND === 'postgres')('runs on BullMQ workers', () => {
  let llm: OpenAICompatibleTestServer;
  let tdb: TestDatabase;
  let server: TroupeServer;
  let workerBus: EventBus;
  let dataDir: string;
  let key: string;
  let crewId: string;
  const workers: RunWorker[] = [];
  const children: ChildProcess[] = [];

  const startWorker = async (graceMs = 1000, database = tdb.database) => {
    const w = await startRunWorker({
      database,
      bus: workerBus,
      redisUrl: REDIS_URL,
      prefix: PREFIX,
      concurrency: 2,
      providers: { openai: { baseUrl: llm.url, apiKey: 'test' } },
      graceMs,
    });
    workers.push(w);
    return w;
  };

  beforeAll(async () => {
    llm = await createOpenAICompatibleTestServer();
    tdb = await createTestDatabase();
    dataDir = mkdtempSync(path.join(tmpdir(), 'troupe-wrk-'));
    const { config } = loadConfig(
      'serve',
      { port: 0, host: '127.0.0.1', dataDir, migrate: false },
      {
        DATABASE_URL: tdb.url,
        REDIS_URL,
        TROUPE_QUEUE_PREFIX: PREFIX,
        TROUPE_ADMIN_KEY: ADMIN_KEY,
        TROUPE_SECRET: SECRET,
      },
    );
    // `troupe serve` with REDIS_URL: this server only queues; it has no LLM providers at all.
    server = await startServer(config, { database: tdb.database });
    workerBus = await createRedisEventBus({ url: REDIS_URL, prefix: `${PREFIX}:` });
    ({ key } = await createTenant(server.url, ADMIN_KEY, 'workers'));
    crewId = (await gqlOk(server.url, CREATE_CREW, { input: CREW }, key)).createCrew.crew.id;
  });

  afterAll(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    for (const w of workers) await w.close();
    await server?.close();
    await workerBus?.close();
    await dropRunQueue(PREFIX);
    await tdb?.close();
    await llm?.close();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  async function startRun(topic: string) {
    const d = await gqlOk(
      server.url,
      'mutation($input: StartRunInput!) { startRun(input: $input) { run { id status } } }',
      { input: { crewId, inputs: { topic } } },
      key,
    );
    return d.startRun.run as { id: string; status: string };
  }

  test('a run started on the server executes on a worker; the server streams every event once', async () => {
    const t0 = Date.now();
    await startWorker();
    llm.enqueue(
      { text: 'Otters hold hands.', usage: { promptTokens: 30, completionTokens: 4 } },
      { text: 'Otters sleep holding hands.', usage: { promptTokens: 50, completionTokens: 5 } },
    );
    const run = await startRun('otters');
    expect(run.status).toBe('QUEUED');
    const seqs: number[] = [];
    const types: string[] = [];
    for await (const r of sseSubscribe(server.url, EVENTS, { runId: run.id, afterSeq: 0 }, key)) {
      if (r.errors) throw new Error(JSON.stringify(r.errors));
      seqs.push(r.data.runEvents.seq);
      types.push(r.data.runEvents.type);
    }
    expect(seqs).toEqual(seqs.map((_s, i) => i + 1));
    expect(types[0]).toBe('RUN_STARTED');
    expect(types.at(-1)).toBe('RUN_SUCCEEDED');
    const d = await gqlOk(server.url, RUN, { id: run.id }, key);
    expect(d.run.status).toBe('SUCCEEDED');
    expect(d.run.output).toBe('Otters sleep holding hands.');
    expect(Date.now() - t0).toBeLessThan(10_000);
  });

  test('chat: queued messages of a thread are handed to the queue by the worker that ends the run before', async () => {
    if (workers.length === 0) await startWorker();
    const crew = await gqlOk(
      server.url,
      `query($id: ID!) { crew(id: $id) { agents { id name } } }`,
      { id: crewId },
      key,
    );
    const agentId = crew.crew.agents[0].id;
    const thread = await gqlOk(
      server.url,
      'mutation($id: ID!) { createThread(input: { agentId: $id, concurrency: ENQUEUE }) { thread { id } } }',
      { id: agentId },
      key,
    );
    const threadId = thread.createThread.thread.id;
    llm.enqueue({ text: ['one ', 'two'], chunkDelayMs: 150 }, { text: 'three' });
    const send = (content: string) =>
      gqlOk(
        server.url,
        'mutation($input: SendMessageInput!) { sendMessage(input: $input) { run { id } } }',
        { input: { threadId, content } },
        key,
      );
    const a = (await send('first')).sendMessage.run.id;
    const b = (await send('second')).sendMessage.run.id;
    const seen: { seq: number; type: string; runId: string }[] = [];
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(), 20_000);
    try {
      for await (const r of sseSubscribe(
        server.url,
        'subscription($id: ID!) { threadEvents(threadId: $id) { seq type runId } }',
        { id: threadId },
        key,
        ac.signal,
      )) {
        if (r.errors) throw new Error(JSON.stringify(r.errors));
        seen.push(r.data.threadEvents);
        if (seen.filter((e) => e.type === 'RUN_SUCCEEDED').length === 2) break;
      }
    } finally {
      clearTimeout(timer);
      ac.abort();
    }
    expect(seen.map((e) => e.seq)).toEqual(seen.map((_e, i) => i + 1));
    expect(seen.filter((e) => e.type === 'RUN_SUCCEEDED').map((e) => e.runId)).toEqual([a, b]);
    const msgs = (llm.chatRequests.at(-1)!.body as { messages: { content: string }[] }).messages;
    expect(msgs.map((m) => m.content)).toContain('one two');
  });

  test('cancelRun on the server reaches the worker: the run is CANCELLED within a second', async () => {
    llm.setFallback(() => ({ text: Array.from({ length: 400 }, (_, i) => `w${i} `), chunkDelayMs: 20 }));
    const run = await startRun('slow');
    const seen: string[] = [];
    let cancelledAt = 0;
    for await (const r of sseSubscribe(server.url, EVENTS, { runId: run.id, afterSeq: 0 }, key)) {
      const e = r.data.runEvents;
      seen.push(e.type);
      if (e.type === 'TOKEN' && cancelledAt === 0) {
        cancelledAt = Date.now();
        await gqlOk(server.url, CANCEL, { id: run.id }, key);
      }
    }
    const took = Date.now() - cancelledAt;
    expect(seen.at(-1)).toBe('RUN_CANCELLED');
    expect(took).toBeLessThan(1000);
    const d = await gqlOk(server.url, RUN, { id: run.id }, key);
    expect(d.run.status).toBe('CANCELLED');
  });

  test('cancelRun ends a run that no worker holds any more (left RUNNING, its job gone)', async () => {
    for (const w of workers.splice(0)) await w.close();
    const run = await startRun('orphan');
    // What a worker that died past its job's last attempt leaves behind: RUNNING, and no job.
    const rawId = parseGlobalId('id', run.id, 'Run');
    await pgAdmin((c) => c.query(`UPDATE "Run" SET "status" = 'RUNNING' WHERE "id" = $1`, [rawId]), tdb.url);
    const queue = new Queue('runs', { connection: { url: REDIS_URL }, prefix: PREFIX });
    expect(await queue.remove(rawId)).toBe(1);
    await queue.close();
    const t0 = Date.now();
    await gqlOk(server.url, CANCEL, { id: run.id }, key);
    // (It asks whether a worker still executes it without a job first: a second at most.)
    expect(Date.now() - t0).toBeLessThan(5000);
    expect((await gqlOk(server.url, RUN, { id: run.id }, key)).run.status).toBe('CANCELLED');
    const types: string[] = [];
    for await (const r of sseSubscribe(server.url, EVENTS, { runId: run.id, afterSeq: 0 }, key))
      types.push(r.data.runEvents.type);
    expect(types).toEqual(['RUN_CANCELLED']);
  });

  test('a run left RUNNING with a failed job (its failure not recorded) is queued again and finishes', async () => {
    for (const w of workers.splice(0)) await w.close();
    const run = await startRun('left behind');
    const rawId = parseGlobalId('id', run.id, 'Run');
    // RUNNING, its job failed for good: what a worker leaves when BullMQ gives up on the job (its
    // stall limit, or its last attempt) and the failure cannot be recorded (the database down too).
    await pgAdmin((c) => c.query(`UPDATE "Run" SET "status" = 'RUNNING' WHERE "id" = $1`, [rawId]), tdb.url);
    const failer = new Worker(
      'runs',
      async () => {
        throw new UnrecoverableError('the database is down too');
      },
      // No stalled-job check: its default 30 s interval would hold back the next tests' workers'
      // checks (BullMQ runs one check per queue per interval), and their stalled runs with them.
      { connection: { url: REDIS_URL }, prefix: PREFIX, skipStalledCheck: true },
    );
    const queue = new Queue('runs', { connection: { url: REDIS_URL }, prefix: PREFIX });
    try {
      for (let i = 0; i < 200 && (await (await queue.getJob(rawId))?.getState()) !== 'failed'; i++)
        await new Promise((r) => setTimeout(r, 20));
      expect(await (await queue.getJob(rawId))?.getState()).toBe('failed');
    } finally {
      await failer.close();
      await queue.close();
    }
    expect((await gqlOk(server.url, RUN, { id: run.id }, key)).run.status).toBe('RUNNING');
    llm.setFallback(() => ({ text: 'Found again.' }));
    await startWorker();
    // A server's reconciler (every 30 s by default; here 100 ms) finds it and queues it again.
    const reconciler = createBullMqExecutor({
      database: tdb.database,
      bus: workerBus,
      redisUrl: REDIS_URL,
      prefix: PREFIX,
      reconcileMs: 100,
    });
    try {
      const types: string[] = [];
      for await (const r of sseSubscribe(server.url, EVENTS, { runId: run.id, afterSeq: 0 }, key))
        types.push(r.data.runEvents.type);
      expect(types.at(-1)).toBe('RUN_SUCCEEDED');
      const d = await gqlOk(server.url, RUN, { id: run.id }, key);
      expect(d.run).toMatchObject({ status: 'SUCCEEDED', output: 'Found again.' });
    } finally {
      await reconciler.close();
    }
  });

  test('a worker that loses its lock on a run stops; the run resumes once, after its finished task', async () => {
    for (const w of workers.splice(0)) await w.close();
    const w = await startRunWorker({
      database: tdb.database,
      bus: workerBus,
      redisUrl: REDIS_URL,
      prefix: PREFIX,
      concurrency: 2,
      providers: { openai: { baseUrl: llm.url, apiKey: 'test' } },
      lockMs: 1000,
    });
    workers.push(w);
    let writes = 0;
    llm.setFallback((req) => {
      if (!JSON.stringify(req.body).includes('Write about stolen')) return { text: 'Research notes.' };
      writes++;
      return writes === 1
        ? { text: Array.from({ length: 80 }, (_, i) => `slow${i} `), chunkDelayMs: 50 }
        : { text: 'Written after all.' };
    });
    const researchCalls = () =>
      llm.chatRequests.filter((r) => JSON.stringify(r.body).includes('Research stolen')).length;
    const run = await startRun('stolen');
    const rawId = parseGlobalId('id', run.id, 'Run');
    const redis = new Redis(REDIS_URL);
    const seen: { seq: number; type: string }[] = [];
    try {
      let stolen = false;
      for await (const r of sseSubscribe(server.url, EVENTS, { runId: run.id, afterSeq: 0 }, key)) {
        seen.push(r.data.runEvents);
        if (!stolen && r.data.runEvents.type === 'TOKEN' && seen.some((e) => e.type === 'TASK_COMPLETED')) {
          // Another holder's token on the job's lock (as when this worker's event loop stalled past
          // the lock's lifetime): the worker's next renewal fails.
          stolen = true;
          await redis.set(`${PREFIX}:runs:${rawId}:lock`, 'someone-else', 'PX', 1500);
        }
      }
    } finally {
      redis.disconnect();
    }
    expect(seen.at(-1)!.type).toBe('RUN_SUCCEEDED');
    // The slow answer would have taken 4 s: by now, whatever the first execution still wrote
    // would be in the log.
    await new Promise((r) => setTimeout(r, 3000));
    const log: { seq: number; type: string }[] = [];
    for await (const r of sseSubscribe(server.url, EVENTS, { runId: run.id, afterSeq: 0 }, key))
      log.push(r.data.runEvents);
    expect(log.map((e) => e.seq)).toEqual(log.map((_e, i) => i + 1));
    // One execution at a time: each task completed once, the run ended once, and last.
    expect(log.filter((e) => e.type === 'TASK_COMPLETED')).toHaveLength(2);
    expect(log.filter((e) => e.type === 'RUN_SUCCEEDED')).toHaveLength(1);
    expect(log.at(-1)!.type).toBe('RUN_SUCCEEDED');
    expect(researchCalls()).toBe(1);
    expect(writes).toBe(2);
    const d = await gqlOk(server.url, RUN, { id: run.id }, key);
    expect(d.run).toMatchObject({ status: 'SUCCEEDED', output: 'Written after all.' });
  });

  test('a run cancelled on one worker and retried at once runs to the end on the other', async () => {
    for (const w of workers.splice(0)) await w.close();
    const pair = [await startWorker(), await startWorker()];
    llm.setFallback(() => ({ text: Array.from({ length: 200 }, (_, i) => `s${i} `), chunkDelayMs: 10 }));
    const run = await startRun('cancel then retry');
    let holder: RunWorker | undefined;
    const seen: string[] = [];
    for await (const r of sseSubscribe(server.url, EVENTS, { runId: run.id, afterSeq: 0 }, key)) {
      seen.push(r.data.runEvents.type);
      if (r.data.runEvents.type === 'TOKEN' && !holder) {
        holder = pair.find((w) => w.active() === 1);
        await gqlOk(server.url, CANCEL, { id: run.id }, key);
      }
    }
    expect(seen.at(-1)).toBe('RUN_CANCELLED');
    expect(holder).toBeDefined();
    // The worker that held it stops; the other one, which heard the cancel too, takes the retry.
    await holder!.close();
    workers.splice(workers.indexOf(holder!), 1);
    llm.setFallback(() => ({ text: 'Done after all.' }));
    await gqlOk(server.url, 'mutation($id: ID!) { retryRun(id: $id) { run { id } } }', { id: run.id }, key);
    const after: string[] = [];
    for await (const r of sseSubscribe(server.url, EVENTS, { runId: run.id, afterSeq: seen.length }, key))
      after.push(r.data.runEvents.type);
    expect(after.at(-1)).toBe('RUN_SUCCEEDED');
    const d = await gqlOk(server.url, RUN, { id: run.id }, key);
    expect(d.run.status).toBe('SUCCEEDED');
    expect(d.run.output).toBe('Done after all.');
  });

  test('a worker killed mid-run: another worker resumes after the finished task, which is not paid twice', async () => {
    for (const w of workers.splice(0)) await w.close();
    llm.setFallback((req) => {
      const body = JSON.stringify(req.body);
      if (body.includes('Research crashes')) return { text: 'Crash notes.' };
      return { text: Array.from({ length: 40 }, (_, i) => `c${i} `), chunkDelayMs: 25 };
    });
    const child = spawn(process.execPath, [BIN, 'worker', '--concurrency', '2'], {
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        DATABASE_URL: tdb.url,
        REDIS_URL,
        TROUPE_QUEUE_PREFIX: PREFIX,
        TROUPE_SECRET: SECRET,
        TROUPE_MIGRATE: 'false',
        OPENAI_BASE_URL: llm.url,
        OPENAI_API_KEY: 'test',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    let out = '';
    child.stdout!.on('data', (d) => (out += d));
    child.stderr!.on('data', (d) => (out += d));
    const exited = new Promise<NodeJS.Signals | number | null>((resolve) =>
      child.on('exit', (code, signal) => resolve(signal ?? code)),
    );
    await new Promise<void>((resolve, reject) => {
      const check = () => /worker ready/.test(out) && resolve();
      child.stdout!.on('data', check);
      void exited.then(() => reject(new Error(`troupe worker exited:\n${out}`)));
    });

    const run = await startRun('crashes');
    const seqs: number[] = [];
    const types: string[] = [];
    let killedAt = 0;
    let resumedIn = 0;
    for await (const r of sseSubscribe(server.url, EVENTS, { runId: run.id, afterSeq: 0 }, key)) {
      if (r.errors) throw new Error(JSON.stringify(r.errors));
      const e = r.data.runEvents;
      seqs.push(e.seq);
      types.push(e.type);
      const inSecondTask = types.filter((t) => t === 'TASK_STARTED').length === 2;
      if (killedAt === 0 && inSecondTask && e.type === 'TOKEN') {
        killedAt = Date.now();
        child.kill('SIGKILL');
        expect(await exited).toBe('SIGKILL');
        await startWorker();
      }
      if (killedAt && !resumedIn && types.filter((t) => t === 'RUN_STARTED').length === 2)
        resumedIn = Date.now() - killedAt;
    }
    expect(killedAt).toBeGreaterThan(0);
    expect(resumedIn).toBeGreaterThan(0);
    expect(resumedIn).toBeLessThan(10_000);
    // Every sequence number exactly once, in order, across both workers.
    expect(seqs).toEqual(seqs.map((_s, i) => i + 1));
    expect(types.at(-1)).toBe('RUN_SUCCEEDED');
    const research = llm.chatRequests.filter((r) => JSON.stringify(r.body).includes('Research crashes'));
    expect(research).toHaveLength(1);
    const d = await gqlOk(server.url, RUN, { id: run.id }, key);
    expect(d.run.status).toBe('SUCCEEDED');
    expect(d.run.taskRuns.map((t: any) => [t.task.name, t.status, t.attempts])).toEqual([
      ['research', 'SUCCEEDED', 1],
      ['write', 'SUCCEEDED', 2],
    ]);
  });

  test('a worker shutting down hands its unfinished run back uncancelled; another worker finishes it', async () => {
    for (const w of workers.splice(0)) await w.close();
    const leaving = await startWorker(200);
    llm.setFallback((req) => {
      if (JSON.stringify(req.body).includes('Research handover')) return { text: 'Handover notes.' };
      return { text: Array.from({ length: 100 }, (_, i) => `h${i} `), chunkDelayMs: 25 };
    });
    const run = await startRun('handover');
    const seqs: number[] = [];
    const types: string[] = [];
    let handedBack = false;
    for await (const r of sseSubscribe(server.url, EVENTS, { runId: run.id, afterSeq: 0 }, key)) {
      const e = r.data.runEvents;
      seqs.push(e.seq);
      types.push(e.type);
      if (!handedBack && types.filter((t) => t === 'TASK_STARTED').length === 2 && e.type === 'TOKEN') {
        handedBack = true;
        await leaving.close();
        const d = await gqlOk(server.url, RUN, { id: run.id }, key);
        expect(d.run.status).toBe('RUNNING');
        await startWorker();
      }
    }
    expect(handedBack).toBe(true);
    expect(seqs).toEqual(seqs.map((_s, i) => i + 1));
    expect(types).not.toContain('RUN_CANCELLED');
    expect(types.filter((t) => t === 'RUN_STARTED')).toHaveLength(2);
    expect(types.at(-1)).toBe('RUN_SUCCEEDED');
    expect(llm.chatRequests.filter((r) => JSON.stringify(r.body).includes('Research handover'))).toHaveLength(
      1,
    );
    const d = await gqlOk(server.url, RUN, { id: run.id }, key);
    expect(d.run.status).toBe('SUCCEEDED');
  });
  test('a run whose job fails on every attempt ends FAILED instead of staying RUNNING', async () => {
    for (const w of workers.splice(0)) await w.close();
    const crew = (await gqlOk(server.url, CREATE_CREW, { input: { ...CREW, name: 'broken' } }, key))
      .createCrew.crew.id as string;
    const d0 = await gqlOk(
      server.url,
      'mutation($input: StartRunInput!) { startRun(input: $input) { run { id } } }',
      { input: { crewId: crew, inputs: { topic: 'x' } } },
      key,
    );
    const runId = d0.startRun.run.id as string;
    const dbId = parseGlobalId('id', runId, 'Run');
    // One attempt instead of five (a real deployment retries for about 15 s first).
    const queue = new Queue('runs', { connection: { url: REDIS_URL }, prefix: PREFIX });
    const job = await queue.getJob(dbId);
    expect(job).toBeDefined();
    await job!.remove();
    await queue.add('run', job!.data, { jobId: dbId, attempts: 1 });
    await queue.close();
    // A pinned crew version that cannot be read: executing the run throws before any event.
    await pgAdmin((c) => c.query(`UPDATE "CrewVersion" SET definition = '{}'`), tdb.url);
    // A worker of its own (as a `troupe worker` process is): it has read no crew version yet.
    const own = await openDatabase({ databaseUrl: tdb.url!, migrate: false, poolSize: 2 });
    try {
      await startWorker(1000, own);
      const types: string[] = [];
      for await (const r of sseSubscribe(server.url, EVENTS, { runId, afterSeq: 0 }, key))
        types.push(r.data.runEvents.type);
      expect(types).toEqual(['RUN_FAILED']);
    } finally {
      for (const w of workers.splice(0)) await w.close();
      await own.close();
    }
    const d = await gqlOk(server.url, RUN, { id: runId }, key);
    expect(d.run.status).toBe('FAILED');
  });
});

test('a worker runs 32 runs at once unless told otherwise, as a server that is its own worker does', () => {
  const base = { TROUPE_SECRET: SECRET, DATABASE_URL: 'postgresql://127.0.0.1:1/x', REDIS_URL };
  expect(loadConfig('worker', {}, base).config.workerConcurrency).toBe(32);
  expect(loadConfig('dev', {}, base).config.workerConcurrency).toBe(32);
  expect(loadConfig('worker', {}, { ...base, TROUPE_WORKER_CONCURRENCY: '6' }).config.workerConcurrency).toBe(
    6,
  );
});

test('troupe worker without DATABASE_URL or REDIS_URL exits with an error that names the variable', async () => {
  const noDb = runCli(['worker'], { TROUPE_SECRET: SECRET, REDIS_URL });
  expect(await noDb.exited).toBe(1);
  expect(noDb.output()).toMatch(/troupe worker` needs DATABASE_URL/);
  const noRedis = runCli(['worker'], { TROUPE_SECRET: SECRET, DATABASE_URL: 'postgresql://127.0.0.1:1/x' });
  expect(await noRedis.exited).toBe(1);
  expect(noRedis.output()).toMatch(/troupe worker` needs REDIS_URL/);
  const bad = runCli(['worker', '--concurrency', '0'], {});
  expect(await bad.exited).toBe(64);
  expect(bad.output()).toMatch(/--concurrency must be a positive integer/);
});

test.runIf(BACKEND === 'postgres')(
  'runs started together are queued together, each once, and one that failed to queue says so',
  async () => {
    const prefix = `troupe-test-fresh-${randomBytes(4).toString('hex')}`;
    const queue = new Queue<RunJob>('runs', { connection: { url: REDIS_URL }, prefix });
    const rankRedis = new Redis(REDIS_URL);
    try {
      const addFresh = freshRunJobs(queue, createRunRanker(queue, rankRedis));
      // Five in one turn of the event loop (one addBulk), then one on its own (one add).
      const together = Array.from({ length: 5 }, (_, i) => ({ tenantId: 't', runId: `run-${i}` }));
      await Promise.all(together.map((job) => addFresh(job)));
      await addFresh({ tenantId: 't', runId: 'run-5' });
      // The same run again (the reconciler got there first, say): still one job.
      await addFresh({ tenantId: 't', runId: 'run-0' });
      const waiting = await queue.getJobs(['prioritized']);
      expect(waiting.map((j) => j.id).sort()).toEqual(['run-0', 'run-1', 'run-2', 'run-3', 'run-4', 'run-5']);
      for (const j of waiting) expect(j.data).toEqual({ tenantId: 't', runId: j.id });
      expect((await queue.getJob('run-3'))?.opts.attempts).toBe(RUN_JOB_OPTIONS.attempts);
      // Redis gone: every run of the batch hears it, none is left hanging.
      await queue.close();
      const results = await Promise.allSettled([
        addFresh({ tenantId: 't', runId: 'run-6' }),
        addFresh({ tenantId: 't', runId: 'run-7' }),
      ]);
      expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    } finally {
      await queue.close().catch(() => {});
      await dropRunQueue(prefix);
      rankRedis.disconnect();
    }
  },
);
