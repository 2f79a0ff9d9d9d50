import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import pg from 'pg';
import { inject } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { type Database, openDatabase } from '../../src/db/database.js';
import { createRedisEventBus } from '../../src/events/redis-event-bus.js';
import { startRunWorker } from '../../src/runs/run-worker.js';
import { startServer, type TroupeServer } from '../../src/server.js';

/** Which database the suite runs on: TROUPE_TEST_BACKEND=pglite (default) or postgres. */
export const BACKEND = (process.env.TROUPE_TEST_BACKEND ?? 'pglite') as 'pglite' | 'postgres';
/**
 * Where runs execute: in the server's process (default), or on a BullMQ worker fed through Redis
 * (TROUPE_TEST_EXECUTION=workers, Postgres only): the run contract suite runs both ways.
 */
export const EXECUTION = (process.env.TROUPE_TEST_EXECUTION ?? 'in-process') as 'in-process' | 'workers';
export const REDIS_URL = process.env.TROUPE_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
export const PG_BASE_URL = process.env.TROUPE_TEST_PG_URL ?? 'postgresql://postgres@127.0.0.1:5432/test';

export function withDatabaseName(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

export async function pgAdmin<T>(fn: (c: pg.Client) => Promise<T>, url = PG_BASE_URL): Promise<T> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

export interface TestDatabase {
  database: Database;
  /** Postgres only: the superuser URL of this test's own database. */
  url?: string;
  close(): Promise<void>;
}

/** A fresh, migrated database of the suite's backend; close() drops it. */
export async function createTestDatabase(
  opts: { onQuery?: import('../../src/db/database.js').DatabaseOptions['onQuery'] } = {},
): Promise<TestDatabase> {
  if (BACKEND === 'postgres') {
    const name = `troupe_t_${randomBytes(5).toString('hex')}`;
    await pgAdmin((c) => c.query(`CREATE DATABASE "${name}"`));
    const url = withDatabaseName(PG_BASE_URL, name);
    const database = await openDatabase({ databaseUrl: url, onQuery: opts.onQuery, poolSize: 5 }).catch(
      async (err) => {
        await pgAdmin((c) => c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`));
        throw err;
      },
    );
    return {
      database,
      url,
      async close() {
        await database.close();
        await pgAdmin((c) => c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`));
      },
    };
  }
  const snapshot = new Blob([readFileSync(inject('pgliteSnapshot'))]);
  const database = await openDatabase({ snapshot, onQuery: opts.onQuery });
  return { database, close: () => database.close() };
}

export const ADMIN_KEY = `trpa_${randomBytes(24).toString('hex')}`;
export const SECRET = randomBytes(32).toString('hex');

export interface TestServer extends TroupeServer {
  admin: string;
  /** Postgres only: the superuser URL of the server's database. */
  databaseUrl?: string;
  closeAll(): Promise<void>;
}

/**
 * One more server instance (embedded mode, no background work) on a database the test shares
 * between several: each instance gets the options given (its own event bus, say), as separate
 * processes would.
 */
export function startInstance(
  database: Database,
  dataDir: string,
  opts: Omit<import('../../src/server.js').StartServerOptions, 'database'>,
): Promise<TroupeServer> {
  const { config } = loadConfig(
    'embedded',
    { port: 0, host: '127.0.0.1', dataDir },
    { TROUPE_ADMIN_KEY: ADMIN_KEY, TROUPE_SECRET: SECRET },
  );
  return startServer(config, { webhooks: false, documents: false, recoverRuns: false, ...opts, database });
}

/** A real HTTP server on port 0 over a fresh test database. */
export async function startTestServer(
  opts: {
    providers?: import('@troupe/agents').ProviderSettings;
    onQuery?: import('../../src/db/database.js').DatabaseOptions['onQuery'];
    production?: boolean;
    /** No background database work (webhook delivery loop, resuming runs): for statement counting. */
    quiet?: boolean;
    /** More environment for the server's configuration (e.g. TROUPE_EMBEDDINGS). */
    env?: Record<string, string>;
    /** The document processing loop's settings (or false: none). */
    documents?: import('../../src/server.js').StartServerOptions['documents'];
    /** The API key cache's settings (e.g. a long TTL, so that statement counts do not depend on timing). */
    authCache?: import('../../src/server.js').StartServerOptions['authCache'];
    /** Live events on this bus (a Redis one, say) instead of the in-process one. */
    bus?: import('../../src/server.js').StartServerOptions['bus'];
    /** The database as the server sees it: the test's, wrapped (to inject failures, say). */
    wrapDatabase?: (database: Database) => Database;
    /** How a failed execution is tried again (in-process executor). */
    executionRetry?: import('../../src/server.js').StartServerOptions['executionRetry'];
    /** Runs executed at once: the server's (in-process) or the worker's. Default: the server's default; the worker's 8. */
    concurrency?: number;
  } = {},
): Promise<TestServer> {
  const tdb = await createTestDatabase(opts);
  const dataDir = mkdtempSync(path.join(tmpdir(), 'troupe-srv-'));
  const env = {
    TROUPE_ADMIN_KEY: ADMIN_KEY,
    TROUPE_SECRET: SECRET,
    ...(opts.production ? { NODE_ENV: 'production' } : {}),
    ...opts.env,
    ...(opts.concurrency && EXECUTION === 'in-process'
      ? { TROUPE_WORKER_CONCURRENCY: String(opts.concurrency) }
      : {}),
  };
  if (EXECUTION === 'workers')
    return startWithWorker(tdb, dataDir, env, opts.providers, opts.authCache, opts.concurrency);
  const { config } = loadConfig('embedded', { port: 0, host: '127.0.0.1', dataDir }, env);
  const server = await startServer(config, {
    database: opts.wrapDatabase ? opts.wrapDatabase(tdb.database) : tdb.database,
    ...(opts.bus ? { bus: opts.bus } : {}),
    ...(opts.executionRetry ? { executionRetry: opts.executionRetry } : {}),
    ...(opts.providers ? { providers: opts.providers } : {}),
    ...(opts.quiet ? { webhooks: false, recoverRuns: false, documents: false } : {}),
    ...(opts.documents !== undefined ? { documents: opts.documents } : {}),
    ...(opts.authCache ? { authCache: opts.authCache } : {}),
  });
  return {
    ...server,
    admin: ADMIN_KEY,
    databaseUrl: tdb.url,
    async closeAll() {
      await server.close();
      await tdb.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** `troupe serve` with REDIS_URL (it only queues runs) and one `troupe worker`, on their own queue. */
async function startWithWorker(
  tdb: TestDatabase,
  dataDir: string,
  env: Record<string, string>,
  providers: import('@troupe/agents').ProviderSettings | undefined,
  authCache: import('../../src/server.js').StartServerOptions['authCache'],
  concurrency = 8,
): Promise<TestServer> {
  if (BACKEND !== 'postgres')
    throw new Error('TROUPE_TEST_EXECUTION=workers needs TROUPE_TEST_BACKEND=postgres');
  const prefix = `troupe-test-${randomBytes(5).toString('hex')}`;
  const { config } = loadConfig(
    'serve',
    { port: 0, host: '127.0.0.1', dataDir, migrate: false },
    { ...env, DATABASE_URL: tdb.url!, REDIS_URL, TROUPE_QUEUE_PREFIX: prefix },
  );
  const server = await startServer(config, { database: tdb.database, ...(authCache ? { authCache } : {}) });
  const workerBus = await createRedisEventBus({ url: REDIS_URL, prefix: `${prefix}:` });
  const worker = await startRunWorker({
    database: tdb.database,
    bus: workerBus,
    redisUrl: REDIS_URL,
    prefix,
    concurrency,
    graceMs: 500,
    ...(providers ? { providers } : {}),
  });
  return {
    ...server,
    admin: ADMIN_KEY,
    databaseUrl: tdb.url,
    async closeAll() {
      await worker.close();
      await server.close();
      await workerBus.close();
      await dropRunQueue(prefix);
      await tdb.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Removes a test's run queue: its jobs (obliterate), then whatever else its prefix holds (the ranks). */
export async function dropRunQueue(prefix: string): Promise<void> {
  const queue = new Queue('runs', { connection: { url: REDIS_URL }, prefix });
  await queue.obliterate({ force: true }).catch(() => {});
  await queue.close();
  await deleteRedisKeys(prefix);
}

/** Deletes every key under `<prefix>:` (a Redis that is gone has nothing left to delete). */
export async function deleteRedisKeys(prefix: string, url = REDIS_URL): Promise<void> {
  const redis = new Redis(url, { maxRetriesPerRequest: 1, lazyConnect: true });
  redis.on('error', () => {});
  try {
    await redis.connect();
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 500);
      cursor = next;
      if (keys.length) await redis.del(...keys);
    } while (cursor !== '0');
  } catch {
    // Nothing to reach, nothing left.
  } finally {
    redis.disconnect();
  }
}
