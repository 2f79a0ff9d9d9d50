// Worker-thread entry (troupe dev): boots PGlite, applies migrations, and serves it over the
// Postgres protocol on a private Unix socket. PGlite's boot (≈1 s of WebAssembly) then runs on
// its own core while the main thread loads the GraphQL stack.
import { parentPort, workerData } from 'node:worker_threads';
import { applyMigrations } from './migrate.js';
import { openPGlite } from './pglite.js';

export interface PGliteWorkerInit {
  dataDir: string;
  socketDir: string;
  migrate: boolean;
}

export type PGliteWorkerMessage =
  | { type: 'ready'; applied: string[] }
  | { type: 'error'; message: string; migration?: string }
  | { type: 'closed' };

const init = workerData as PGliteWorkerInit;
const port = parentPort!;

try {
  const db = await openPGlite({ dataDir: init.dataDir });
  const migrations = init.migrate ? await applyMigrations({ kind: 'pglite', db }) : { applied: [] };
  const { PGLiteSocketServer } = await import('@electric-sql/pglite-socket');
  // One connection: PGlite has one session, and the app role is set per session.
  const server = new PGLiteSocketServer({ db, path: `${init.socketDir}/.s.PGSQL.5432`, maxConnections: 1 });
  await server.start();
  port.postMessage({ type: 'ready', applied: migrations.applied } satisfies PGliteWorkerMessage);
  port.on('message', async (m: { type?: string }) => {
    if (m?.type !== 'close') return;
    await server.stop().catch(() => {});
    await db.close().catch(() => {});
    port.postMessage({ type: 'closed' } satisfies PGliteWorkerMessage);
  });
} catch (err) {
  const e = err as Error & { migration?: string };
  port.postMessage({
    type: 'error',
    message: e.message,
    ...(e.migration ? { migration: e.migration } : {}),
  } satisfies PGliteWorkerMessage);
}
