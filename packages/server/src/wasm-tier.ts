import { setFlagsFromString } from 'node:v8';
import { ConfigError } from './config.js';
import { chosenByNodeFlags } from './relaunch.js';

/**
 * Which of V8's WebAssembly compilers the process's modules (PGlite's PostgreSQL, Prisma's query
 * compiler) get. 'baseline': Liftoff only. 'optimizing': V8's default, Liftoff first and then
 * TurboFan for the functions that turn hot.
 */
export type WasmTier = 'baseline' | 'optimizing';

/**
 * `troupe dev`'s default. TurboFan compiling PostgreSQL's hot functions while PGlite boots takes
 * ~100 MB from malloc on V8's background threads; the memory is freed, but glibc keeps it in those
 * threads' arenas for the life of the process. Liftoff-only code left `troupe dev` 70 MB smaller
 * after 2,000 runs (356-360 MB -> 288-290 MB) at the same runs/s (A/B in one session: 112/112,
 * 130/128): a run's time in the database is mostly per-statement overhead, not compiled code.
 */
export const DEV_WASM_TIER: WasmTier = 'baseline';

/** What 'baseline' sets, at run time, in V8. */
const BASELINE_FLAGS = '--liftoff-only --no-wasm-tier-up --no-wasm-dynamic-tiering';

/** Applies `TROUPE_WASM_TIER` (or the command's default); returns what applies, undefined when node's own flags decide. */
export function applyWasmTier(defaultTier: WasmTier): WasmTier | undefined {
  const tier = wasmTier(defaultTier);
  // Read when a module is compiled: set before PGlite's thread or Prisma load theirs. V8 derives
  // the tiering flags from --liftoff-only only when it parses node's command line; set later, as
  // here, Node 24's V8 went on tiering up to TurboFan unless they are turned off too (Node 20 and
  // 22 did not need it): PGlite's thread then took ~110 MB more.
  if (tier === 'baseline') setFlagsFromString(BASELINE_FLAGS);
  return tier;
}

/** The tier `applyWasmTier` applies: undefined when node's flags or NODE_OPTIONS choose the compilers. */
export function wasmTier(
  defaultTier: WasmTier,
  env: NodeJS.ProcessEnv = process.env,
  execArgv: readonly string[] = process.execArgv,
): WasmTier | undefined {
  const wasmFlag = /^--(no[-_])?(liftoff|liftoff[-_]only|wasm[-_]tier[-_]up|wasm[-_]dynamic[-_]tiering)\b/;
  if (chosenByNodeFlags(wasmFlag, env, execArgv)) return undefined;
  const raw = env.TROUPE_WASM_TIER?.trim();
  if (!raw) return defaultTier;
  if (raw !== 'baseline' && raw !== 'optimizing')
    throw new ConfigError(`TROUPE_WASM_TIER must be "baseline" or "optimizing", got "${raw}"`);
  return raw;
}
