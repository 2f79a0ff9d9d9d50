import type { Database } from '../db/database.js';
import { joinSql, sql } from '../db/sql-text.js';
import type { CredentialWatch } from './credential-watch.js';

/**
 * Ends what keys revoked behind this instance's back authenticated: revocations travel on the event
 * bus, and a bus that lost its connection (a Redis restart) may have missed some. Every key with a
 * live connection or stream is checked against the database (one script per tenant); revoked or
 * deleted ones end their connections as a revocation message would have.
 */
export async function recheckRevocations(database: Database, watch: CredentialWatch): Promise<number> {
  const byTenant = new Map<string, string[]>();
  for (const { tenantId, keyId } of watch.watchedKeys()) {
    const ids = byTenant.get(tenantId) ?? [];
    ids.push(keyId);
    byTenant.set(tenantId, ids);
  }
  let ended = 0;
  for (const [tenantId, keyIds] of byTenant) {
    const [rows] = await database.script({ 'app.tenant_id': tenantId }, [
      sql`SELECT "id" FROM "ApiKey" WHERE "id" IN (${joinSql(keyIds.map((id) => sql`${id}`))}) AND "revokedAt" IS NULL`,
    ]);
    const live = new Set(rows!.map((r) => r.id as string));
    for (const keyId of keyIds) {
      if (live.has(keyId)) continue;
      watch.revoke(tenantId, keyId);
      ended++;
    }
  }
  return ended;
}
