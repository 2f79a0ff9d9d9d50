import type { TroupeClient, TroupeError } from '@troupe/sdk';
import { useCallback, useEffect, useRef, useState } from 'react';
import { asTroupeError } from './as-troupe-error';
import { useTroupeClient } from './troupe-provider';

export interface TroupeQueryResult<TData> {
  /** The last data loaded; kept while a refetch is in flight or after it failed. */
  data: TData | undefined;
  /** The error of the last load, cleared when a load starts. */
  error: TroupeError | undefined;
  /** True while a load is in flight (and on the first render). */
  loading: boolean;
  /** Loads again, aborting a load in flight. */
  refetch: () => void;
}

interface State<TData> {
  data: TData | undefined;
  error: TroupeError | undefined;
  loading: boolean;
}

/**
 * Runs `load` when the component mounts and whenever `key` changes, aborting the previous load
 * (and the load of an unmounted component). Loads start a microtask after the effect, so the
 * mount-unmount-mount of React StrictMode sends one request, not two.
 */
export function useTroupeQuery<TData>(
  key: string,
  load: (client: TroupeClient, signal: AbortSignal) => Promise<TData>,
): TroupeQueryResult<TData> {
  const client = useTroupeClient();
  const [state, setState] = useState<State<TData>>({ data: undefined, error: undefined, loading: true });
  const [generation, setGeneration] = useState(0);
  const loadRef = useRef(load);
  // The latest `load` closure, read when a load starts; `key` decides when that happens.
  useEffect(() => {
    loadRef.current = load;
  });

  // biome-ignore lint/correctness/useExhaustiveDependencies: `key` says when to load again (the load itself is read from a ref); refetch() bumps `generation`.
  useEffect(() => {
    const controller = new AbortController();
    const { signal } = controller;
    setState((previous) =>
      previous.loading && !previous.error ? previous : { ...previous, loading: true, error: undefined },
    );
    queueMicrotask(() => {
      if (signal.aborted) return;
      loadRef.current(client, signal).then(
        (data) => {
          if (!signal.aborted) setState({ data, error: undefined, loading: false });
        },
        (error: unknown) => {
          if (!signal.aborted)
            setState((previous) => ({ ...previous, error: asTroupeError(error), loading: false }));
        },
      );
    });
    return () => controller.abort();
  }, [client, key, generation]);

  const refetch = useCallback(() => setGeneration((n) => n + 1), []);
  return { ...state, refetch };
}
