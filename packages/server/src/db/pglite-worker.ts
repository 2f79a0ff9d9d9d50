// Worker-thread entry (troupe dev): boots PGlite, applies migrations, and serves it over the
// Postgres protocol on a private Unix socket. PGlite's boot (≈1 s of WebAssembly) then runs on
// its own core while the main thread loads the GraphQL stack.
import type { Server, Socket } from 'node:net';
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

try {
  const db = await openPGlite({ dataDir: init.dataDir });
  const migrations = init.migrate ? await applyMigrations({ kind: 'pglite', db }) : { applied: [] };
  const { PGLiteSocketServer } = await import('@electric-sql/pglite-socket');
  // One connection: PGlite has one session, and the app role is set per session.
  const server = new PGLiteSocketServer({ db, path: `${init.socketDir}/.s.PGSQL.5432`, maxConnections: 1 });
  await server.start();
  // The socket server answers each protocol message with its own write (an extended-protocol query
  // is five: parse, bind, describe, execute, sync): each connection's writes are corked until the
  // answer's ReadyForQuery, so that one round trip costs one write (a syscall) instead of five.
  (server as unknown as { server: Server }).server.on('connection', coalesceWrites);
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
