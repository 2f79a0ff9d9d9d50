import { appendFileSync, closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import path from 'node:path';

/** Another live troupe process holds the data folder. */
export class DataDirLockedError extends Error {
  override name = 'DataDirLockedError';
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const lockFile = (dataDir: string) => path.join(dataDir, 'troupe.lock');

/**
 * An exclusive lock on a data folder: PGlite has none of its own, and two processes opening one
 * data folder corrupt it. The lock file lists the processes that hold it (the server, and the
 * process creating its database on a first start, see addLockHolder); a lock none of them is alive
 * to hold any more is taken over.
 */
export function lockDataDir(dataDir: string): () => void {
  mkdirSync(dataDir, { recursive: true });
  const file = lockFile(dataDir);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(file, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      let released = false;
      return () => {
        if (released) return;
        released = true;
        rmSync(file, { force: true });
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const pid = readFileSync(file, 'utf8')
        .split('\n')
        .map((line) => Number.parseInt(line, 10))
        .find((p) => Number.isFinite(p) && p !== process.pid && alive(p));
      if (pid !== undefined) {
        throw new DataDirLockedError(
          `The data folder ${dataDir} is in use by another troupe process (pid ${pid}). ` +
            'Stop that process, or start this one with another --data-dir.',
        );
      }
      rmSync(file, { force: true }); // stale: its process is gone
    }
  }
  throw new Error(`could not lock ${dataDir}`);
}

/**
 * Adds a process to the holders of the data folder's lock: the lock stays held while it lives, even
 * if the process that took the lock is gone.
 */
export function addLockHolder(dataDir: string, pid: number): void {
  appendFileSync(lockFile(dataDir), `\n${pid}`);
}
