import type { ExecutionResult } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { CredentialWatch } from '../auth/credential-watch.js';
import type { Principal } from '../auth/principal.js';
import { TroupeServerError } from '../errors.js';
import type { Context } from '../graphql/context.js';

/** Why a stream ended with its credentials: the last result it sends. */
export const REVOKED_KEY_MESSAGE = 'Forbidden: the API key was revoked.';
export const REVOKED_ISSUER_MESSAGE = 'Forbidden: the API key that issued this session token was revoked.';
export const EXPIRED_TOKEN_MESSAGE = 'Unauthorized: the session token expired.';

export function revokedMessage(principal: Principal): string {
  return principal.kind === 'session' ? REVOKED_ISSUER_MESSAGE : REVOKED_KEY_MESSAGE;
}

const DONE = { done: true as const, value: undefined };

/**
 * The subscription's results until its credentials end: then one last result with the error
 * (FORBIDDEN for a revoked key, UNAUTHENTICATED for an expired token) and the end of the stream.
 * The source is returned (unsubscribed) either way; the watch is removed when the stream ends.
 */
export function untilCredentialsEnd(
  source: AsyncIterable<ExecutionResult>,
  watch: CredentialWatch,
  principal: Principal,
  since: number,
): AsyncGenerator<ExecutionResult, undefined, undefined> {
  const it = source[Symbol.asyncIterator]();
  let last: ExecutionResult | undefined;
  let finished = false;
  let stop!: () => void;
  const stopped = new Promise<typeof DONE>((resolve) => {
    stop = () => resolve(DONE);
  });
  const endWith = (error: TroupeServerError) => {
    last = { errors: [error] };
    stop();
  };
  const unwatch = watch.watch(principal, since, {
    revoked: () => endWith(new TroupeServerError('FORBIDDEN', revokedMessage(principal))),
    expired: () => endWith(new TroupeServerError('UNAUTHENTICATED', EXPIRED_TOKEN_MESSAGE)),
  });
  /** Ends the stream; the source's end is not waited for (a pending next may hold it up). */
  const finish = () => {
    if (finished) return;
    finished = true;
    unwatch();
    stop();
    Promise.resolve(it.return?.()).catch(() => {});
  };
  const out: AsyncGenerator<ExecutionResult, undefined, undefined> = {
    async next() {
      if (!finished && !last) {
        const pending = it.next();
        let r: IteratorResult<ExecutionResult> | typeof DONE;
        try {
          r = await Promise.race([pending, stopped]);
        } catch (error) {
          // The source failed (a log read, say): nothing calls return() after an error, so the
          // credential watch ends here.
          finish();
          throw error;
        }
        if (r !== DONE) {
          if (r.done) finish();
          return r.done ? DONE : r;
        }
        pending.catch(() => {});
      }
      if (finished && !last) return DONE;
      const value = last;
      last = undefined;
      finish();
      return value ? { done: false, value } : DONE;
    },
    async return() {
      finish();
      return DONE;
    },
    async throw(error: unknown) {
      finish();
      throw error;
    },
    [Symbol.asyncIterator]() {
      return out;
    },
  };
  return out;
}

/**
 * Subscriptions served over HTTP (SSE, multipart) end when their credentials do: the key is revoked
 * (on any server: the auth cache's invalidation) or the session token expires. WebSocket
 * connections are closed instead, whole (websocket-subscriptions.ts).
 */
export function useCredentialEnd(watch: CredentialWatch): Plugin<Context> {
  return {
    onSubscribe({ args }) {
      const ctx = args.contextValue as Context;
      if (ctx.transport === 'websocket' || ctx.principal.kind === 'admin') return;
      return {
        onSubscribeResult({ result, setResult }) {
          if (!(Symbol.asyncIterator in result)) return;
          setResult(untilCredentialsEnd(result, watch, ctx.principal, ctx.authenticatedSince));
        },
      };
    },
  };
}
