// Run throughput on Postgres + Redis: one `troupe serve` process, one worker process (its default
// concurrency, 32) with the scripted provider, 20 clients calling startRun; runs/s until every run
// SUCCEEDED.
// Baselines, same run: raw BullMQ no-op jobs through one worker at concurrency 50 (jobs/s), the
// goal's; and the same load through a hand-written pipeline (pipeline-floor.ts: HTTP, three SQL
// statements, a BullMQ job and a publish per run), what this machine allows such a pipeline at all.
import path from 'node:path';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import pg from 'pg';
import {
  cpuMs,
  dropOnFailure,
  freshBackend,
  gql,
  here,
  now,
  type Proc,
  REDIS_URL,
  report,
  SECRET,
  scaled,
  sleep,
  spawnReady,
  startRun,
  syscalls,
  tenantAndCrew,
  troupeServe,
} from './bench-kit.js';
import { FLOOR_APPLICATION, FLOOR_TABLES } from './pipeline-floor.js';

const RUNS = scaled(2000);
const CLIENTS = 20;
const RAW_JOBS = scaled(20_000);

async function rawBullMq(prefix: string): Promise<number> {
  const connection = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  const queue = new Queue('raw', { connection, prefix });
  for (let i = 0; i < RAW_JOBS; i += 1000)
    await queue.addBulk(
      Array.from({ length: Math.min(1000, RAW_JOBS - i) }, (_, k) => ({
        name: 'noop',
        data: { i: i + k },
        opts: { removeOnComplete: true },
      })),
    );
  let done = 0;
  let finish!: () => void;
  const finished = new Promise<void>((r) => (finish = r));
  const t0 = now();
  const workerConnection = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  const worker = new Worker('raw', async () => {}, {
    connection: workerConnection,
    prefix,
    concurrency: 50,
  });
  worker.on('completed', () => {
    if (++done === RAW_JOBS) finish();
  });
  await finished;
  const rate = (RAW_JOBS / (now() - t0)) * 1000;
  await worker.close();
  await queue.obliterate({ force: true });
  await queue.close();
  connection.disconnect();
  workerConnection.disconnect();
  return rate;
}

async function main() {
  const backend = await freshBackend();
  const server = await troupeServe(backend.databaseUrl, backend.prefix).catch(dropOnFailure(backend));
  const worker = await spawnReady(
    ['--import', 'tsx', path.join(here, 'scripted-worker.ts')],
    {
      DATABASE_URL: backend.databaseUrl,
      REDIS_URL,
      TROUPE_QUEUE_PREFIX: backend.prefix,
      TROUPE_SECRET: SECRET,
    },
    /scripted worker ready()/,
  ).catch(dropOnFailure(backend, server));
  let stopPoller = async () => {};
  try {
    const { key, crewId } = await tenantAndCrew(server.url, { provider: 'SCRIPTED' });
    // One connection for the polling: a connection per poll (every 20 ms) had Postgres fork a
    // backend 50 times a second, CPU taken from what is measured.
    const poller = new pg.Client({ connectionString: backend.databaseUrl });
    await poller.connect();
    stopPoller = () => poller.end();
    const count = async (table: string) =>
      Number((await poller.query(`SELECT count(*) FROM ${table} WHERE status = 'SUCCEEDED'`)).rows[0].count);
    /** n runs started by the clients, then waited for until all SUCCEEDED. */
    const batch = async (n: number, start: (i: number) => Promise<unknown>, table = '"Run"') => {
      const before = await count(table);
      const t0 = now();
      let next = 0;
      await Promise.all(
        Array.from({ length: CLIENTS }, async () => {
          while (next < n) await start(next++);
        }),
      );
      const startedIn = now() - t0;
      while ((await count(table)) < before + n) await sleep(20);
      return { ms: now() - t0, startedIn };
    };
    const troupeBatch = (n: number, tag: string) =>
      batch(n, (i) => startRun(server.url, key, crewId, `${tag}${i}`));
    await troupeBatch(40, 'warm');
    // CPU each part spends per run: steadier than runs/s on a shared machine, and it says where
    // the time goes. Postgres: the backends serving this database; Redis: the whole server.
    const backends = (
      await poller.query<{ pid: number }>(
        'SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()',
      )
    ).rows.map((r) => r.pid);
    const redis = new Redis(REDIS_URL);
    const redisCpuMs = async () => {
      const info = await redis.info('cpu');
      const sec = (k: string) => Number(new RegExp(`${k}:([\\d.]+)`).exec(info)?.[1] ?? 0);
      return (sec('used_cpu_user') + sec('used_cpu_sys')) * 1000;
    };
    /** CPU used so far by each part; Postgres: the backends serving this database, Redis: the whole server. */
    const cpuOf = async (parts: { server: Proc; worker: Proc; backends: number[] }) => ({
      server: cpuMs(parts.server.child.pid),
      worker: cpuMs(parts.worker.child.pid),
      postgres: parts.backends.reduce((sum, pid) => sum + cpuMs(pid), 0),
      redis: await redisCpuMs(),
      // This process: the 20 clients and the poller. It shares the cores with what is measured.
      loadgen: (() => {
        const u = process.cpuUsage();
        return (u.user + u.system) / 1000;
      })(),
    });
    const cpu = () => cpuOf({ server, worker, backends });
    const calls = () => ({ server: syscalls(server.child.pid), worker: syscalls(worker.child.pid) });
    const calls0 = calls();
    const cpu0 = await cpu();
    const { ms, startedIn } = await troupeBatch(RUNS, 'r');
    const cpu1 = await cpu();
    const calls1 = calls();
    // The floor under startRun: the same clients asking a query that reads nothing (HTTP, auth from
    // the key cache, GraphQL), for the server's CPU per request.
    const floor0 = cpuMs(server.child.pid);
    let asked = 0;
    await Promise.all(
      Array.from({ length: CLIENTS }, async () => {
        while (asked++ < RUNS) await gql(server.url, '{ viewer { kind } }', {}, key);
      }),
    );
    const floorMs = (cpuMs(server.child.pid) - floor0) / RUNS;
    console.error(`  ${RUNS} runs in ${Math.round(ms)} ms (started in ${Math.round(startedIn)} ms)`);
    const perRun = (k: keyof typeof cpu0) => (cpu1[k] - cpu0[k]) / RUNS;
    const runsPerSec = (RUNS / ms) * 1000;

    // The same clients and runs through the hand-written pipeline, on the same database and Redis.
    await worker.stop();
    await server.stop();
    await poller.query(FLOOR_TABLES);
    const pipeline = path.join(here, 'pipeline-floor.ts');
    const floorEnv = {
      DATABASE_URL: backend.databaseUrl,
      REDIS_URL,
      TROUPE_QUEUE_PREFIX: `${backend.prefix}:floor`,
    };
    const fServer = await spawnReady(
      ['--import', 'tsx', pipeline, 'server'],
      floorEnv,
      /floor server (http:\S+)/,
    );
    const fWorker = await spawnReady(
      ['--import', 'tsx', pipeline, 'worker'],
      floorEnv,
      /floor worker ready()/,
    ).catch(async (err) => {
      await fServer.stop();
      throw err;
    });
    let floor: { runsPerSec: number; perRun: (k: keyof typeof cpu0) => number };
    try {
      const floorBatch = (n: number, tag: string) =>
        batch(n, (i) => startRun(fServer.url, key, crewId, `${tag}${i}`), 'floor_run');
      await floorBatch(40, 'warm');
      const fBackends = (
        await poller.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE application_name = $1', [
          FLOOR_APPLICATION,
        ])
      ).rows.map((r) => r.pid);
      const parts = { server: fServer, worker: fWorker, backends: fBackends };
      const f0 = await cpuOf(parts);
      const f = await floorBatch(RUNS, 'r');
      const f1 = await cpuOf(parts);
      console.error(`  hand-written pipeline: ${RUNS} runs in ${Math.round(f.ms)} ms`);
      floor = { runsPerSec: (RUNS / f.ms) * 1000, perRun: (k) => (f1[k] - f0[k]) / RUNS };
    } finally {
      await fWorker.stop();
      await fServer.stop();
    }
    redis.disconnect();
    const t1 = now();
    const raw = await rawBullMq(`${backend.prefix}-raw`);
    console.error(`  raw BullMQ: ${RAW_JOBS} jobs, ${Math.round(now() - t1)} ms with adding`);
    report(
      'run-throughput',
      [
        { metric: 'raw BullMQ no-op jobs (1 worker, concurrency 50)', value: raw, unit: 'jobs/s' },
        { metric: 'startRun mutations (20 clients)', value: (RUNS / startedIn) * 1000, unit: '/s' },
        {
          metric: 'one-task runs to SUCCEEDED (1 server + 1 worker)',
          value: runsPerSec,
          unit: 'runs/s',
          baseline: raw,
          ratio: runsPerSec / raw,
          goal: '>= 1/20 of raw (0.05x)',
          met: runsPerSec / raw >= 0.05,
        },
        { metric: 'CPU per run: server', value: perRun('server'), unit: 'ms' },
        {
          metric: 'server CPU per query that reads nothing (HTTP + auth + GraphQL)',
          value: floorMs,
          unit: 'ms',
        },
        { metric: 'CPU per run: worker', value: perRun('worker'), unit: 'ms' },
        { metric: 'CPU per run: Postgres backends', value: perRun('postgres'), unit: 'ms' },
        { metric: 'CPU per run: Redis', value: perRun('redis'), unit: 'ms' },
        { metric: 'CPU per run: load generator (this process)', value: perRun('loadgen'), unit: 'ms' },
        {
          metric: 'hand-written pipeline runs to SUCCEEDED (HTTP, 3 SQL statements, a BullMQ job, a publish)',
          value: floor.runsPerSec,
          unit: 'runs/s',
          baseline: raw,
          ratio: floor.runsPerSec / raw,
        },
        {
          metric: 'Troupe runs/s against the hand-written pipeline',
          value: runsPerSec,
          unit: 'runs/s',
          baseline: floor.runsPerSec,
          ratio: runsPerSec / floor.runsPerSec,
        },
        ...(['server', 'worker', 'postgres', 'redis', 'loadgen'] as const).map((k) => ({
          metric: `hand-written pipeline, CPU per run: ${k}`,
          value: floor.perRun(k),
          unit: 'ms',
        })),
        ...(['server', 'worker'] as const).flatMap((k) => [
          {
            metric: `socket writes per run: ${k}`,
            value: (calls1[k].writes - calls0[k].writes) / RUNS,
            unit: 'syscalls',
          },
          {
            metric: `socket reads per run: ${k}`,
            value: (calls1[k].reads - calls0[k].reads) / RUNS,
            unit: 'syscalls',
          },
        ]),
      ],
      { runs: RUNS, rawJobs: RAW_JOBS, postgresBackends: backends.length },
    );
  } finally {
    await stopPoller();
    await worker.stop();
    await server.stop();
    await backend.drop();
  }
}

await main();
