import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { MigrationError } from './migration-error.js';
import type { PGliteWorkerInit, PGliteWorkerMessage } from './pglite-worker.js';

/** The embedded database could not be created, opened or served (a failed migration is a MigrationError). */
export class EmbeddedDatabaseError extends Error {
  override name = 'EmbeddedDatabaseError';
}

/**
 * The PGlite thread's JavaScript is glue around WebAssembly (protocol messages in and out): V8 grew
 * its young generation to ~15 MB under load all the same. Capped at 6 MB, `troupe dev` was 11-13 MB
 * smaller after 2,000 runs (274-277 MB instead of 287-288) at the same runs/s (A/B, 3 pairs: 116 vs
 * 112 on average) and tokens/s. A --max-semi-space-size in node's flags (process-wide) wins over
 * this cap: the 2 MB `troupe dev` relaunches with (relaunch.ts) keeps the thread under it, 4 MB
 * let it grow to ~13 MB.
 */
const PGLITE_THREAD_YOUNG_GENERATION_MB = 6;

/** PGlite running in a worker thread, reachable over a Unix socket only this user can open. */
export interface PGliteWorkerHost {
  /** Folder of the Unix socket (.s.PGSQL.5432) PGlite will listen on. */
  socketDir: string;
  /** Resolves once PGlite is up and migrated. */
  ready: Promise<{ socketDir: string; applied: string[] }>;
  close(): Promise<void>;
}

export function startPGliteWorker(opts: {
  dataDir: string;
  migrate: boolean;
  workerUrl: URL;
  /**
   * The thread ended (an uncaught error, out of memory) after it was serving, other than by
   * close(): the database is gone, and nothing this process does will work again.
   */
  onStopped?: (err: Error) => void;
}): PGliteWorkerHost {
  // mkdtemp makes a 0700 folder: the socket (a superuser session) is reachable by this user only.
  const socketDir = mkdtempSync(path.join(tmpdir(), 'troupe-pg-'));
  // However the process ends (a forced exit, a failed start), the socket folder goes with it.
  const removeSocketDir = () => rmSync(socketDir, { recursive: true, force: true });
  process.once('exit', removeSocketDir);
  const worker = new Worker(opts.workerUrl, {
    workerData: { dataDir: opts.dataDir, socketDir, migrate: opts.migrate } satisfies PGliteWorkerInit,
    resourceLimits: { maxYoungGenerationSizeMb: PGLITE_THREAD_YOUNG_GENERATION_MB },
  });
  const ready = new Promise<{ socketDir: string; applied: string[] }>((resolve, reject) => {
    worker.once('error', reject);
    // A thread that ends without a word (process.exit in it, a native crash) must not leave the
    // start waiting for ever.
    worker.once('exit', (code) =>
      reject(
        new EmbeddedDatabaseError(`the embedded database's thread ended during start (exit code ${code})`),
      ),
    );
    worker.once('message', (m: PGliteWorkerMessage) => {
      if (m.type === 'ready') resolve({ socketDir, applied: m.applied });
      else if (m.type === 'error')
        reject(
          m.migration
            ? new MigrationError(m.message, m.migration)
            : new EmbeddedDatabaseError(
                `the embedded database in ${opts.dataDir} could not start: ${m.message}`,
              ),
        );
    });
  });
  // A worker that failed to start serves nothing: there is nothing to close gracefully.
  let serving = false;
  let exited = false;
  worker.once('exit', () => (exited = true));
  let closed: Promise<void> | undefined;
  ready.then(
    () => {
      serving = true;
      let told = false;
      const stopped = (err: Error) => {
        if (closed || told) return;
        told = true;
        opts.onStopped?.(err);
      };
      worker.on('error', (err) => stopped(err));
      worker.on('exit', (code) => stopped(new Error(`its thread ended (exit code ${code})`)));
    },
    () => {},
  );
  return {
    socketDir,
    ready,
    close() {
      closed ??= (async () => {
        if (serving && !exited)
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, 5000);
            worker.once('exit', () => {
              clearTimeout(timer);
              resolve();
            });
            worker.on('message', (m: PGliteWorkerMessage) => {
              if (m.type === 'closed') {
                clearTimeout(timer);
                resolve();
              }
            });
            worker.postMessage({ type: 'close' });
          });
        await worker.terminate();
        process.off('exit', removeSocketDir);
        removeSocketDir();
      })();
      return closed;
    },
  };
}
