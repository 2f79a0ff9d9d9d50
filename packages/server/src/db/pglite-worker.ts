// Worker-thread entry (troupe dev): boots PGlite, applies migrations, and serves it over the
// Postgres protocol on a private Unix socket. PGlite's boot (≈1 s of WebAssembly) then runs on
// its own core while the main thread loads the GraphQL stack.
//
// Creating the database (initdb) and migrating it happen in a nested, short-lived thread of this
// same file ('setup'): initdb boots a second PostgreSQL and the migration engine is another large
// WebAssembly module, and a WebAssembly heap never shrinks. Done here, they would stay in the
// process for its whole life (about 800 MB on a first start instead of about 330 MB).
import { existsSync } from 'node:fs';
import type { Server, Socket } from 'node:net';
import path from 'node:path';
import { parentPort, Worker, workerData } from 'node:worker_threads';
import { applyMigrations, pendingMigrations } from './migrate.js';
import { openPGlite } from './pglite.js';

export interface PGliteWorkerInit {
  dataDir: string;
  socketDir: string;
  migrate: boolean;
  /** Set on the nested thread that creates and migrates the database, then exits. */
  setup?: boolean;
}

export type PGliteWorkerMessage =
  | { type: 'ready'; applied: string[] }
  | { type: 'error'; message: string; migration?: string }
  | { type: 'closed' };

/** Corks the socket at its first write and uncorks it after a ReadyForQuery (or at the next turn). */
function coalesceWrites(socket: Socket): void {
  const write = socket.write.bind(socket) as (...args: unknown[]) => boolean;
  let corked = false;
  const flush = () => {
    if (!corked) return;
    corked = false;
    socket.uncork();
  };
  socket.write = ((chunk: unknown, ...rest: unknown[]) => {
    if (!corked) {
      corked = true;
      socket.cork();
      setImmediate(flush);
    }
    const ok = write(chunk, ...rest);
    if (endsWithReadyForQuery(chunk)) flush();
    return ok;
  }) as typeof socket.write;
}

/** 'Z', length 5, transaction status: the last message of every answer. */
function endsWithReadyForQuery(chunk: unknown): boolean {
  if (!(chunk instanceof Uint8Array) || chunk.length < 6) return false;
  const n = chunk.length;
  return (
    chunk[n - 6] === 0x5a &&
    chunk[n - 5] === 0 &&
    chunk[n - 4] === 0 &&
    chunk[n - 3] === 0 &&
    chunk[n - 2] === 5
  );
}

const init = workerData as PGliteWorkerInit;
const port = parentPort!;

/** Creates (initdb) and migrates the database in a nested thread whose memory goes when it exits. */
function setUpInThread(): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const setup = new Worker(new URL(import.meta.url), {
      workerData: { ...init, setup: true } satisfies PGliteWorkerInit,
    });
    let answered = false;
    setup.once('message', (m: PGliteWorkerMessage) => {
      answered = true;
      // Its heaps go with it once it has stopped.
      const done = setup.terminate();
      if (m.type === 'ready') void done.then(() => resolve(m.applied), reject);
      else if (m.type === 'error')
        void done.then(() => reject(Object.assign(new Error(m.message), { migration: m.migration })), reject);
    });
    setup.once('error', reject);
    setup.once('exit', (code) => {
      if (!answered) reject(new Error(`the database setup thread exited with code ${code}`));
    });
  });
}

async function setUp(): Promise<string[]> {
  const db = await openPGlite({ dataDir: init.dataDir });
  try {
    return init.migrate ? (await applyMigrations({ kind: 'pglite', db })).applied : [];
  } finally {
    await db.close();
  }
}

/** Opens the database for serving, creating and migrating it first (in a nested thread) if needed. */
async function openMigrated(): Promise<{ db: Awaited<ReturnType<typeof openPGlite>>; applied: string[] }> {
  const fresh = !existsSync(path.join(init.dataDir, 'pgdata', 'PG_VERSION'));
  if (!fresh) {
    const db = await openPGlite({ dataDir: init.dataDir });
    // The common case, nothing pending, costs one query.
    if (!init.migrate || (await pendingMigrations({ kind: 'pglite', db })).length === 0)
      return { db, applied: [] };
    await db.close();
  }
  const applied = await setUpInThread();
  return { db: await openPGlite({ dataDir: init.dataDir }), applied };
}

/** Serves the database on the socket until the host says close. */
async function serve(): Promise<void> {
  const { db, applied } = await openMigrated();
  const { PGLiteSocketServer } = await import('@electric-sql/pglite-socket');
  // One connection: PGlite has one session, and the app role is set per session.
  const server = new PGLiteSocketServer({ db, path: `${init.socketDir}/.s.PGSQL.5432`, maxConnections: 1 });
  await server.start();
  // The socket server answers each protocol message with its own write (an extended-protocol query
  // is five: parse, bind, describe, execute, sync): each connection's writes are corked until the
  // answer's ReadyForQuery, so that one round trip costs one write (a syscall) instead of five.
  (server as unknown as { server: Server }).server.on('connection', coalesceWrites);
  port.postMessage({ type: 'ready', applied } satisfies PGliteWorkerMessage);
  port.on('message', async (m: { type?: string }) => {
    if (m?.type !== 'close') return;
    await server.stop().catch(() => {});
    await db.close().catch(() => {});
    port.postMessage({ type: 'closed' } satisfies PGliteWorkerMessage);
  });
}

try {
  if (init.setup) port.postMessage({ type: 'ready', applied: await setUp() } satisfies PGliteWorkerMessage);
  else await serve();
} catch (err) {
  const e = err as Error & { migration?: string };
  port.postMessage({
    type: 'error',
    message: e.message,
    ...(e.migration ? { migration: e.migration } : {}),
  } satisfies PGliteWorkerMessage);
}
