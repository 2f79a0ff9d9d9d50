// The run pipeline with nothing of Troupe in it, for the throughput bench's second baseline: what
// HTTP, Postgres, BullMQ and Redis pub/sub cost on this machine for the work a trivial run needs at
// the least. `server`: an HTTP endpoint that inserts the run (one statement) and queues its job;
// `worker`: a BullMQ worker (concurrency 32, as Troupe's) that marks the run running (one statement), stores
// its six events and its end (one statement) and publishes the events. No GraphQL, no auth, no
// agent runtime, no batching across runs.
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import pg from 'pg';

/** The tables the hand-written pipeline writes, in the bench's own database. */
export const FLOOR_TABLES = `CREATE TABLE floor_run (id text PRIMARY KEY, status text NOT NULL, inputs jsonb NOT NULL,
  key text UNIQUE, output text);
CREATE TABLE floor_event (run_id text NOT NULL, seq int NOT NULL, type text NOT NULL, data jsonb,
  PRIMARY KEY (run_id, seq))`;

/** Tells its Postgres backends apart from the bench's others. */
export const FLOOR_APPLICATION = 'troupe-bench-floor';

const EVENTS = ['RUN_STARTED', 'TASK_STARTED', 'TOKEN', 'TASK_COMPLETED', 'USAGE', 'RUN_SUCCEEDED'];

async function server(env: NodeJS.ProcessEnv) {
  const pool = new pg.Pool({
    connectionString: env.DATABASE_URL,
    max: 10,
    application_name: FLOOR_APPLICATION,
  });
  const queue = new Queue('floor', {
    connection: new Redis(env.REDIS_URL!, { maxRetriesPerRequest: null }),
    prefix: env.TROUPE_QUEUE_PREFIX,
  });
  const app = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', async () => {
      const { variables } = JSON.parse(body) as { variables: { input: { inputs: unknown } } };
      const id = randomUUID();
      await pool.query({
        name: 'insert',
        text: `INSERT INTO floor_run (id, status, inputs) VALUES ($1, 'QUEUED', $2)`,
        values: [id, JSON.stringify(variables.input.inputs)],
      });
      await queue.add('run', { id }, { jobId: id, removeOnComplete: true });
      const out = JSON.stringify({ data: { startRun: { run: { id, status: 'QUEUED' } } } });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(out) });
      res.end(out);
    });
  });
  app.listen(0, '127.0.0.1', () => {
    const { port } = app.address() as { port: number };
    console.log(`floor server http://127.0.0.1:${port}`);
  });
}

async function worker(env: NodeJS.ProcessEnv) {
  const pool = new pg.Pool({
    connectionString: env.DATABASE_URL,
    max: 10,
    application_name: FLOOR_APPLICATION,
  });
  const publisher = new Redis(env.REDIS_URL!, { enableAutoPipelining: true });
  const w = new Worker<{ id: string }>(
    'floor',
    async (job) => {
      const { id } = job.data;
      await pool.query({
        name: 'claim',
        text: `UPDATE floor_run SET status = 'RUNNING' WHERE id = $1 RETURNING inputs`,
        values: [id],
      });
      const events = EVENTS.map((type, i) => ({ seq: i + 1, type, at: new Date().toISOString(), data: {} }));
      await pool.query({
        name: 'finish',
        text: `WITH e AS (INSERT INTO floor_event (run_id, seq, type, data)
                 SELECT $1, (x->>'seq')::int, x->>'type', x->'data' FROM jsonb_array_elements($2::jsonb) x)
               UPDATE floor_run SET status = 'SUCCEEDED', output = 'ok' WHERE id = $1`,
        values: [id, JSON.stringify(events)],
      });
      await publisher.publish(`floor:${id}`, JSON.stringify(events));
    },
    {
      connection: new Redis(env.REDIS_URL!, { maxRetriesPerRequest: null }),
      prefix: env.TROUPE_QUEUE_PREFIX,
      // Troupe's default worker concurrency (TROUPE_WORKER_CONCURRENCY), which the bench's worker runs with.
      concurrency: 32,
    },
  );
  await w.waitUntilReady();
  console.log('floor worker ready');
}

const role = process.argv[2];
if (role === 'server') await server(process.env);
else if (role === 'worker') await worker(process.env);
