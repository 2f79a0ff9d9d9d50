import { constants as osConstants } from 'node:os';

/** The signals that stop a `troupe` server: SIGHUP is its terminal closing. */
export const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
type StopSignal = (typeof STOP_SIGNALS)[number];

/**
 * A repeat of the first signal within this long is the same stop told twice, not a second one:
 * `npm run dev` forwards the terminal's Ctrl-C to a process that the terminal sent it to already.
 */
export const REPEAT_WINDOW_MS = 1000;

export interface StopSignalsOptions {
  /** How long the shutdown may take before the process stops anyway (exit 1). */
  graceMs: number;
  /** The line printed when the shutdown begins. */
  announce: (signal: StopSignal) => string;
  // For tests: where signals come from, and how the process ends.
  signals?: { on(signal: StopSignal, handler: () => void): unknown };
  exit?: (code: number) => void;
  now?: () => number;
  log?: (line: string) => void;
  warn?: (line: string) => void;
}

export interface StopSignals {
  /** The server is up: from now on a signal shuts it down with this. */
  started(shutdown: () => Promise<void>): void;
}

/**
 * Stops the process on SIGINT, SIGTERM and SIGHUP. While it starts, a signal ends it at once
 * (exiting 128 + the signal's number, so that exit hooks run). Once started, a signal shuts it down
 * gracefully within `graceMs`; a second signal meanwhile (Ctrl-C again, a second later or more)
 * stops it at once, and a shutdown that overruns or fails stops it with exit 1, each with a line on
 * stderr. The grace timer is not unref'd: a shutdown stuck on something that keeps nothing else
 * alive still ends with its message rather than a silent exit 0.
 */
export function onStopSignals(opts: StopSignalsOptions): StopSignals {
  const {
    graceMs,
    announce,
    signals = process,
    exit = (code) => process.exit(code),
    now = () => Date.now(),
    log = (line) => console.log(line),
    warn = (line) => console.error(line),
  } = opts;
  let shutdown: (() => Promise<void>) | undefined;
  let first: { signal: StopSignal; at: number } | undefined;
  const code = (signal: StopSignal) => 128 + (osConstants.signals[signal] ?? 0);
  const stop = async (signal: StopSignal) => {
    if (!shutdown) {
      warn(`troupe: ${signal} while starting: stopping`);
      return exit(code(signal));
    }
    if (first) {
      if (signal === first.signal && now() - first.at < REPEAT_WINDOW_MS) return;
      warn(`troupe: ${signal} during the shutdown: stopping now, before it finished`);
      return exit(code(signal));
    }
    first = { signal, at: now() };
    log(announce(signal));
    const overrun = setTimeout(() => {
      warn(`troupe: the shutdown did not finish within ${graceMs / 1000} s: stopping now`);
      exit(1);
    }, graceMs);
    try {
      await shutdown();
    } catch (err) {
      warn(`troupe: the shutdown failed: ${err instanceof Error ? err.message : String(err)}`);
      return exit(1);
    } finally {
      clearTimeout(overrun);
    }
    exit(0);
  };
  for (const signal of STOP_SIGNALS) signals.on(signal, () => void stop(signal));
  return { started: (fn) => (shutdown = fn) };
}
