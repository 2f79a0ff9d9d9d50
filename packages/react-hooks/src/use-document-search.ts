import type { DocumentSearchHit, SearchDocumentsOptions, TroupeError } from '@troupe/sdk';
import { useEffect, useState } from 'react';
import { asTroupeError } from './as-troupe-error';
import { useTroupeClient } from './troupe-provider';

export interface UseDocumentSearchOptions extends SearchDocumentsOptions {
  /** Waits this long after the last change of `query` (or an option) before searching. Default 250 ms. */
  debounceMs?: number;
  /** False: no search, no hits. Default true. */
  enabled?: boolean;
}

export interface UseDocumentSearchResult {
  /** The hits for the latest query searched, best first; kept while the next query loads. */
  hits: DocumentSearchHit[];
  /** True from a change of the query until its hits arrive. */
  loading: boolean;
  /** The error of the last search, cleared when a search starts. */
  error: TroupeError | undefined;
}

interface State {
  hits: DocumentSearchHit[];
  loading: boolean;
  error: TroupeError | undefined;
}

const noHits: DocumentSearchHit[] = [];

/**
 * Searches the documents as `query` changes (search-as-you-type): waits `debounceMs` after the last
 * change, sends one request, and drops the answer to a query that has changed since (the request is
 * aborted). An empty (or blank) query sends nothing and has no hits.
 */
export function useDocumentSearch(
  query: string,
  options: UseDocumentSearchOptions = {},
): UseDocumentSearchResult {
  const { limit, minScore, documentIds, metadata, debounceMs = 250, enabled = true } = options;
  const client = useTroupeClient();
  const active = enabled && query.trim() !== '';
  const [state, setState] = useState<State>({ hits: noHits, loading: active, error: undefined });
  // A new array of the same ids (or object of the same metadata) each render must not search again.
  const ids = documentIds ? JSON.stringify(documentIds) : undefined;
  const metadataKey = metadata ? JSON.stringify(metadata) : undefined;

  useEffect(() => {
    if (!active) {
      setState((previous) =>
        previous.hits === noHits && !previous.loading && !previous.error
          ? previous
          : { hits: noHits, loading: false, error: undefined },
      );
      return;
    }
    setState((previous) =>
      previous.loading && !previous.error ? previous : { ...previous, loading: true, error: undefined },
    );
    const controller = new AbortController();
    const { signal } = controller;
    const timer = setTimeout(() => {
      const variables = {
        limit,
        minScore,
        documentIds: ids ? (JSON.parse(ids) as string[]) : undefined,
        metadata: metadataKey ? (JSON.parse(metadataKey) as Record<string, unknown>) : undefined,
      };
      client.documents.search(query, variables, { signal }).then(
        (hits) => {
          if (!signal.aborted) setState({ hits, loading: false, error: undefined });
        },
        (error: unknown) => {
          if (!signal.aborted)
            setState((previous) => ({ ...previous, loading: false, error: asTroupeError(error) }));
        },
      );
    }, debounceMs);
    return () => {
      clearTimeout(timer);
      controller.abort();
    };
  }, [client, active, query, limit, minScore, ids, metadataKey, debounceMs]);

  return state;
}
