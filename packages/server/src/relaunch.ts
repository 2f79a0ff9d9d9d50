// What `troupe dev` needs from node and glibc before its first line of JavaScript runs, and the
// relaunch that gives it to them. The `troupe` binary loads this module alone, before the CLI's
// bundle, so a relaunch costs one node start and nothing more. Only node: modules here.
import { accessSync, constants } from 'node:fs';
import { commandOf } from './cli-args.js';

/**
 * The young generation's semi-space size `troupe dev` starts node with, in MB. V8 sizes the young
 * generation when the process starts, and Node 24's V8 lets it grow to 32 MB semi-spaces: `troupe
 * dev` grew ~120 MB over its first 500 embedded runs, against ~30–45 MB with 2–4 MB, at the same
 * runs/s and tokens/s. The flag is process-wide, so it also bounds PGlite's thread, whose own cap
 * (6 MB of young generation) a larger value would lift.
 */
export const DEV_SEMI_SPACE_MB = 2;

/**
 * glibc's malloc arenas `troupe dev` runs with. glibc gives each thread that allocates its own
 * arena, up to 8 per core, and keeps what they held: V8's compiler and GC threads and PGlite's
 * thread left ~75 MB in them. glibc reads this when the process starts (musl ignores it).
 */
export const DEV_MALLOC_ARENA_MAX = '2';

/**
 * glibc's trim threshold `troupe dev` runs with, in bytes: its default, set explicitly, which also
 * holds glibc's mmap threshold at its starting 128 KB. glibc otherwise raises the mmap threshold (up
 * to 32 MB) each time a block it had mapped is freed, and from then on serves blocks that size from
 * its arenas, which keep them once freed: V8's optimizing compiler, compiling PostgreSQL's hot
 * functions, left ~50–100 MB behind that way. Held, larger blocks go back to the system when freed.
 * Measured on Node 24 with TurboFan after 2,000 embedded runs: 255–265 MB, against 302–315 without
 * (wasm-tier.ts), at the same runs/s. Setting the mmap threshold itself to the same 128 KB (or to
 * 32 KB, 20–30 MB smaller still) made the second start 150–400 ms slower; this made it no slower.
 * glibc reads it when the process starts.
 */
export const DEV_MALLOC_TRIM_THRESHOLD = '131072';

/**
 * Whether an environment holds glibc's mmap threshold where it is: any of the four settings that
 * turn off its adjustment (mallopt(3)), as a variable or a glibc tunable, with a value; an mmap
 * maximum of 0 does not count (nothing is mapped then, so nothing goes back). Values glibc ignores
 * (an mmap threshold above 32 MB) are not checked.
 */
export function holdsMmapThreshold(env: NodeJS.ProcessEnv): boolean {
  const counts = (name: string, value: string | undefined) =>
    value !== undefined && value.trim() !== '' && !(name === 'mmap_max' && Number(value) === 0);
  const variables = {
    trim_threshold: 'MALLOC_TRIM_THRESHOLD_',
    mmap_threshold: 'MALLOC_MMAP_THRESHOLD_',
    top_pad: 'MALLOC_TOP_PAD_',
    mmap_max: 'MALLOC_MMAP_MAX_',
  };
  const tunables = mallocTunables(env);
  return Object.entries(variables).some(
    ([name, variable]) => counts(name, env[variable]) || counts(name, tunables.get(name)),
  );
}

/** Whether an environment sets glibc's number of malloc arenas (its variable, or a glibc tunable). */
function setsArenaMax(env: NodeJS.ProcessEnv): boolean {
  return env.MALLOC_ARENA_MAX !== undefined || mallocTunables(env).has('arena_max');
}

/** The `glibc.malloc.*` entries of GLIBC_TUNABLES (a colon-separated `name=value` list), by short name. */
function mallocTunables(env: NodeJS.ProcessEnv): Map<string, string> {
  const tunables = new Map<string, string>();
  for (const entry of (env.GLIBC_TUNABLES ?? '').split(':')) {
    const eq = entry.indexOf('=');
    if (eq > 0 && entry.startsWith('glibc.malloc.'))
      tunables.set(entry.slice('glibc.malloc.'.length, eq), entry.slice(eq + 1));
  }
  return tunables;
}

/**
 * Set on the relaunched process, which takes it out of its environment at once (children the
 * server starts do not see it): what the relaunch added to the environment, comma-separated.
 */
const RELAUNCHED = 'TROUPE_RELAUNCHED';

/** Whether node's own flags (its command line or NODE_OPTIONS) include one that matches: those win over ours. */
export function chosenByNodeFlags(
  flag: RegExp,
  env: NodeJS.ProcessEnv = process.env,
  execArgv: readonly string[] = process.execArgv,
): boolean {
  return [...execArgv, ...(env.NODE_OPTIONS?.split(/\s+/) ?? [])].some((f) => flag.test(f));
}

/** Node flags that size the young generation (or the whole heap, which V8 then splits itself). */
const HEAP_SIZING =
  /^--(max[-_]semi[-_]space[-_]size|min[-_]semi[-_]space[-_]size|semi[-_]space[-_]growth[-_]factor|max[-_]heap[-_]size|optimize[-_]for[-_]size)\b/;

/** A debugger attached at start would lose its session to the relaunch (and --inspect-brk pause twice). */
const DEBUGGER = /^--inspect/;

export interface Relaunch {
  /** Node flags to put in front of the process's own. */
  nodeFlags: string[];
  /** The environment to start with. */
  env: NodeJS.ProcessEnv;
}

export interface ProcessFacts {
  env: NodeJS.ProcessEnv;
  execArgv: readonly string[];
  platform: NodeJS.Platform;
  /** Connected to its parent over IPC (fork(), `node --watch`, PM2): a new image would lose the channel. */
  ipc: boolean;
}

const thisProcess = (): ProcessFacts => ({
  env: process.env,
  execArgv: process.execArgv,
  platform: process.platform,
  ipc: Boolean(process.channel),
});

/**
 * What a relaunch of this command would add, or undefined when there is nothing to add or a
 * relaunch would break something: only `troupe dev` asks, node's own flags and the environment win
 * over what it asks, and `TROUPE_RELAUNCH=0` turns it off.
 */
export function relaunchFor(
  args: readonly string[],
  facts: ProcessFacts = thisProcess(),
): Relaunch | undefined {
  const { env, execArgv, platform } = facts;
  if (env[RELAUNCHED] !== undefined || env.TROUPE_RELAUNCH === '0') return undefined;
  if (platform !== 'linux' && platform !== 'darwin') return undefined;
  if (facts.ipc || chosenByNodeFlags(DEBUGGER, env, execArgv)) return undefined;
  if (commandOf(args) !== 'dev') return undefined;
  const nodeFlags = chosenByNodeFlags(HEAP_SIZING, env, execArgv)
    ? []
    : [`--max-semi-space-size=${DEV_SEMI_SPACE_MB}`];
  const malloc: Record<string, string> = {};
  if (platform === 'linux' && !setsArenaMax(env)) malloc.MALLOC_ARENA_MAX = DEV_MALLOC_ARENA_MAX;
  if (platform === 'linux' && !holdsMmapThreshold(env))
    malloc.MALLOC_TRIM_THRESHOLD_ = DEV_MALLOC_TRIM_THRESHOLD;
  if (nodeFlags.length === 0 && Object.keys(malloc).length === 0) return undefined;
  return {
    nodeFlags,
    env: { ...env, ...malloc, [RELAUNCHED]: Object.keys(malloc).join(',') },
  };
}

type Execve = (file: string, args: string[], env: NodeJS.ProcessEnv) => never;

/**
 * Replaces this process with node started with what `relaunchFor` asks, keeping its pid, its
 * standard streams and its arguments: process managers, signals and exit codes see one process.
 * Needs `process.execve` (Node 22.15 and 23.11 on, Linux and macOS); without it, or where the
 * permission model forbids starting processes, the process goes on as it is, with V8's and glibc's
 * defaults. Returns only when it did not relaunch. In the relaunched process it takes what only
 * this process needed back out of the environment.
 */
export function relaunchIfNeeded(args: readonly string[] = process.argv.slice(2)): void {
  const added = process.env[RELAUNCHED];
  if (added !== undefined) {
    delete process.env[RELAUNCHED];
    // glibc read it at start; the processes the server starts get their own defaults.
    for (const name of added.split(',').filter(Boolean)) delete process.env[name];
    return;
  }
  const execve = (process as { execve?: Execve }).execve;
  if (typeof execve !== 'function') return;
  const permission = (process as { permission?: { has(scope: string): boolean } }).permission;
  if (permission && !permission.has('child')) return;
  const relaunch = relaunchFor(args);
  if (!relaunch) return;
  try {
    // A node that cannot be started again (upgraded or removed meanwhile) would end this process
    // inside execve: node aborts when the system call fails.
    accessSync(process.execPath, constants.X_OK);
  } catch {
    return;
  }
  try {
    execve.call(
      process,
      process.execPath,
      [process.execPath, ...relaunch.nodeFlags, ...process.execArgv, ...process.argv.slice(1)],
      relaunch.env,
    );
  } catch {
    // Refused before the system call (an argument node will not pass on): run as we are.
  }
}
