// The event-latency bench's worker: publishes what a worker publishes after storing a run's events
// (TOKEN events, the send time in `delta`), round robin over the runs on a fixed schedule. Its own
// process, as a worker is: publishing 5,000 events/s makes garbage, and in the subscribing process
// its collections' pauses were counted as the server's latency.
// Env: REDIS_URL, BENCH_CHANNELS (JSON [channel, runId][]), BENCH_INTERVAL_MS (per run),
// BENCH_DURATION_MS. Publishes from SIGUSR2 on, then prints `published <n>` and exits.
import { Redis } from 'ioredis';
import { liveTokenEvent, sleep, wallNow } from './bench-kit.js';

const channels = JSON.parse(process.env.BENCH_CHANNELS!) as [string, string][];
const intervalMs = Number(process.env.BENCH_INTERVAL_MS);
const durationMs = Number(process.env.BENCH_DURATION_MS);
const pub = new Redis(process.env.REDIS_URL!);
await pub.ping();
process.once('SIGUSR2', async () => {
  const next = channels.map(() => 2); // seq 1 is in the log
  const t0 = performance.now();
  let published = 0;
  for (;;) {
    const t = performance.now() - t0;
    if (t >= durationMs) break;
    // By time t, t / intervalMs events per run in all.
    const due = Math.floor((t / intervalMs) * channels.length);
    const p = pub.pipeline();
    for (; published < due; published++) {
      const i = published % channels.length;
      const [channel, runId] = channels[i]!;
      const seq = next[i]!++;
      p.publish(channel, liveTokenEvent(runId, seq, wallNow()));
    }
    await p.exec();
    await sleep(1);
  }
  console.log(`published ${published}`);
  pub.disconnect();
});
console.log('publisher ready');
