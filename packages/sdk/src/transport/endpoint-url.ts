/** `https://host/api` and `https://host/api/graphql` both name `https://host/api/graphql`. */
export function endpointUrl(url: string): string {
  const base = url.replace(/\/+$/, '');
  return /\/graphql$/.test(base) ? base : `${base}/graphql`;
}
