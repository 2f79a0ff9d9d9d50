import { createHmac, randomUUID } from 'node:crypto';
import { decodeJwt, errors as joseErrors, jwtVerify, SignJWT } from 'jose';
import { TroupeServerError } from '../errors.js';
import { isScope, type Scope } from './scopes.js';

const ISSUER = 'troupe';
const AUDIENCE = 'troupe-session';
export const MAX_SESSION_TTL_SECONDS = 24 * 60 * 60;
export const DEFAULT_SESSION_TTL_SECONDS = 60 * 60;

/** Each tenant's tokens are signed with its own key, so a token cannot be moved to another tenant. */
function tenantKey(secret: string, tenantId: string): Uint8Array {
  return new Uint8Array(createHmac('sha256', secret).update(`troupe-session:${tenantId}`).digest());
}

export interface SessionClaims {
  tenantId: string;
  keyId: string;
  subject: string;
  scopes: Scope[];
  threadIds?: string[];
}

export async function signSessionToken(
  secret: string,
  claims: SessionClaims,
  ttlSeconds: number,
): Promise<{ token: string; expiresAt: Date }> {
  const now = Math.floor(Date.now() / 1000);
  const exp = now + ttlSeconds;
  const token = await new SignJWT({
    tid: claims.tenantId,
    kid: claims.keyId,
    scp: claims.scopes,
    ...(claims.threadIds ? { thr: claims.threadIds } : {}),
  })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(claims.subject)
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setIssuedAt(now)
    .setExpirationTime(exp)
    .setJti(randomUUID())
    .sign(tenantKey(secret, claims.tenantId));
  return { token, expiresAt: new Date(exp * 1000) };
}

const unauthenticated = (why: string) =>
  new TroupeServerError('UNAUTHENTICATED', `Invalid session token: ${why}`);

/** Verifies signature, issuer, audience and expiry. The caller still checks the minting key. */
export async function verifySessionToken(
  secret: string,
  token: string,
): Promise<SessionClaims & { expiresAt: Date }> {
  let tid: unknown;
  try {
    tid = decodeJwt(token).tid;
  } catch {
    throw unauthenticated('it is not a well-formed JWT');
  }
  if (typeof tid !== 'string' || !tid) throw unauthenticated('it names no tenant');
  try {
    const { payload } = await jwtVerify(token, tenantKey(secret, tid), {
      issuer: ISSUER,
      audience: AUDIENCE,
      algorithms: ['HS256'],
    });
    const scopes = Array.isArray(payload.scp)
      ? payload.scp.filter((s): s is Scope => typeof s === 'string' && isScope(s))
      : [];
    const thr = payload.thr;
    return {
      tenantId: tid,
      keyId: String(payload.kid ?? ''),
      subject: String(payload.sub ?? ''),
      scopes,
      ...(Array.isArray(thr) ? { threadIds: thr.map(String) } : {}),
      expiresAt: new Date((payload.exp ?? 0) * 1000),
    };
  } catch (err) {
    if (err instanceof joseErrors.JWTExpired) throw unauthenticated('it has expired; mint a new one');
    if (err instanceof joseErrors.JWSSignatureVerificationFailed) {
      throw unauthenticated(
        'its signature does not match (tampered, or issued for another tenant or server)',
      );
    }
    if (err instanceof joseErrors.JWTClaimValidationFailed)
      throw unauthenticated(`claim "${err.claim}" ${err.reason}`);
    throw unauthenticated('it could not be verified');
  }
}
