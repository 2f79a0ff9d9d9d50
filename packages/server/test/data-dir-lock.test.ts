import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, expect, test } from 'vitest';
import {
  addLockHolder,
  DataDirLockedError,
  lockDataDir,
  processStartTime,
  removeLockHolder,
} from '../src/db/data-dir-lock.js';

// `troupe dev` locks its data folder: two processes on one PGlite folder corrupt it.

/** Start times come from /proc (Linux); elsewhere a lock's pid is taken at its word. */
const procFs = existsSync('/proc/self/stat');

let dir: string;
const children: ChildProcess[] = [];
const lockFile = () => path.join(dir, 'troupe.lock');
const holders = () =>
  readFileSync(lockFile(), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => Number.parseInt(l, 10));

beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'troupe-lock-'));
});
afterEach(() => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

/** Another live process (not a troupe one: only its pid and start time matter). */
async function otherProcess(): Promise<number> {
  const c = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
  children.push(c);
  await new Promise((resolve) => c.once('spawn', resolve));
  return c.pid!;
}

test.runIf(procFs)(
  'a folder locked by a live process is refused, naming it; released, it can be locked again',
  async () => {
    const unlock = lockDataDir(dir);
    expect(holders()).toEqual([process.pid]);
    const other = await otherProcess();
    const start = processStartTime(other);
    expect(start).toMatch(/^\d+$/);
    writeFileSync(lockFile(), `${other} ${start}`);
    expect(() => lockDataDir(dir)).toThrow(DataDirLockedError);
    expect(() => lockDataDir(dir)).toThrow(`in use by another troupe process (pid ${other})`);
    // Not ours any more (taken over): our unlock leaves it be.
    unlock();
    expect(holders()).toEqual([other]);
    rmSync(lockFile());
    lockDataDir(dir)();
    expect(existsSync(lockFile())).toBe(false);
  },
);

test('a lock whose processes are gone is taken over', async () => {
  const gone = await otherProcess();
  const start = processStartTime(gone)!;
  children[0]!.kill('SIGKILL');
  await new Promise((resolve) => children[0]!.once('exit', resolve));
  writeFileSync(lockFile(), `${gone} ${start}`);
  const unlock = lockDataDir(dir);
  expect(holders()).toEqual([process.pid]);
  unlock();
});

test.runIf(procFs)(
  'a pid the system gave to another process since (after a crash, a restart) holds nothing',
  async () => {
    const other = await otherProcess();
    // The lock's holder had this pid, but started at another time: it is not this process.
    writeFileSync(lockFile(), `${other} 1`);
    const unlock = lockDataDir(dir);
    expect(holders()).toEqual([process.pid]);
    unlock();
    // A lock file of an older version (pids only) is taken at its word.
    writeFileSync(lockFile(), `${other}`);
    expect(() => lockDataDir(dir)).toThrow(DataDirLockedError);
  },
);

test('a holder added (the database setup process) keeps the lock; taken off when it ends, it holds nothing', async () => {
  const unlock = lockDataDir(dir);
  const setup = await otherProcess();
  addLockHolder(dir, setup);
  expect(holders()).toEqual([process.pid, setup]);
  removeLockHolder(dir, setup);
  expect(holders()).toEqual([process.pid]);
  unlock();
});

test('processes taking over one stale lock at once: exactly one gets it', async () => {
  const module = path.join(path.dirname(fileURLToPath(import.meta.url)), '../src/db/data-dir-lock.ts');
  const go = path.join(dir, 'go');
  // Each waits for the same moment, tries, says what it got, and holds a lock it got until killed.
  const script = `
    import { existsSync } from 'node:fs';
    const { lockDataDir } = await import(${JSON.stringify(module)});
    process.stdout.write('ready\\n');
    while (!existsSync(${JSON.stringify(go)})) await new Promise((r) => setTimeout(r, 1));
    try { lockDataDir(${JSON.stringify(dir)}); process.stdout.write('locked\\n'); }
    catch (err) { process.stdout.write(err.name + '\\n'); }
    setInterval(() => {}, 1000);`;
  for (let round = 0; round < 3; round++) {
    writeFileSync(lockFile(), '999999999 1'); // no such process
    rmSync(go, { force: true });
    const ready: Promise<void>[] = [];
    const tries = Array.from({ length: 6 }, () => {
      const c = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      children.push(c);
      let out = '';
      let loaded!: () => void;
      ready.push(
        new Promise((resolve) => {
          loaded = resolve;
        }),
      );
      return new Promise<string>((resolve) => {
        c.stdout!.on('data', (d) => {
          out += d;
          const [first, result] = out.split('\n').filter(Boolean);
          if (first === 'ready') loaded();
          if (result) resolve(result);
        });
      });
    });
    // All are loaded and waiting before the moment comes.
    await Promise.all(ready);
    writeFileSync(go, '');
    const got = await Promise.all(tries);
    expect(got.filter((g) => g === 'locked')).toHaveLength(1);
    expect(got.filter((g) => g === 'DataDirLockedError')).toHaveLength(5);
    for (const c of children.splice(0)) c.kill('SIGKILL');
    expect(existsSync(path.join(dir, 'troupe.lock.takeover'))).toBe(false);
  }
});
