// A `troupe worker` whose agents answer from the scripted provider (no network): what the
// throughput bench runs as its worker process. Same code path as the CLI's worker.
import { createScriptedProvider } from '@troupe/agents';
import { openDatabase } from '../src/db/database.js';
import { createRedisEventBus } from '../src/events/redis-event-bus.js';
import { DEFAULT_WORKER_CONCURRENCY } from '../src/runs/run-queue.js';
import { startRunWorker } from '../src/runs/run-worker.js';

const env = process.env;
const database = await openDatabase({ databaseUrl: env.DATABASE_URL!, migrate: false, poolSize: 10 });
const bus = await createRedisEventBus({ url: env.REDIS_URL!, prefix: `${env.TROUPE_QUEUE_PREFIX}:` });
const worker = await startRunWorker({
  database,
  bus,
  redisUrl: env.REDIS_URL!,
  prefix: env.TROUPE_QUEUE_PREFIX,
  // Default: `troupe worker`'s (TROUPE_WORKER_CONCURRENCY).
  concurrency: Number(env.TROUPE_WORKER_CONCURRENCY ?? DEFAULT_WORKER_CONCURRENCY),
  providers: { scripted: createScriptedProvider(() => ({ text: 'ok' })) },
});
process.on('SIGTERM', async () => {
  await worker.close();
  await bus.close();
  await database.close();
  process.exit(0);
});
console.log('scripted worker ready');
