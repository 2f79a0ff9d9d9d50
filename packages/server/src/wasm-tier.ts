import { setFlagsFromString } from 'node:v8';
import { ConfigError } from './config.js';
import { chosenByNodeFlags } from './heap-growth.js';

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

/** Applies `TROUPE_WASM_TIER` (or the command's default); returns what applies, undefined when node's own flags decide. */
export function applyWasmTier(defaultTier: WasmTier): WasmTier | undefined {
  const tier = wasmTier(defaultTier);
  // Read when a module is compiled: set before PGlite's thread or Prisma load theirs.
  if (tier === 'baseline') setFlagsFromString('--liftoff-only');
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
