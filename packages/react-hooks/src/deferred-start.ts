/**
 * Starts `work` a microtask from now, with a signal; returns the cleanup that aborts it. Used as
 * an effect body: React StrictMode runs effects, cleans them up and runs them again synchronously,
 * so the first run's work never starts and a stream subscribes once, not twice.
 */
export function deferredStart(work: (signal: AbortSignal) => void): () => void {
  const controller = new AbortController();
  queueMicrotask(() => {
    if (!controller.signal.aborted) work(controller.signal);
  });
  return () => controller.abort();
}
