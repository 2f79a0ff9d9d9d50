export interface PageInfo {
  /** Pass as `after` to get the next page. */
  endCursor: string | null;
  hasNextPage: boolean;
  /** Pass as `before` (with `last`) to get the page before this one, e.g. older messages. */
  startCursor: string | null;
  /** Whether there are items before this page (known when paging backwards, with `last`). */
  hasPreviousPage: boolean;
}

/** One page of a connection, edges flattened to nodes. */
export interface Page<T> {
  nodes: T[];
  pageInfo: PageInfo;
}

export function toPage<T>(connection: {
  edges: ReadonlyArray<{ node: T }>;
  pageInfo: {
    endCursor: string | null;
    hasNextPage: boolean;
    startCursor: string | null;
    hasPreviousPage: boolean;
  };
}): Page<T> {
  const { endCursor, hasNextPage, startCursor, hasPreviousPage } = connection.pageInfo;
  return {
    nodes: connection.edges.map((edge) => edge.node),
    pageInfo: { endCursor, hasNextPage, startCursor, hasPreviousPage },
  };
}
