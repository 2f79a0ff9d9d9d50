import type { EventBus } from '../events/event-bus.js';
import type { Scope } from './scopes.js';

/**
 * How long a server trusts what it read about a live API key before reading it again. Revocation
 * is also announced on the bus (AUTH_INVALIDATION_CHANNEL) and evicts at once on every server: this
 * bound only matters when that message is lost (Redis unreachable at the time), and for keys changed
 * behind the server's back (SQL by hand).
 */
export const AUTH_CACHE_TTL_MS = 5_000;
/** Entries per map (API keys by hash, issuing keys of session tokens): least recently used go first. */
export const AUTH_CACHE_MAX_ENTRIES = 10_000;
/** The bus channel on which a server tells all servers (itself included) to forget a key. */
export const AUTH_INVALIDATION_CHANNEL = 'auth-invalidation';

/** What authentication needs of an API key row. */
export interface ApiKeyRecord {
  id: string;
  tenantId: string;
  scopes: Scope[];
  revokedAt: Date | null;
  /**
   * When lastUsedAt was last written (or read from the row), ms since the epoch. Authentication
   * advances it on the cached record when it writes, so a cached key is written at most once per
   * LAST_USED_RESOLUTION_MS, as without the cache.
   */
  lastUsedAtMs: number | null;
}

/** What a session token's check needs of the key that issued it; null: no such key in its tenant. */
export type IssuingKeyRecord = { revokedAt: Date | null } | null;

export interface AuthCacheOptions {
  /** Default AUTH_CACHE_TTL_MS. */
  ttlMs?: number;
  /** Default AUTH_CACHE_MAX_ENTRIES. */
  maxEntries?: number;
}

/**
 * The API keys one server instance has recently found live, so that authenticating a request costs
 * no database round trip. Only live keys are kept: unknown, revoked and deleted ones are read from
 * the database every time (a flood of made-up keys would not hit a cache of misses anyway).
 */
export interface AuthCache {
  /** The key whose secret hashes to `hash`: from the cache, else from `load` (kept if live). */
  apiKey(hash: string, load: () => Promise<ApiKeyRecord | undefined>): Promise<ApiKeyRecord | undefined>;
  /** The key that issued a session token: from the cache, else from `load` (kept if live). */
  issuingKey(
    tenantId: string,
    keyId: string,
    load: () => Promise<IssuingKeyRecord>,
  ): Promise<IssuingKeyRecord>;
  /**
   * Forgets a key on this instance only and tells the `onInvalidate` listeners (what the bus message
   * does on each).
   */
  evict(tenantId: string, keyId: string): void;
  /**
   * Forgets a key on this instance at once and on every other one through the bus. Call it once the
   * change (revocation) is committed. A failed publish is logged, not thrown: the TTL bounds it.
   */
  invalidate(tenantId: string, keyId: string): Promise<void>;
  /**
   * Calls `listener` on every invalidation this instance learns of (its own, then the bus echo, and
   * other servers'), once the key is evicted: what ends the connections the key authenticated.
   * Not called by `clear`. Returns a function that removes the listener.
   */
  onInvalidate(listener: (tenantId: string, keyId: string) => void): () => void;
  /** Forgets everything (the bus reconnected: invalidations may have been missed). */
  clear(): void;
  /** Entries held (both maps). */
  size(): number;
  /** Stops listening to the bus. */
  close(): Promise<void>;
}

interface Entry<V> {
  value: V;
  expiresAt: number;
}

/** A Map in least-recently-used order with a size bound and per-entry expiry. */
class TtlLru<V> {
  private readonly map = new Map<string, Entry<V>>();
  constructor(
    private readonly ttlMs: number,
    private readonly max: number,
  ) {}

  get(key: string, now: number): V | undefined {
    const e = this.map.get(key);
    if (!e) return undefined;
    this.map.delete(key);
    if (e.expiresAt <= now) return undefined;
    this.map.set(key, e);
    return e.value;
  }

  set(key: string, value: V, now: number): void {
    this.map.delete(key);
    this.map.set(key, { value, expiresAt: now + this.ttlMs });
    if (this.map.size > this.max) this.map.delete(this.map.keys().next().value!);
  }

  delete(key: string): void {
    this.map.delete(key);
  }

  deleteWhere(test: (value: V) => boolean): void {
    for (const [k, e] of this.map) if (test(e.value)) this.map.delete(k);
  }

  clear(): void {
    this.map.clear();
  }

  get size(): number {
    return this.map.size;
  }
}

interface InvalidationMessage {
  tenantId: string;
  keyId: string;
}

function decodeInvalidation(raw: string): InvalidationMessage | undefined {
  try {
    const m = JSON.parse(raw) as Partial<InvalidationMessage>;
    if (typeof m.tenantId === 'string' && typeof m.keyId === 'string')
      return { tenantId: m.tenantId, keyId: m.keyId };
  } catch {}
  return undefined;
}

const issuingKeyId = (tenantId: string, keyId: string) => `${tenantId}\n${keyId}`;

/**
 * One server instance's cache, listening for invalidations on the bus (resolves once subscribed).
 * Create one per server, not per process: servers sharing a process behave as separate instances.
 */
export async function startAuthCache(bus: EventBus, opts: AuthCacheOptions = {}): Promise<AuthCache> {
  const ttlMs = opts.ttlMs ?? AUTH_CACHE_TTL_MS;
  const max = opts.maxEntries ?? AUTH_CACHE_MAX_ENTRIES;
  const byHash = new TtlLru<ApiKeyRecord>(ttlMs, max);
  const issuing = new TtlLru<true>(ttlMs, max);
  // Bumped by every eviction: a lookup that started before one may have read the key as it was
  // before the revocation committed, so its answer is used for its request but not kept.
  let generation = 0;
  const listeners = new Set<(tenantId: string, keyId: string) => void>();

  const evict = (tenantId: string, keyId: string) => {
    generation++;
    byHash.deleteWhere((k) => k.id === keyId);
    issuing.delete(issuingKeyId(tenantId, keyId));
    for (const listener of listeners) {
      try {
        listener(tenantId, keyId);
      } catch (err) {
        console.error(`troupe: a listener of key ${keyId}'s revocation failed:`, err);
      }
    }
  };
  const clear = () => {
    generation++;
    byHash.clear();
    issuing.clear();
  };

  const unsubscribe = await bus.subscribe(
    AUTH_INVALIDATION_CHANNEL,
    (raw) => {
      const m = decodeInvalidation(raw);
      if (m) evict(m.tenantId, m.keyId);
      else clear();
    },
    { uncounted: true },
  );
  const stopReconnect = bus.onReconnect(clear);

  return {
    async apiKey(hash, load) {
      const hit = byHash.get(hash, performance.now());
      if (hit) return hit;
      const since = generation;
      const key = await load();
      if (key && !key.revokedAt && since === generation) byHash.set(hash, key, performance.now());
      return key;
    },
    async issuingKey(tenantId, keyId, load) {
      const id = issuingKeyId(tenantId, keyId);
      if (issuing.get(id, performance.now())) return { revokedAt: null };
      const since = generation;
      const key = await load();
      if (key && !key.revokedAt && since === generation) issuing.set(id, true, performance.now());
      return key;
    },
    evict,
    async invalidate(tenantId, keyId) {
      evict(tenantId, keyId);
      try {
        await bus.publish(
          AUTH_INVALIDATION_CHANNEL,
          JSON.stringify({ tenantId, keyId } satisfies InvalidationMessage),
        );
      } catch (err) {
        console.error(
          `troupe: key ${keyId} revoked, but other servers could not be told (they notice within ${ttlMs} ms):`,
          err,
        );
      }
    },
    onInvalidate(listener) {
      listeners.add(listener);
      return () => void listeners.delete(listener);
    },
    clear,
    size: () => byHash.size + issuing.size,
    async close() {
      stopReconnect();
      await unsubscribe();
      listeners.clear();
      clear();
    },
  };
}
