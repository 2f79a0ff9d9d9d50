/** `https://host/api` and `https://host/api/graphql` both name `https://host/api/graphql`. */
export function endpointUrl(url: string): string {
  const base = url.replace(/\/+$/, '');
  return /\/graphql$/.test(base) ? base : `${base}/graphql`;
}

/** The document upload endpoint beside the GraphQL endpoint: `https://host/api/documents`. */
export function documentsUrl(url: string): string {
  return endpointUrl(url).replace(/graphql$/, 'documents');
}
