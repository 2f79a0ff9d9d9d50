// What `troupe dev` needs from node and glibc before its first line of JavaScript runs, and the
// relaunch that gives it to them. The `troupe` binary loads this module alone, before the CLI's
// bundle, so a relaunch costs one node start and nothing more. Only node: modules here.

/**
 * The young generation's semi-space size `troupe dev` starts node with, in MB. V8 sizes the young
 * generation when the process starts, and Node 24's V8 lets it grow to 32 MB semi-spaces: `troupe
 * dev` grew ~120 MB over its first 500 embedded runs, against ~45 MB with 4 MB, at the same runs/s
 * and tokens/s (2 MB saved another ~10 MB; kept at 4 for allocation-heavy work such as ingesting
 * documents).
 */
export const DEV_SEMI_SPACE_MB = 4;

/**
 * glibc's malloc arenas `troupe dev` runs with. glibc gives each thread that allocates its own
 * arena, up to 8 per core, and keeps what they held: V8's compiler and GC threads and PGlite's
 * thread left ~75 MB in them. glibc reads this when the process starts (musl ignores it).
 */
export const DEV_MALLOC_ARENA_MAX = '2';

/** Set on the relaunched process: it never relaunches itself again. */
const RELAUNCHED = 'TROUPE_RELAUNCHED';

/** Whether node's own flags (its command line or NODE_OPTIONS) include one that matches: those win over ours. */
export function chosenByNodeFlags(
  flag: RegExp,
  env: NodeJS.ProcessEnv = process.env,
  execArgv: readonly string[] = process.execArgv,
): boolean {
  return [...execArgv, ...(env.NODE_OPTIONS?.split(/\s+/) ?? [])].some((f) => flag.test(f));
}

export interface Relaunch {
  /** Node flags to put in front of the process's own. */
  nodeFlags: string[];
  /** The environment to start with. */
  env: NodeJS.ProcessEnv;
}

/**
 * What a relaunch of this command would add, or undefined when there is nothing to add: only
 * `troupe dev` asks for anything, and node's own flags and the environment win over what it asks.
 */
export function relaunchFor(
  args: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
  execArgv: readonly string[] = process.execArgv,
): Relaunch | undefined {
  if (env[RELAUNCHED]) return undefined;
  if (args.find((a) => !a.startsWith('-')) !== 'dev') return undefined;
  const nodeFlags: string[] = [];
  if (
    !chosenByNodeFlags(
      /^--(max[-_]semi[-_]space[-_]size|semi[-_]space[-_]growth[-_]factor|optimize[-_]for[-_]size)\b/,
      env,
      execArgv,
    )
  )
    nodeFlags.push(`--max-semi-space-size=${DEV_SEMI_SPACE_MB}`);
  const arenas = env.MALLOC_ARENA_MAX === undefined && process.platform === 'linux';
  if (nodeFlags.length === 0 && !arenas) return undefined;
  return {
    nodeFlags,
    env: { ...env, ...(arenas ? { MALLOC_ARENA_MAX: DEV_MALLOC_ARENA_MAX } : {}), [RELAUNCHED]: '1' },
  };
}

/**
 * Replaces this process with node started with what `relaunchFor` asks, keeping its pid, its
 * standard streams and its arguments: process managers, signals and exit codes see one process.
 * Needs `process.execve` (Node 22.15 and 23.11 on; not on Windows); without it the process goes on
 * as it is, with V8's and glibc's defaults. Returns only when it did not relaunch.
 */
export function relaunchIfNeeded(args: readonly string[] = process.argv.slice(2)): void {
  const execve = (process as { execve?: (file: string, args: string[], env: NodeJS.ProcessEnv) => never })
    .execve;
  if (typeof execve !== 'function') return;
  const relaunch = relaunchFor(args);
  if (!relaunch) return;
  try {
    execve.call(
      process,
      process.execPath,
      [process.execPath, ...relaunch.nodeFlags, ...process.execArgv, ...process.argv.slice(1)],
      relaunch.env,
    );
  } catch {
    // Not supported here (ERR_FEATURE_UNAVAILABLE_ON_PLATFORM) or execve failed: run as we are.
  }
}
