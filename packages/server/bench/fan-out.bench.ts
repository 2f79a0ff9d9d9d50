// Fan-out: 1000 graphql-ws subscribers (1000 connections) on one run of one `troupe serve`
// process. Delivery latency from the worker's publish to each subscriber, and the server's memory
// per subscriber (RSS growth / subscribers). Baseline, same run: one subscriber.
// A server with 1000 subscribers on a run has been serving for a while: first 100 subscribers take
// 20 events and leave, so that the fan-out code is compiled (V8's optimising tiers) when measured,
// as in a running server. The first events after the 1000 join are reported on their own too.
import { Redis } from 'ioredis';
import pg from 'pg';
import {
  dbId,
  dropOnFailure,
  freshBackend,
  liveTokenEvent,
  now,
  percentile,
  REDIS_URL,
  report,
  scaled,
  sleep,
  startRun,
  subscribeRun,
  tenantAndCrew,
  troupeServe,
  wsClient,
} from './bench-kit.js';

const SUBSCRIBERS = 1000;
const WARM_SUBSCRIBERS = 100;
const EVENTS = scaled(40);
const GAP_MS = 50;
/** The first events after the subscribers joined, reported on their own. */
const FIRST_EVENTS = 3;

async function main() {
  const backend = await freshBackend();
  const server = await troupeServe(backend.databaseUrl, backend.prefix).catch(dropOnFailure(backend));
  const pub = new Redis(REDIS_URL);
  const clients: ReturnType<typeof wsClient>[] = [];
  const closers: (() => Promise<void>)[] = [];
  try {
    const { key, tenantId, crewId } = await tenantAndCrew(server.url, { provider: 'OPENAI' });
    const run = await startRun(server.url, key, crewId, 'fan-out');
    // Like a worker, every event is stored before it is published: a new subscriber replays the
    // last stored event first, which proves its subscription is live.
    const db = new pg.Client({ connectionString: backend.databaseUrl });
    await db.connect();
    closers.push(() => db.end());
    const channel = `${backend.prefix}:run:${dbId(run)}`;
    let seq = 0;
    const publish = async () => {
      seq++;
      await db.query(
        `INSERT INTO "RunEvent" ("tenantId", "runId", seq, type, delta, at) VALUES ($1, $2, $3, 'TOKEN', '0', now())`,
        [tenantId, dbId(run), seq],
      );
      const sentAt = now(); // the latency counts from the publish, as a worker's does
      await pub.publish(channel, liveTokenEvent(dbId(run), seq, sentAt));
    };
    await publish();

    const measure = async (subs: number, events: number) => {
      const latencies: number[] = [];
      // Latencies by event (its publish time, in the delta): the first ones are reported apart.
      const byEvent = new Map<string, number[]>();
      let live = 0;
      let allLive!: () => void;
      const ready = new Promise<void>((r) => (allLive = r));
      const batchClients = Array.from({ length: subs }, () => wsClient(server.url, key));
      clients.push(...batchClients);
      const afterSeq = seq - 1; // replay the last event: it proves the subscription is live
      let rssHalf = 0;
      for (let i = 0; i < subs; i += 50) {
        if (subs >= 100 && i === subs / 2) {
          await sleep(500);
          rssHalf = server.rss();
        }
        await Promise.all(
          batchClients.slice(i, i + 50).map(
            (c) =>
              new Promise<void>((subscribed) => {
                let first = true;
                void subscribeRun(
                  c,
                  run,
                  (e) => {
                    if (first) {
                      first = false;
                      subscribed();
                      if (++live === subs) allLive();
                    } else {
                      const latency = now() - Number(e.delta);
                      latencies.push(latency);
                      const of = byEvent.get(e.delta!) ?? [];
                      of.push(latency);
                      byEvent.set(e.delta!, of);
                    }
                  },
                  afterSeq,
                ).catch(() => {});
              }),
          ),
        );
      }
      console.error(`  ${subs} subscribed`);
      await ready;
      console.error(`  ${subs} live`);
      await sleep(500);
      const rss = server.rss();
      for (let i = 0; i < events; i++) {
        await publish();
        await sleep(GAP_MS);
      }
      await sleep(300);
      // Copies: these subscribers stay connected, and what they receive later must not count here.
      const first = [...byEvent.values()].slice(0, FIRST_EVENTS).flat();
      return { latencies: [...latencies], first, rss, rssHalf, clients: batchClients };
    };

    // Warm up the server's code paths, then measure its memory before the subscribers arrive.
    const warm = await measure(WARM_SUBSCRIBERS, 20);
    await Promise.all(warm.clients.map((c) => c.dispose()));
    await sleep(1000);
    const rssBefore = server.rss();
    const one = await measure(1, EVENTS);
    const many = await measure(SUBSCRIBERS, EVENTS);
    const perSubscriber = (many.rss - rssBefore) / (SUBSCRIBERS + 1);
    const p99 = percentile(many.latencies, 99);
    const marginal = (many.rss - many.rssHalf) / (SUBSCRIBERS / 2);
    // RSS moves with garbage collection: the goal holds only if both measures are under it.
    const memoryMet = Math.max(perSubscriber, marginal) < 50 * 1024;
    report(
      'fan-out',
      [
        { metric: 'delivery p50, 1 subscriber', value: percentile(one.latencies, 50), unit: 'ms' },
        { metric: 'delivery p99, 1 subscriber', value: percentile(one.latencies, 99), unit: 'ms' },
        {
          metric: `delivery p50, ${SUBSCRIBERS} subscribers`,
          value: percentile(many.latencies, 50),
          unit: 'ms',
          baseline: percentile(one.latencies, 50),
          ratio: percentile(many.latencies, 50) / percentile(one.latencies, 50),
        },
        {
          metric: `delivery p99, ${SUBSCRIBERS} subscribers`,
          value: p99,
          unit: 'ms',
          baseline: percentile(one.latencies, 99),
          ratio: p99 / percentile(one.latencies, 99),
          goal: '< 50 ms',
          met: p99 < 50,
        },
        {
          metric: `delivery p99, the first ${FIRST_EVENTS} events after ${SUBSCRIBERS} joined`,
          value: percentile(many.first, 99),
          unit: 'ms',
        },
        {
          metric: `server RSS per subscriber, marginal (${SUBSCRIBERS / 2} -> ${SUBSCRIBERS})`,
          value: marginal / 1024,
          unit: 'KB',
          goal: '< 50 KB',
          met: memoryMet,
        },
        {
          metric: 'server RSS per subscriber (growth / subscribers)',
          value: perSubscriber / 1024,
          unit: 'KB',
          goal: '< 50 KB',
          met: memoryMet,
        },
      ],
      {
        deliveries: many.latencies.length,
        expectedDeliveries: SUBSCRIBERS * EVENTS,
        rssBeforeMB: rssBefore / 2 ** 20,
        rssWithSubscribersMB: many.rss / 2 ** 20,
      },
    );
  } finally {
    await Promise.all(clients.map((c) => c.dispose()));
    pub.disconnect();
    for (const close of closers) await close();
    await server.stop();
    await backend.drop();
  }
}

await main();
