// Fair turns between tenants on Postgres + Redis: tenant A queues a backlog of one-task runs (the
// scripted provider) while no worker runs, then tenant B queues one. A worker starts: how long
// B's run takes to finish, against how long A's backlog takes (first come, first served would make
// B's wait the whole backlog: a ratio near 1). Baseline: the time A's backlog takes; B's run on an
// idle worker is reported beside it.
import path from 'node:path';
import pg from 'pg';
import {
  dbId,
  dropOnFailure,
  freshBackend,
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
  tenantAndCrew,
  troupeServe,
} from './bench-kit.js';

const BACKLOG = scaled(2000);
const CLIENTS = 20;

/** Polls until `done`; a run that failed or a worker that died ends the bench instead of hanging it. */
async function until(done: () => Promise<boolean>, what: string, ms = 120_000): Promise<void> {
  const deadline = now() + ms;
  while (!(await done())) {
    if (now() > deadline) throw new Error(`${what}: not done after ${ms / 1000} s`);
    await sleep(5);
  }
}

async function main() {
  const backend = await freshBackend();
  const server = await troupeServe(backend.databaseUrl, backend.prefix).catch(dropOnFailure(backend));
  const startWorker = () =>
    spawnReady(
      ['--import', 'tsx', path.join(here, 'scripted-worker.ts')],
      {
        DATABASE_URL: backend.databaseUrl,
        REDIS_URL,
        TROUPE_QUEUE_PREFIX: backend.prefix,
        TROUPE_SECRET: SECRET,
      },
      /scripted worker ready()/,
    );
  let worker: Proc | undefined;
  const poller = new pg.Client({ connectionString: backend.databaseUrl });
  try {
    await poller.connect();
    const a = await tenantAndCrew(server.url, { provider: 'SCRIPTED' });
    const b = await tenantAndCrew(server.url, { provider: 'SCRIPTED' });
    const status = async (runId: string) =>
      (await poller.query<{ status: string }>('SELECT status FROM "Run" WHERE id = $1', [dbId(runId)]))
        .rows[0]?.status;
    const succeeded = async (tenantId: string) =>
      Number(
        (
          await poller.query(`SELECT count(*) FROM "Run" WHERE "tenantId" = $1 AND status = 'SUCCEEDED'`, [
            tenantId,
          ])
        ).rows[0].count,
      );

    // B's run on an idle worker: the time a run takes at all.
    worker = await startWorker();
    const alone: number[] = [];
    for (let i = 0; i < 11; i++) {
      const t0 = now();
      const id = await startRun(server.url, b.key, b.crewId, `alone${i}`);
      await until(async () => (await status(id)) === 'SUCCEEDED', `B's run ${i}`);
      alone.push(now() - t0);
    }
    alone.sort((x, y) => x - y);
    await worker.stop();
    worker = undefined;

    // A's backlog, queued while no worker runs; then B's one run, behind it in time.
    let next = 0;
    await Promise.all(
      Array.from({ length: CLIENTS }, async () => {
        while (next < BACKLOG) await startRun(server.url, a.key, a.crewId, `a${next++}`);
      }),
    );
    const bRun = await startRun(server.url, b.key, b.crewId, 'behind');
    worker = await startWorker();
    await until(
      async () => (await status(bRun)) === 'SUCCEEDED' && (await succeeded(a.tenantId)) >= BACKLOG,
      `A's backlog and B's run`,
    );
    // From the first run's start (the worker's own start-up left out), as the worker stored them.
    const times = (
      await poller.query<{ first: Date; bStart: Date; b: Date; a: Date }>(
        `SELECT min("startedAt") AS first,
           max("startedAt") FILTER (WHERE id = $1) AS "bStart",
           max("finishedAt") FILTER (WHERE id = $1) AS b,
           max("finishedAt") FILTER (WHERE "tenantId" = $2) AS a
         FROM "Run" WHERE "tenantId" = $2 OR id = $1`,
        [dbId(bRun), a.tenantId],
      )
    ).rows[0]!;
    const bStart = times.bStart.getTime() - times.first.getTime();
    const bDone = times.b.getTime() - times.first.getTime();
    const aDone = times.a.getTime() - times.first.getTime();
    report(
      'tenant-fairness',
      [
        { metric: "B's run alone on an idle worker (median of 11)", value: alone[5]!, unit: 'ms' },
        {
          metric: `B's run queued after A's backlog of ${BACKLOG}: done after (from the first start)`,
          value: bDone,
          unit: 'ms',
          baseline: aDone,
          // First come, first served: ~1x.
          ratio: bDone / aDone,
        },
        { metric: `A's backlog of ${BACKLOG}: all done after`, value: aDone, unit: 'ms' },
        {
          metric: "B's run started after (the worker's first batch starts at once)",
          value: bStart,
          unit: 'ms',
        },
      ],
      { backlog: BACKLOG, aloneSamples: alone },
    );
  } finally {
    await poller.end().catch(() => {});
    await worker?.stop();
    await server.stop();
    await backend.drop();
  }
}

await main();
