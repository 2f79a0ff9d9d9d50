import { setFlagsFromString } from 'node:v8';
import { ConfigError } from './config.js';
import { chosenByNodeFlags } from './relaunch.js';

/** The heap growing percent `troupe dev` sets when neither the environment nor node's flags choose one. */
export const DEV_HEAP_GROWING_PERCENT = 30;

/**
 * Keeps the process's memory near what it really holds. After each full collection V8 lets the
 * JavaScript heap grow by a factor of up to 4 before the next one: a server holding 25 MB of live
 * objects then idles at 100 MB and more of garbage, and its RSS climbs for thousands of runs
 * before it levels off (measured: +110 MB over 2,000 embedded runs). A factor of 1.3 keeps it
 * level at the same runs/s, which is what `troupe dev` on a laptop wants. It also means more full
 * collections, whose pauses showed in `serve`'s event latency (p99 with 100 streaming runs: 19-21 ms
 * instead of 13), so `serve` and `worker` leave V8's heuristics alone unless asked.
 *
 * `TROUPE_HEAP_GROWING_PERCENT` chooses the percent (0: V8's own heuristics); a
 * `--heap-growing-percent` or `--optimize-for-size` in node's flags or NODE_OPTIONS wins over both.
 * The flag is read at every collection, so setting it at startup applies from the first one.
 * Returns the percent applied, or undefined when V8 decides.
 */
export function limitHeapGrowth(defaultPercent: number): number | undefined {
  const percent = heapGrowingPercent(defaultPercent);
  if (percent !== undefined) setFlagsFromString(`--heap-growing-percent=${percent}`);
  return percent;
}

/** The percent `limitHeapGrowth` applies: undefined when V8 decides, or node's own flags do. */
export function heapGrowingPercent(
  defaultPercent: number,
  env: NodeJS.ProcessEnv = process.env,
  execArgv: readonly string[] = process.execArgv,
): number | undefined {
  if (chosenByNodeFlags(/^--(heap[-_]growing[-_]percent|optimize[-_]for[-_]size)\b/, env, execArgv))
    return undefined;
  const raw = env.TROUPE_HEAP_GROWING_PERCENT?.trim();
  const percent = raw ? Number(raw) : defaultPercent;
  if (!Number.isInteger(percent) || percent < 0 || percent > 1000)
    throw new ConfigError(
      `TROUPE_HEAP_GROWING_PERCENT must be an integer 0-1000 (0: V8 decides), got "${raw}"`,
    );
  return percent === 0 ? undefined : percent;
}
