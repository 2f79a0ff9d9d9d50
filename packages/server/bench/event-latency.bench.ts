// Event latency: a worker's publish on Redis -> a graphql-ws subscriber of a `troupe serve` process.
// Baseline, same run: raw ioredis pub/sub round trip (publisher and subscriber in this process).
// What is published is exactly what a worker publishes (after the event is stored), with the send
// time in `delta`; the bench subscribes over graphql-ws; `troupe serve` is its own process. One run
// at a time, this process publishes; 100 runs at once, a publisher process does (event-publisher.ts),
// as a worker would: 5,000 publishes a second make garbage whose collections paused the receiving
// side too, and that was counted as the server's latency.
import path from 'node:path';
import { Redis } from 'ioredis';
import {
  dbId,
  dropOnFailure,
  freshBackend,
  here,
  liveTokenEvent,
  now,
  percentile,
  pgAdmin,
  REDIS_URL,
  report,
  scaled,
  sleep,
  spawnReady,
  startRun,
  subscribeRun,
  tenantAndCrew,
  troupeServe,
  wallNow,
  wsClient,
} from './bench-kit.js';

const SEQUENTIAL = scaled(2000);
const CONCURRENT_RUNS = 100;
const CONCURRENT_MS = scaled(4000);
const PER_RUN_INTERVAL_MS = 20; // each run streams 50 events/s: 5,000 events/s in all

async function rawRedis(samples: number): Promise<number[]> {
  const pub = new Redis(REDIS_URL);
  const sub = new Redis(REDIS_URL);
  const channel = `troupe-bench-raw-${process.pid}`;
  let waiting: ((t: number) => void) | undefined;
  sub.on('message', (_c, m: string) => waiting?.(now() - Number(m)));
  await sub.subscribe(channel);
  const out: number[] = [];
  for (let i = 0; i < samples + 200; i++) {
    const got = new Promise<number>((r) => (waiting = r));
    await pub.publish(channel, String(now()));
    const ms = await got;
    if (i >= 200) out.push(ms);
  }
  pub.disconnect();
  sub.disconnect();
  return out;
}

async function main() {
  const backend = await freshBackend();
  const server = await troupeServe(backend.databaseUrl, backend.prefix).catch(dropOnFailure(backend));
  const pub = new Redis(REDIS_URL);
  try {
    const { key, tenantId, crewId } = await tenantAndCrew(server.url, { provider: 'OPENAI' });
    // Runs stay QUEUED (no worker): this process plays the worker that publishes their events.
    const runs: string[] = [];
    for (let i = 0; i < CONCURRENT_RUNS + 1; i += 20)
      runs.push(
        ...(await Promise.all(
          Array.from({ length: Math.min(20, CONCURRENT_RUNS + 1 - i) }, (_, k) =>
            startRun(server.url, key, crewId, `r${i + k}`),
          ),
        )),
      );
    // Seq 1 is in the log: a subscriber that has replayed it is live, so the next seq cannot be missed.
    await pgAdmin(
      (c) =>
        c.query(
          `INSERT INTO "RunEvent" ("tenantId", "runId", seq, type, at) SELECT $1, unnest($2::text[]), 1, 'RUN_STARTED', now()`,
          [tenantId, runs.map(dbId)],
        ),
      backend.databaseUrl,
    );
    const channel = (run: string) => `${backend.prefix}:run:${dbId(run)}`;

    const raw = await rawRedis(SEQUENTIAL);

    // One run, one event at a time.
    const client = wsClient(server.url, key);
    const seq: number[] = [];
    {
      const run = runs[0]!;
      let waiting: ((e: { seq: number; delta: string | null }) => void) | undefined;
      let first!: () => void;
      const ready = new Promise<void>((r) => (first = r));
      void subscribeRun(client, run, (e) => (e.seq === 1 ? first() : waiting?.(e))).catch(() => {});
      await ready;
      for (let i = 0; i < SEQUENTIAL + 200; i++) {
        const got = new Promise<{ seq: number; delta: string | null }>((r) => (waiting = r));
        await pub.publish(channel(run), liveTokenEvent(dbId(run), i + 2, now()));
        const e = await got;
        if (i >= 200) seq.push(now() - Number(e.delta));
      }
    }

    // 100 runs streaming at once, over 10 connections, published by a worker process.
    const live = runs.slice(1);
    const publisher = await spawnReady(
      ['--import', 'tsx', path.join(here, 'event-publisher.ts')],
      {
        REDIS_URL,
        BENCH_CHANNELS: JSON.stringify(live.map((run) => [channel(run), dbId(run)])),
        BENCH_INTERVAL_MS: String(PER_RUN_INTERVAL_MS),
        BENCH_DURATION_MS: String(CONCURRENT_MS),
      },
      /publisher ready/,
    );
    const concurrent: number[] = [];
    const steady: number[] = []; // after the first second (JIT warm-up, subscriptions settling)
    let t0 = Number.POSITIVE_INFINITY;
    const clients = Array.from({ length: 10 }, () => wsClient(server.url, key));
    let subscribed = 0;
    let allReady!: () => void;
    const ready = new Promise<void>((r) => (allReady = r));
    live.forEach((run, i) => {
      void subscribeRun(clients[i % clients.length]!, run, (e) => {
        if (e.seq === 1) {
          if (++subscribed === live.length) allReady();
        } else {
          const sent = Number(e.delta);
          const ms = wallNow() - sent;
          concurrent.push(ms);
          if (sent - t0 >= 1000) steady.push(ms);
        }
      }).catch(() => {});
    });
    await ready;
    t0 = wallNow();
    publisher.child.kill('SIGUSR2');
    await new Promise<void>((resolve) => publisher.child.once('exit', () => resolve()));
    const published = Number(/published (\d+)/.exec(publisher.output())?.[1] ?? Number.NaN);
    const elapsed = CONCURRENT_MS; // the publisher's schedule
    await sleep(200);
    await Promise.all([client, ...clients].map((c) => c.dispose()));

    const rawP50 = percentile(raw, 50);
    const p50 = percentile(seq, 50);
    const p99c = percentile(concurrent, 99);
    report(
      'event-latency',
      [
        { metric: 'raw ioredis pub/sub p50', value: rawP50 * 1000, unit: 'µs' },
        { metric: 'raw ioredis pub/sub p99', value: percentile(raw, 99) * 1000, unit: 'µs' },
        {
          metric: 'publish -> graphql-ws p50 (1 run)',
          value: p50 * 1000,
          unit: 'µs',
          baseline: rawP50 * 1000,
          ratio: p50 / rawP50,
          goal: '<= 4x raw',
          met: p50 / rawP50 <= 4,
        },
        {
          metric: 'publish -> graphql-ws p99 (1 run)',
          value: percentile(seq, 99) * 1000,
          unit: 'µs',
          baseline: percentile(raw, 99) * 1000,
          ratio: percentile(seq, 99) / percentile(raw, 99),
        },
        {
          metric: `publish -> graphql-ws p50 (${CONCURRENT_RUNS} runs)`,
          value: percentile(concurrent, 50),
          unit: 'ms',
        },
        {
          metric: `publish -> graphql-ws p99 (${CONCURRENT_RUNS} runs, incl. first second)`,
          value: p99c,
          unit: 'ms',
        },
        { metric: `... p90 (${CONCURRENT_RUNS} runs)`, value: percentile(concurrent, 90), unit: 'ms' },
        {
          metric: `... p99 after the first second (${CONCURRENT_RUNS} runs)`,
          value: percentile(steady, 99),
          unit: 'ms',
          goal: '< 5 ms',
          met: percentile(steady, 99) < 5,
        },
        {
          metric: `events/s delivered (${CONCURRENT_RUNS} runs)`,
          value: (concurrent.length / elapsed) * 1000,
          unit: '/s',
        },
      ],
      { samples: { raw: raw.length, sequential: seq.length, concurrent: concurrent.length, published } },
    );
  } finally {
    pub.disconnect();
    await server.stop();
    await backend.drop();
  }
}

await main();
