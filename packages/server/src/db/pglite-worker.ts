// Worker-thread entry (troupe dev): boots PGlite, applies migrations, and serves it over the
// Postgres protocol on a private Unix socket. PGlite's boot (≈1 s of WebAssembly) then runs on
// its own core while the main thread loads the GraphQL stack.
//
// Creating the database (initdb) and migrating it happen in a short-lived child process running
// this same file ('setup'): initdb boots a second PostgreSQL and the migration engine is another
// large WebAssembly module, and a WebAssembly heap never shrinks. Done here, they would stay in the
// process for its whole life (about 800 MB on a first start). A nested thread, as it was, gave its
// heaps back when it ended, but not what it had taken from malloc: compiling those modules left
// ~80 MB of freed memory in glibc's arenas that the process kept for good (first start 408 MB,
// second 333 MB). A process gives everything back.
import { fork } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parentPort, workerData } from 'node:worker_threads';
import { addLockHolder, removeLockHolder } from './data-dir-lock.js';
import { applyMigrations, pendingMigrations } from './migrate.js';
import { openPGlite } from './pglite.js';
import { PGliteSessionServer } from './pglite-session-server.js';

export interface PGliteWorkerInit {
  dataDir: string;
  socketDir: string;
  migrate: boolean;
  /** Set in the child process that creates and migrates the database, then exits. */
  setup?: boolean;
}

export type PGliteWorkerMessage =
  | { type: 'ready'; applied: string[] }
  | { type: 'error'; message: string; migration?: string }
  | { type: 'closed' };

/** The setup child process finds its PGliteWorkerInit (JSON) here. */
const SETUP_ENV = 'TROUPE_PGLITE_SETUP';
const setupChild = !parentPort && typeof process.send === 'function' && !!process.env[SETUP_ENV];
const init: PGliteWorkerInit = setupChild ? JSON.parse(process.env[SETUP_ENV]!) : workerData;

/** Creates (initdb) and migrates the database in a child process, whose memory goes when it exits. */
function setUpInProcess(): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const child = fork(fileURLToPath(import.meta.url), [], {
      env: {
        ...process.env,
        [SETUP_ENV]: JSON.stringify({ ...init, setup: true } satisfies PGliteWorkerInit),
      },
      // Node's flags, but not a debugger's port: the server has it.
      execArgv: process.execArgv.filter((f) => !/^--inspect/.test(f)),
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      serialization: 'json',
    });
    // The lock covers it: should the server die, it finishes the database before it exits, and
    // no other troupe process may open the folder meanwhile.
    if (child.pid !== undefined) addLockHolder(init.dataDir, child.pid);
    let answer: PGliteWorkerMessage | undefined;
    child.on('message', (m: PGliteWorkerMessage) => {
      answer = m;
    });
    child.once('error', reject);
    // Answered once it has exited, so that its PGlite has let go of the data folder.
    child.once('exit', (code, signal) => {
      // Gone: its pid, should the system give it to another process, holds nothing. (Its start
      // time is in the lock too: a lock file left as it was still works.)
      try {
        if (child.pid !== undefined) removeLockHolder(init.dataDir, child.pid);
      } catch {}
      if (answer?.type === 'ready') resolve(answer.applied);
      else if (answer?.type === 'error')
        reject(
          Object.assign(new Error(answer.message), answer.migration ? { migration: answer.migration } : {}),
        );
      else
        reject(
          new Error(`the database setup process exited (${signal ?? `code ${code}`}) before it finished`),
        );
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

/** Opens the database for serving, creating and migrating it first (in a child process) if needed. */
async function openMigrated(): Promise<{ db: Awaited<ReturnType<typeof openPGlite>>; applied: string[] }> {
  const fresh = !existsSync(path.join(init.dataDir, 'pgdata', 'PG_VERSION'));
  if (!fresh) {
    const db = await openPGlite({ dataDir: init.dataDir });
    // The common case, nothing pending, costs one query.
    if (!init.migrate || (await pendingMigrations({ kind: 'pglite', db })).length === 0)
      return { db, applied: [] };
    await db.close();
  }
  const applied = await setUpInProcess();
  return { db: await openPGlite({ dataDir: init.dataDir }), applied };
}

/** Serves the database on the socket until the host says close. */
async function serve(): Promise<void> {
  const { db, applied } = await openMigrated();
  // PGlite has one session: the server's connections take turns, a transaction at a time.
  const server = new PGliteSessionServer({ db, path: `${init.socketDir}/.s.PGSQL.5432` });
  await server.start();
  const port = parentPort!;
  port.postMessage({ type: 'ready', applied } satisfies PGliteWorkerMessage);
  port.on('message', async (m: { type?: string }) => {
    if (m?.type !== 'close') return;
    await server.stop().catch(() => {});
    await db.close().catch(() => {});
    port.postMessage({ type: 'closed' } satisfies PGliteWorkerMessage);
  });
}

/** Sends the setup's answer to the server, then exits. */
function answer(m: PGliteWorkerMessage): void {
  if (!setupChild) return void parentPort!.postMessage(m);
  // The server may be gone (its IPC channel with it): the setup is done all the same.
  if (process.connected) process.send!(m, () => process.exit(0));
  else process.exit(0);
}

/** A readable message from whatever PGlite threw: not always an Error (initdb's exit is an object). */
function describe(err: unknown): string {
  if (err instanceof Error && err.message) return err.message;
  const o = err as { message?: unknown; name?: unknown; errno?: unknown } | undefined;
  if (o && typeof o.message === 'string' && o.message) return o.message;
  if (o?.name === 'ErrnoError' && typeof o.errno === 'number')
    return `file system error in the data folder: ${EMSCRIPTEN_ERRNO[o.errno] ?? `errno ${o.errno}`}`;
  try {
    const json = JSON.stringify(err);
    if (json && json !== '{}') return json;
  } catch {}
  return String(err);
}

/** The codes of PGlite's (Emscripten's) file system errors that a data folder can run into. */
const EMSCRIPTEN_ERRNO: Record<number, string> = {
  2: 'permission denied (EACCES)',
  20: 'file exists (EEXIST)',
  31: 'is a directory (EISDIR)',
  44: 'no such file or directory (ENOENT)',
  51: 'no space left on device (ENOSPC)',
  54: 'not a directory (ENOTDIR)',
  55: 'directory not empty (ENOTEMPTY)',
  63: 'operation not permitted (EPERM)',
  69: 'read-only file system (EROFS)',
};

try {
  if (init.setup) answer({ type: 'ready', applied: await setUp() });
  else await serve();
} catch (err) {
  const e = err as Error & { migration?: string };
  // PGlite's own failures are not always Errors with a message (initdb exiting, for one).
  const message = describe(err);
  answer({ type: 'error', message, ...(e?.migration ? { migration: e.migration } : {}) });
}
