import { TroupeError } from '../troupe-error';

export interface AuthorizationOptions {
  apiKey?: string;
  getToken?: () => string | null | undefined | Promise<string | null | undefined>;
}

/** The bearer token for the next request or connection: `getToken()`, else the API key. */
export function authorization(options: AuthorizationOptions): () => Promise<string | undefined> {
  return async () => {
    if (!options.getToken) return options.apiKey;
    try {
      return (await options.getToken()) ?? options.apiKey;
    } catch (cause) {
      throw new TroupeError('getToken() failed', { code: 'UNAUTHENTICATED', cause });
    }
  };
}
