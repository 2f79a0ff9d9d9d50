import { readFileSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { ConfigError } from './config.js';
import { chosenByNodeFlags, holdsMmapThreshold } from './relaunch.js';

/**
 * Which of V8's WebAssembly compilers the process's modules (PGlite's PostgreSQL, Prisma's query
 * compiler) get. 'baseline': Liftoff only. 'optimizing': V8's default, Liftoff first and then
 * TurboFan for the functions that turn hot.
 */
export type WasmTier = 'baseline' | 'optimizing';

/** What `troupe dev`'s default tier depends on (read only when needed: each costs a little). */
export interface WasmTierFacts {
  /** The environment the process started with: what glibc read. */
  startEnv(): NodeJS.ProcessEnv;
  /** Whether malloc is glibc's (Linux, not musl). */
  glibc(): boolean;
}

/**
 * `troupe dev`'s default: TurboFan, unless glibc would keep what it compiles with. A trivial run's
 * time in PostgreSQL is mostly PGlite's thread running its code, which TurboFan makes fast enough
 * for ~1.45× the embedded runs/s (20 clients, Node 24: 320–343 against 222–238 with Liftoff only;
 * Node 20, ~1.25×: 274–289 against 219–227). Compiling PostgreSQL's hot functions takes ~100 MB from malloc
 * on V8's background threads, and glibc keeps that memory for the life of the process unless its
 * mmap threshold is held (relaunch.ts): Node 24 with TurboFan was 302–315 MB after 2,000 runs
 * without, 255–265 with it, and 247–255 with Liftoff only (several sessions' runs). `troupe dev` holds it when it relaunches
 * (Node 22.15 / 23.11 and later; relaunchIfNeeded says when it does not), so this reads the
 * environment glibc started with; where it did not relaunch (Node 20, or 22 before 22.15), Liftoff
 * only. musl gives large blocks back by itself. macOS and Windows have no glibc; they get TurboFan,
 * not measured there.
 */
export function devWasmTier(facts: WasmTierFacts = thisProcess): WasmTier {
  return holdsMmapThreshold(facts.startEnv()) || !facts.glibc() ? 'optimizing' : 'baseline';
}

const thisProcess: WasmTierFacts = {
  startEnv: () => (process.platform === 'linux' ? startEnvironment() : process.env),
  glibc: isGlibc,
};

/**
 * Whether this process's C library is glibc: Linux, and node's diagnostic report names a glibc
 * (it does not under musl). The report costs a few milliseconds; network details, which can mean
 * reverse DNS lookups for open sockets, are left out. An unreadable report counts as glibc, whose
 * default (Liftoff only) is the one that can't cost memory.
 */
export function isGlibc(): boolean {
  if (process.platform !== 'linux') return false;
  const report = process.report as (NodeJS.ProcessReport & { excludeNetwork?: boolean }) | undefined;
  if (!report) return true;
  const excludeNetwork = report.excludeNetwork;
  try {
    report.excludeNetwork = true;
    const header = (report.getReport() as { header?: { glibcVersionRuntime?: string } }).header;
    return Boolean(header?.glibcVersionRuntime);
  } catch {
    return true;
  } finally {
    report.excludeNetwork = excludeNetwork;
  }
}

/**
 * The environment this process started with (Linux), which is what glibc read: a relaunched
 * `troupe dev` takes what it added back out of process.env, but /proc keeps what was there at the
 * start. Like glibc, the first of a name counts. Where /proc cannot be read, process.env, which
 * after a relaunch lacks what it added: Liftoff only then, the choice that can't cost memory.
 */
export function startEnvironment(environ = '/proc/self/environ'): NodeJS.ProcessEnv {
  try {
    const env: NodeJS.ProcessEnv = {};
    for (const entry of readFileSync(environ, 'latin1').split('\0')) {
      const eq = entry.indexOf('=');
      if (eq <= 0) continue;
      const name = entry.slice(0, eq);
      if (!(name in env)) env[name] = entry.slice(eq + 1);
    }
    return env;
  } catch {
    return process.env;
  }
}

/**
 * How much of a function's code `troupe dev` lets run (roughly, bytes executed) before V8 compiles
 * it with TurboFan: V8's default is 1,800,000. PGlite's boot makes hundreds of PostgreSQL's
 * functions that warm, and their compilations, on a 2-core machine, made the second start
 * 150–450 ms slower (Node 24: ~690–780 ms to ready against ~510 with the baseline compiler; Node
 * 20: ~950 against ~530). At this budget the start is 50–120 ms slower, and the functions a run
 * keeps busy still get TurboFan: 332–343 embedded runs/s against 348–350 at V8's budget (Node 24).
 */
export const DEV_WASM_TIERING_BUDGET = 60_000_000;

/** What 'baseline' sets, at run time, in V8. */
const BASELINE_FLAGS = '--liftoff-only --no-wasm-tier-up --no-wasm-dynamic-tiering';

/**
 * Applies `TROUPE_WASM_TIER` (or the command's default); returns what applies, undefined when
 * node's own flags decide. `tieringBudget`: the TurboFan budget for 'optimizing' (V8's own when
 * not given, or when node's flags set one).
 */
export function applyWasmTier(
  defaultTier: WasmTier | (() => WasmTier),
  tieringBudget?: number,
): WasmTier | undefined {
  const tier = wasmTier(defaultTier);
  // Read when PGlite's module is instantiated (its functions' budgets start from it).
  if (tier === 'optimizing' && tieringBudget && !chosenByNodeFlags(/^--wasm[-_]tiering[-_]budget\b/))
    setFlagsFromString(`--wasm-tiering-budget=${tieringBudget}`);
  // Read when a module is compiled: set before PGlite's thread or Prisma load theirs. V8 derives
  // the tiering flags from --liftoff-only only when it parses node's command line; set later, as
  // here, Node 24's V8 went on tiering up to TurboFan unless they are turned off too (Node 20 and
  // 22 did not need it): PGlite's thread then took ~110 MB more.
  if (tier === 'baseline') setFlagsFromString(BASELINE_FLAGS);
  return tier;
}

/**
 * The tier `applyWasmTier` applies: undefined when node's flags choose the compilers. A default
 * given as a function is called only when neither those nor `TROUPE_WASM_TIER` choose.
 */
export function wasmTier(
  defaultTier: WasmTier | (() => WasmTier),
  env: NodeJS.ProcessEnv = process.env,
  execArgv: readonly string[] = process.execArgv,
): WasmTier | undefined {
  const wasmFlag = /^--(no[-_])?(liftoff|liftoff[-_]only|wasm[-_]tier[-_]up|wasm[-_]dynamic[-_]tiering)\b/;
  if (chosenByNodeFlags(wasmFlag, env, execArgv)) return undefined;
  const raw = env.TROUPE_WASM_TIER?.trim();
  if (!raw) return typeof defaultTier === 'function' ? defaultTier() : defaultTier;
  if (raw !== 'baseline' && raw !== 'optimizing')
    throw new ConfigError(`TROUPE_WASM_TIER must be "baseline" or "optimizing", got "${raw}"`);
  return raw;
}
