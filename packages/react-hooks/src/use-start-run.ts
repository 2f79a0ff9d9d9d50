import type { Run, StartRunInput, TroupeError } from '@troupe/sdk';
import { useCallback, useEffect, useRef, useState } from 'react';
import { asTroupeError } from './as-troupe-error';
import { useTroupeClient } from './troupe-provider';

export interface UseStartRunResult {
  /** Starts a run; resolves to it, or to undefined when it failed (see `error`). */
  start(input: StartRunInput): Promise<Run | undefined>;
  /** The run last started. */
  run: Run | undefined;
  loading: boolean;
  error: TroupeError | undefined;
  /** Forgets the last run and error. */
  reset(): void;
}

/** Starts runs; pair with `useRun(run?.id)` to follow the one started. */
export function useStartRun(): UseStartRunResult {
  const client = useTroupeClient();
  const [state, setState] = useState<{ run?: Run; loading: boolean; error?: TroupeError }>({
    loading: false,
  });
  const mounted = useRef(true);
  useEffect(() => {
    mounted.current = true;
    return () => {
      mounted.current = false;
    };
  }, []);

  // Only the last start() shows its outcome: an earlier one answered later (a double click) must
  // not replace it, nor end `loading` while the last one is still on its way.
  const lastCall = useRef(0);

  const start = useCallback(
    async (input: StartRunInput) => {
      const call = ++lastCall.current;
      const isLast = () => mounted.current && call === lastCall.current;
      setState((previous) => ({ run: previous.run, loading: true }));
      try {
        const run = await client.runs.start(input);
        if (isLast()) setState({ run, loading: false });
        return run;
      } catch (error) {
        if (isLast())
          setState((previous) => ({ run: previous.run, loading: false, error: asTroupeError(error) }));
        return undefined;
      }
    },
    [client],
  );
  const reset = useCallback(() => {
    // A start() still on its way no longer shows its outcome.
    ++lastCall.current;
    setState({ loading: false });
  }, []);
  return { start, run: state.run, loading: state.loading, error: state.error, reset };
}
