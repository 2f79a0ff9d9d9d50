import type { Principal } from './principal.js';

/** setTimeout's longest delay (2^31-1 ms, about 24.8 days); longer ones fire at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;
/** Recent revocations remembered for connections still authenticating (see `watch`'s `since`). */
const RECENT_REVOCATIONS = 10_000;

/** What a watched connection or stream does when its credentials end. Each is called at most once. */
export interface CredentialEndHandlers {
  /** The API key (or the key that issued the session token) was revoked. */
  revoked(): void;
  /** The session token expired (never called for API keys, which do not expire). */
  expired(): void;
}

/**
 * The long-lived connections and streams of one server instance (WebSockets, SSE responses), by the
 * API key behind their credentials, so that revoking the key ends them and a session token's
 * expiry ends those it authenticated. Everything registered is removed when it ends (unwatch) or
 * its credentials end: the registry holds only what is open.
 */
export interface CredentialWatch {
  /**
   * The revocation counter now. Read it before authenticating and pass it to `watch`: a key revoked
   * between the two (after authentication read it live) still ends what was authenticated with it.
   */
  since(): number;
  /**
   * Watches a principal's credentials until the returned function is called (the connection or
   * stream closed). The admin key is not watched (nothing revokes it).
   */
  watch(principal: Principal, since: number, handlers: CredentialEndHandlers): () => void;
  /** The key was revoked: ends everything it authenticated on this instance. Idempotent. */
  revoke(tenantId: string, keyId: string): void;
  /** The keys with something watched (to check against the database when revocations may have been missed). */
  watchedKeys(): { tenantId: string; keyId: string }[];
  /** Connections and streams watched. */
  size(): number;
  /** Distinct keys with something watched. */
  keys(): number;
}

interface Watcher {
  handlers: CredentialEndHandlers;
  timer?: NodeJS.Timeout;
  ended: boolean;
}

const keyOf = (tenantId: string, keyId: string) => `${tenantId}:${keyId}`;

export function createCredentialWatch(): CredentialWatch {
  const byKey = new Map<string, Set<Watcher>>();
  /** Key -> the counter value its latest revocation set, oldest first, at most RECENT_REVOCATIONS. */
  const recent = new Map<string, number>();
  let counter = 0;
  let watched = 0;

  const remove = (id: string, w: Watcher) => {
    if (w.ended) return false;
    w.ended = true;
    if (w.timer) clearTimeout(w.timer);
    const set = byKey.get(id);
    if (set?.delete(w)) {
      watched--;
      if (set.size === 0) byKey.delete(id);
    }
    return true;
  };

  const end = (id: string, w: Watcher, why: keyof CredentialEndHandlers) => {
    if (!remove(id, w)) return;
    try {
      w.handlers[why]();
    } catch (err) {
      console.error('troupe: ending a connection whose credentials ended failed:', err);
    }
  };

  /** Fires at `at` (ms since the epoch), in steps no longer than setTimeout allows. */
  const expireAt = (id: string, w: Watcher, at: number) => {
    const left = at - Date.now();
    if (left <= 0) {
      end(id, w, 'expired');
      return;
    }
    w.timer = setTimeout(() => expireAt(id, w, at), Math.min(left, MAX_TIMER_MS));
    w.timer.unref();
  };

  return {
    since: () => counter,
    watch(principal, since, handlers) {
      if (principal.kind === 'admin') return () => {};
      const id = keyOf(principal.tenantId, principal.keyId);
      const w: Watcher = { handlers, ended: false };
      let set = byKey.get(id);
      if (!set) {
        set = new Set();
        byKey.set(id, set);
      }
      set.add(w);
      watched++;
      if ((recent.get(id) ?? -1) > since) {
        // Revoked while it authenticated: ended as soon as the caller has its unwatch function.
        queueMicrotask(() => end(id, w, 'revoked'));
      } else if (principal.kind === 'session') {
        // A timer only where it may fire: a token that has not expired yet (0 ms: expired already).
        const at = principal.expiresAt.getTime();
        if (at - Date.now() <= 0) queueMicrotask(() => end(id, w, 'expired'));
        else expireAt(id, w, at);
      }
      return () => void remove(id, w);
    },
    revoke(tenantId, keyId) {
      const id = keyOf(tenantId, keyId);
      counter++;
      recent.delete(id);
      recent.set(id, counter);
      if (recent.size > RECENT_REVOCATIONS) recent.delete(recent.keys().next().value!);
      const set = byKey.get(id);
      if (!set) return;
      for (const w of [...set]) end(id, w, 'revoked');
    },
    watchedKeys: () =>
      [...byKey.keys()].map((id) => {
        const at = id.indexOf(':');
        return { tenantId: id.slice(0, at), keyId: id.slice(at + 1) };
      }),
    size: () => watched,
    keys: () => byKey.size,
  };
}
