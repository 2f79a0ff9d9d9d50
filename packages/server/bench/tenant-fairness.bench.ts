// Fair turns between tenants on Postgres + Redis: tenant A queues a backlog of one-task runs (the
// scripted provider) while no worker runs, then tenant B queues one. A worker starts: how long
// B's run takes to finish, against how long A's backlog takes (first come, first served would make
// B's wait the whole backlog: a ratio near 1). Baseline: B's run on an idle worker.
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
    for (let i = 0; i < 5; i++) {
      const t0 = now();
      const id = await startRun(server.url, b.key, b.crewId, `alone${i}`);
      while ((await status(id)) !== 'SUCCEEDED') await sleep(5);
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
    const t0 = now();
    worker = await startWorker();
    let bDone = 0;
    let aDone = 0;
    while (bDone === 0 || aDone === 0) {
      if (bDone === 0 && (await status(bRun)) === 'SUCCEEDED') bDone = now() - t0;
      if (aDone === 0 && (await succeeded(a.tenantId)) >= BACKLOG) aDone = now() - t0;
      await sleep(5);
    }
    console.error(`  A's ${BACKLOG} runs in ${Math.round(aDone)} ms; B's run in ${Math.round(bDone)} ms`);
    report(
      'tenant-fairness',
      [
        { metric: "B's run alone on an idle worker (median of 5)", value: alone[2]!, unit: 'ms' },
        {
          metric: `B's run queued after A's backlog of ${BACKLOG}: done after (from the worker's start)`,
          value: bDone,
          unit: 'ms',
          baseline: aDone,
          // First come, first served: ~1x.
          ratio: bDone / aDone,
        },
        { metric: `A's backlog of ${BACKLOG}: all done after`, value: aDone, unit: 'ms' },
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
