import {
  closeSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import path from 'node:path';

/** Another live troupe process holds the data folder. */
export class DataDirLockedError extends Error {
  override name = 'DataDirLockedError';
}

/**
 * When the process started (Linux: clock ticks since boot, /proc/<pid>/stat's 22nd field), or
 * undefined where that cannot be read. With the pid it names one process: a pid the system has
 * given to another process since (after a crash, a container's restart) has another start time.
 */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may hold spaces and parentheses itself.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

interface Holder {
  pid: number;
  /** Absent in lock files of older versions, and where /proc is not there. */
  start?: string;
}

const holderLine = (pid: number) => {
  const start = processStartTime(pid);
  return start === undefined ? String(pid) : `${pid} ${start}`;
};

function parseHolders(text: string): Holder[] {
  const holders: Holder[] = [];
  for (const line of text.split('\n')) {
    const [pid, start] = line.trim().split(/\s+/);
    const n = Number.parseInt(pid ?? '', 10);
    if (Number.isFinite(n) && n > 0) holders.push(start ? { pid: n, start } : { pid: n });
  }
  return holders;
}

function alive(h: Holder): boolean {
  try {
    process.kill(h.pid, 0);
  } catch (err) {
    // EPERM: a process of another user has the pid; it holds the lock only if it is the same one.
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  if (h.start === undefined) return true;
  const now = processStartTime(h.pid);
  return now === undefined || now === h.start;
}

const lockFile = (dataDir: string) => path.join(dataDir, 'troupe.lock');
/** Held for the moment it takes to replace a stale lock, so that two processes never both do. */
const takeoverFile = (dataDir: string) => path.join(dataDir, 'troupe.lock.takeover');

const pause = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

/** Creates `file` with `content` unless it exists (atomically); false if it exists. */
function createExclusive(file: string, content: string): boolean {
  let fd: number;
  try {
    fd = openSync(file, 'wx');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
  try {
    writeSync(fd, content);
  } finally {
    closeSync(fd);
  }
  return true;
}

const readHolders = (file: string) => {
  try {
    return parseHolders(readFileSync(file, 'utf8'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
};

const lockedError = (dataDir: string, pid: number) =>
  new DataDirLockedError(
    `The data folder ${dataDir} is in use by another troupe process (pid ${pid}). ` +
      'Stop that process, or start this one with another --data-dir.',
  );

/**
 * An exclusive lock on a data folder: PGlite has none of its own, and two processes opening one
 * data folder corrupt it. The lock file lists the processes that hold it (pid and start time: the
 * server, and the process creating its database on a first start, see addLockHolder); a lock none
 * of them is alive to hold any more is taken over, by one process only however many try at once.
 */
export function lockDataDir(dataDir: string): () => void {
  mkdirSync(dataDir, { recursive: true });
  const file = lockFile(dataDir);
  const me = holderLine(process.pid);
  let released = false;
  const unlock = () => {
    if (released) return;
    released = true;
    // Only our own lock: one taken over from us (we were thought dead) is not ours to remove.
    if (readHolders(file)?.[0]?.pid === process.pid) rmSync(file, { force: true });
  };
  for (let attempt = 0; attempt < 200; attempt++) {
    if (createExclusive(file, me)) return unlock;
    const holders = readHolders(file);
    if (holders === undefined) continue; // released meanwhile
    const live = holders.find((h) => h.pid !== process.pid && alive(h));
    if (live) throw lockedError(dataDir, live.pid);
    // Stale: its processes are gone. Replaced under the takeover file, by one process at a time.
    const guard = takeoverFile(dataDir);
    if (!createExclusive(guard, me)) {
      const taker = readHolders(guard);
      // A process that died while taking over (a moment's work) leaves the file behind.
      if (taker !== undefined && !taker.some(alive)) rmSync(guard, { force: true });
      else pause(5);
      continue;
    }
    try {
      // Still the stale lock we judged (not one a faster process has taken meanwhile)?
      const now = readHolders(file);
      const liveNow = now?.find((h) => h.pid !== process.pid && alive(h));
      if (liveNow) throw lockedError(dataDir, liveNow.pid);
      if (now !== undefined) {
        const mine = `${file}.${process.pid}`;
        writeFileSync(mine, me);
        renameSync(mine, file);
        return unlock;
      }
    } finally {
      rmSync(guard, { force: true });
    }
  }
  throw new Error(`could not lock ${dataDir}`);
}

/**
 * Adds a process to the holders of the data folder's lock: the lock stays held while it lives, even
 * if the process that took the lock is gone.
 */
export function addLockHolder(dataDir: string, pid: number): void {
  rewriteHolders(dataDir, (holders) => [...holders, holderLine(pid)]);
}

/** Takes a process that has ended off the holders (it would otherwise hold the lock if its pid came back). */
export function removeLockHolder(dataDir: string, pid: number): void {
  rewriteHolders(dataDir, (holders) => holders.filter((line) => Number.parseInt(line, 10) !== pid));
}

/** Replaces the lock file's lines at once (a reader never sees half a file). */
function rewriteHolders(dataDir: string, change: (lines: string[]) => string[]): void {
  const file = lockFile(dataDir);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  const mine = `${file}.${process.pid}`;
  writeFileSync(mine, change(text.split('\n').filter((l) => l.trim())).join('\n'));
  renameSync(mine, file);
}
