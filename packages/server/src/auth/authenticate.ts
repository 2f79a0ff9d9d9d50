import { createHash, timingSafeEqual } from 'node:crypto';
import type { Database } from '../db/database.js';
import { sql } from '../db/sql-text.js';
import { TroupeServerError } from '../errors.js';
import { ADMIN_KEY_PREFIX, API_KEY_PREFIX, hashSecret } from './api-keys.js';
import type { ApiKeyRecord, AuthCache } from './auth-cache.js';
import type { Principal } from './principal.js';
import { isScope, type Scope } from './scopes.js';
import { verifySessionToken } from './session-tokens.js';

export interface AuthSettings {
  adminKey?: string;
  secret: string;
}

/** lastUsedAt is written at most this often per key (and server instance). */
const LAST_USED_RESOLUTION_MS = 60_000;

function sameSecret(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a).digest();
  const hb = createHash('sha256').update(b).digest();
  return timingSafeEqual(ha, hb);
}

/** Extracts the token from an `Authorization: Bearer <token>` header value. */
export function bearerToken(header: string | null | undefined): string | undefined {
  if (!header) return undefined;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return m?.[1];
}

const unauthenticated = (message: string) => new TroupeServerError('UNAUTHENTICATED', message);

/** What authentication reads: the database, through this server instance's cache. */
export interface AuthDeps {
  database: Database;
  settings: AuthSettings;
  authCache: AuthCache;
}

const ms = (v: unknown) => (v == null ? null : Number(v));

async function loadApiKey(db: Database, hash: string): Promise<ApiKeyRecord | undefined> {
  // One round trip (the policy shows the one key whose hash the transaction holds, see
  // withApiKeyHash), paid once per key per AUTH_CACHE_TTL_MS and server instance.
  const [rows] = await db.script({ 'app.api_key_hash': hash }, [
    sql`SELECT "id", "tenantId", "scopes",
  (extract(epoch FROM "revokedAt") * 1000)::float8 AS "revokedAtMs",
  (extract(epoch FROM "lastUsedAt") * 1000)::float8 AS "lastUsedAtMs"
FROM "ApiKey" WHERE "hashedSecret" = ${hash}`,
  ]);
  const row = rows![0];
  if (!row) return undefined;
  const revokedAtMs = ms(row.revokedAtMs);
  return {
    id: row.id as string,
    tenantId: row.tenantId as string,
    scopes: (row.scopes as string[]).filter(isScope) as Scope[],
    revokedAt: revokedAtMs == null ? null : new Date(revokedAtMs),
    lastUsedAtMs: ms(row.lastUsedAtMs),
  };
}

/**
 * Turns a bearer token into a Principal: the admin key, a tenant API key (trp_...) or a session
 * token (JWT). Anything else, or a revoked or unknown key, is UNAUTHENTICATED. Live keys are
 * cached per server instance (see auth-cache.ts): revocation evicts them on every instance.
 */
export async function authenticate(deps: AuthDeps, token: string | undefined): Promise<Principal> {
  const { database: db, settings, authCache } = deps;
  if (!token) {
    throw unauthenticated(
      'Authentication required: send "Authorization: Bearer <API key or session token>".',
    );
  }
  if (token.startsWith(ADMIN_KEY_PREFIX)) {
    if (settings.adminKey && sameSecret(token, settings.adminKey)) return { kind: 'admin' };
    throw unauthenticated('Invalid admin key.');
  }
  if (token.startsWith(API_KEY_PREFIX)) {
    const hash = hashSecret(token);
    const key = await authCache.apiKey(hash, () => loadApiKey(db, hash));
    if (!key) throw unauthenticated('Invalid API key.');
    if (key.revokedAt) throw unauthenticated(`This API key was revoked at ${key.revokedAt.toISOString()}.`);
    const now = Date.now();
    if (key.lastUsedAtMs == null || now - key.lastUsedAtMs > LAST_USED_RESOLUTION_MS) {
      // Best effort, off the request path; recorded on the (cached) record so that the requests
      // that follow do not write it again.
      key.lastUsedAtMs = now;
      db.withTenant(key.tenantId, (tx) =>
        tx.apiKey.update({ where: { id: key.id }, data: { lastUsedAt: new Date(now) } }),
      ).catch(() => {});
    }
    return { kind: 'apiKey', tenantId: key.tenantId, keyId: key.id, scopes: key.scopes };
  }
  if (token.split('.').length === 3) {
    const claims = await verifySessionToken(settings.secret, token);
    const key = await authCache.issuingKey(claims.tenantId, claims.keyId, () =>
      db.withTenant(claims.tenantId, (tx) =>
        tx.apiKey.findUnique({ where: { id: claims.keyId }, select: { revokedAt: true } }),
      ),
    );
    if (!key)
      throw unauthenticated(
        'Invalid session token: the API key that issued it does not exist in its tenant.',
      );
    if (key.revokedAt)
      throw unauthenticated('Invalid session token: the API key that issued it has been revoked.');
    return {
      kind: 'session',
      tenantId: claims.tenantId,
      keyId: claims.keyId,
      subject: claims.subject,
      scopes: claims.scopes,
      ...(claims.threadIds ? { threadIds: claims.threadIds } : {}),
      expiresAt: claims.expiresAt,
    };
  }
  throw unauthenticated(
    'Unrecognised credentials: expected an API key (trp_...), an admin key or a session token.',
  );
}
