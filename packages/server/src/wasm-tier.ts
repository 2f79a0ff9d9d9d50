import { readFileSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { ConfigError } from './config.js';
import { chosenByNodeFlags, fixesMmapThreshold } from './relaunch.js';

/**
 * Which of V8's WebAssembly compilers the process's modules (PGlite's PostgreSQL, Prisma's query
 * compiler) get. 'baseline': Liftoff only. 'optimizing': V8's default, Liftoff first and then
 * TurboFan for the functions that turn hot.
 */
export type WasmTier = 'baseline' | 'optimizing';

/**
 * `troupe dev`'s default: TurboFan, unless glibc would keep what it compiles with. A trivial run's
 * time in PostgreSQL is mostly PGlite's thread running its code, which TurboFan makes ~1.4× faster
 * (embedded runs/s with 20 clients, Node 24: 328–352 against 224–238 with Liftoff only; Node 20:
 * 281–299 against 216–237). Compiling PostgreSQL's hot functions takes ~100 MB from malloc on V8's
 * background threads, mostly while PGlite boots, and glibc keeps that memory for the life of the
 * process unless its mmap threshold is fixed: Node 20 with TurboFan was 300–366 MB after 2,000 runs
 * against 263–270 without. `troupe dev` relaunches with the threshold fixed where it can (relaunch.ts:
 * Node 22.15 and later), 230–252 MB at Node 24's 328–345 runs/s, so on Linux this reads the
 * environment glibc started with, and a `troupe dev` that could not relaunch (Node 20) keeps
 * Liftoff only. Other systems have no glibc to keep it.
 */
export function devWasmTier(
  platform: NodeJS.Platform = process.platform,
  startEnv: NodeJS.ProcessEnv = startEnvironment(platform),
): WasmTier {
  return platform !== 'linux' || fixesMmapThreshold(startEnv) ? 'optimizing' : 'baseline';
}

/**
 * The environment this process started with, which is what glibc read: a relaunched `troupe dev`
 * takes what it added back out of process.env, but /proc keeps what was there at the start.
 */
function startEnvironment(platform: NodeJS.Platform): NodeJS.ProcessEnv {
  if (platform !== 'linux') return process.env;
  try {
    const pairs = readFileSync('/proc/self/environ', 'latin1').split('\0').filter(Boolean);
    return Object.fromEntries(
      pairs.map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
    );
  } catch {
    return process.env;
  }
}

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
