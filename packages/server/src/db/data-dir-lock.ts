import {
  linkSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  unlinkSync,
  writeFileSync,
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
  return processStat(pid)?.start;
}

/** The process's state letter and start time from /proc/<pid>/stat (Linux), or undefined. */
function processStat(pid: number): { state: string; start: string } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may hold spaces and parentheses itself.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { state: fields[0] ?? '', start: fields[19] ?? '' };
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
  const now = processStat(h.pid);
  if (now === undefined) return true; // no /proc (macOS): the pid's word
  if (now.state === 'Z' || now.state === 'X') return false; // exited, not yet reaped
  return h.start === undefined || now.start === h.start;
}

const lockFile = (dataDir: string) => path.join(dataDir, 'troupe.lock');
/** Held for the moment it takes to replace a stale lock, so that two processes never both do. */
const takeoverFile = (dataDir: string) => path.join(dataDir, 'troupe.lock.takeover');

const pause = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

/**
 * Creates `file` with `content` unless it exists; false if it exists. Atomic, and never seen empty:
 * the content is written to a file of this process's own, then linked in under the name.
 */
function createExclusive(file: string, content: string): boolean {
  const mine = `${file}.${process.pid}.new`;
  writeFileSync(mine, content);
  try {
    linkSync(mine, file);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  } finally {
    unlinkSync(mine);
  }
}

/** A lock or takeover file that names no holder: left by a crash while it was written, if old. */
const STALE_UNNAMED_MS = 10_000;
const ageMs = (file: string) => {
  try {
    return Date.now() - statSync(file).mtimeMs;
  } catch {
    return 0;
  }
};

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
  for (let attempt = 0; attempt < 400; attempt++) {
    if (createExclusive(file, me)) return unlock;
    const holders = readHolders(file);
    if (holders === undefined) continue; // released meanwhile
    const live = holders.find((h) => h.pid !== process.pid && alive(h));
    if (live) throw lockedError(dataDir, live.pid);
    if (holders.length === 0 && ageMs(file) < STALE_UNNAMED_MS)
      throw new DataDirLockedError(
        `The data folder ${dataDir} is being locked by another process. Try again, or remove ${file} if no troupe process uses the folder.`,
      );
    // Stale: its processes are gone. Replaced under the takeover file, by one process at a time.
    const guard = takeoverFile(dataDir);
    if (!createExclusive(guard, me)) {
      // Taking over is a moment's work: a takeover file this old was left by a process that died
      // in it. It is moved aside (one process gets it), and put back if it proves to be new.
      if (ageMs(guard) >= STALE_UNNAMED_MS) {
        const aside = `${guard}.${process.pid}.old`;
        try {
          renameSync(guard, aside);
          if (ageMs(aside) < STALE_UNNAMED_MS) linkSync(aside, guard);
        } catch {
          // Another process moved it first, or made a new one meanwhile.
        }
        rmSync(aside, { force: true });
      } else pause(5);
      continue;
    }
    try {
      // Still the stale lock we judged (not one a faster process has taken meanwhile)?
      const now = readHolders(file);
      const liveNow = now?.find((h) => h.pid !== process.pid && alive(h));
      if (liveNow) throw lockedError(dataDir, liveNow.pid);
      if (now !== undefined) {
        const mine = `${file}.${process.pid}.new`;
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
  const mine = `${file}.${process.pid}.new`;
  writeFileSync(mine, change(text.split('\n').filter((l) => l.trim())).join('\n'));
  renameSync(mine, file);
}
