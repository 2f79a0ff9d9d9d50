export interface PageInfo {
  /** Pass as `after` to get the next page. */
  endCursor: string | null;
  hasNextPage: boolean;
}

/** One page of a connection, edges flattened to nodes. */
export interface Page<T> {
  nodes: T[];
  pageInfo: PageInfo;
}

export function toPage<T>(connection: {
  edges: ReadonlyArray<{ node: T }>;
  pageInfo: { endCursor: string | null; hasNextPage: boolean };
}): Page<T> {
  return {
    nodes: connection.edges.map((edge) => edge.node),
    pageInfo: { endCursor: connection.pageInfo.endCursor, hasNextPage: connection.pageInfo.hasNextPage },
  };
}
