import { createHash, timingSafeEqual } from 'node:crypto';
import type { Database } from '../db/database.js';
import { sql } from '../db/sql-text.js';
import { TroupeServerError } from '../errors.js';
import { ADMIN_KEY_PREFIX, API_KEY_PREFIX, hashSecret } from './api-keys.js';
import type { Principal } from './principal.js';
import { isScope, type Scope } from './scopes.js';
import { verifySessionToken } from './session-tokens.js';

export interface AuthSettings {
  adminKey?: string;
  secret: string;
}

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

/**
 * Turns a bearer token into a Principal: the admin key, a tenant API key (trp_...) or a session
 * token (JWT). Anything else, or a revoked or unknown key, is UNAUTHENTICATED.
 */
export async function authenticate(
  db: Database,
  settings: AuthSettings,
  token: string | undefined,
): Promise<Principal> {
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
    // Every request pays for this lookup: one round trip (the policy shows the one key whose hash
    // the transaction holds, see withApiKeyHash).
    const [rows] = await db.script({ 'app.api_key_hash': hash }, [
      sql`SELECT "id", "tenantId", "scopes",
  (extract(epoch FROM "revokedAt") * 1000)::float8 AS "revokedAtMs",
  (extract(epoch FROM "lastUsedAt") * 1000)::float8 AS "lastUsedAtMs"
FROM "ApiKey" WHERE "hashedSecret" = ${hash}`,
    ]);
    const row = rows![0];
    if (!row) throw unauthenticated('Invalid API key.');
    const ms = (v: unknown) => (v == null ? null : new Date(Number(v)));
    const key = {
      id: row.id as string,
      tenantId: row.tenantId as string,
      scopes: row.scopes as string[],
      revokedAt: ms(row.revokedAtMs),
      lastUsedAt: ms(row.lastUsedAtMs),
    };
    if (key.revokedAt) throw unauthenticated(`This API key was revoked at ${key.revokedAt.toISOString()}.`);
    if (!key.lastUsedAt || Date.now() - key.lastUsedAt.getTime() > LAST_USED_RESOLUTION_MS) {
      // Best effort, off the request path.
      db.withTenant(key.tenantId, (tx) =>
        tx.apiKey.update({ where: { id: key.id }, data: { lastUsedAt: new Date() } }),
      ).catch(() => {});
    }
    return {
      kind: 'apiKey',
      tenantId: key.tenantId,
      keyId: key.id,
      scopes: key.scopes.filter(isScope) as Scope[],
    };
  }
  if (token.split('.').length === 3) {
    const claims = await verifySessionToken(settings.secret, token);
    const key = await db.withTenant(claims.tenantId, (tx) =>
      tx.apiKey.findUnique({ where: { id: claims.keyId }, select: { revokedAt: true } }),
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
