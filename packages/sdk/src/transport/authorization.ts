import { isTroupeError, TroupeError } from '../troupe-error';

export interface AuthorizationOptions {
  apiKey?: string;
  getToken?: () => string | null | undefined | Promise<string | null | undefined>;
}

/**
 * The bearer token for the next request or connection: `getToken()`, else the API key. A failing
 * `getToken()` is UNAUTHENTICATED, except when a stream (re)connects (`'stream'`): there a failure
 * that is not a TroupeError (the network not back yet after a blip) is UNAVAILABLE, and the stream
 * tries again within its reconnect budget.
 */
export type Authorize = (use?: 'request' | 'stream') => Promise<string | undefined>;

export function authorization(options: AuthorizationOptions): Authorize {
  return async (use = 'request') => {
    if (!options.getToken) return options.apiKey;
    try {
      return (await options.getToken()) ?? options.apiKey;
    } catch (cause) {
      if (use === 'stream' && !isTroupeError(cause)) {
        throw new TroupeError('getToken() failed; the stream tries again', { code: 'UNAVAILABLE', cause });
      }
      throw new TroupeError('getToken() failed', { code: 'UNAUTHENTICATED', cause });
    }
  };
}
