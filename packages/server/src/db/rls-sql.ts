// SQL that wraps a generated migration with the security the Prisma schema cannot express:
// the application role, its grants, and row-level security on every tenant-owned table.

const PREAMBLE = `-- Troupe: the application role. Neither superuser nor BYPASSRLS, so row-level security binds it.
DO $$
BEGIN
  CREATE ROLE troupe_app NOLOGIN;
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
END $$;
GRANT USAGE ON SCHEMA public TO troupe_app;

-- Troupe: the role of work across tenants (run recovery, webhook delivery, document processing),
-- whose policies are granted to it alone. See the run_document_list_indexes migration.
DO $$
BEGIN
  CREATE ROLE troupe_system NOLOGIN;
EXCEPTION
  WHEN duplicate_object OR unique_violation THEN NULL;
  WHEN insufficient_privilege THEN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'troupe_system') THEN
      RAISE EXCEPTION 'troupe: the role troupe_system is missing and % cannot create it (%): as a database administrator, CREATE ROLE troupe_system NOLOGIN; GRANT troupe_app TO troupe_system; GRANT troupe_app, troupe_system TO %', current_user, SQLERRM, current_user;
    END IF;
END $$;
-- Granted again even where a membership exists: on PostgreSQL 16 a role's creator holds it with
-- the admin option only, which lets it grant the role but not take it.
DO $$
BEGIN
  GRANT troupe_app TO troupe_system;
EXCEPTION
  WHEN duplicate_object OR unique_violation THEN NULL;
  WHEN insufficient_privilege OR invalid_grant_operation THEN
    RAISE NOTICE 'troupe: % could not grant troupe_app to troupe_system (%)', current_user, SQLERRM;
END $$;
DO $$
BEGIN
  IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
    GRANT troupe_app, troupe_system TO CURRENT_USER;
  END IF;
EXCEPTION
  WHEN duplicate_object OR unique_violation THEN NULL;
  WHEN insufficient_privilege OR invalid_grant_operation THEN
    RAISE NOTICE 'troupe: % could not grant itself troupe_app and troupe_system (%)', current_user, SQLERRM;
END $$;

-- pgvector where the server has it (PGlite always does); document search degrades without it.
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'vector') THEN
    CREATE EXTENSION IF NOT EXISTS vector;
  END IF;
END $$;

`;

/** Appends grants and tenant policies for each table the migration creates. */
export function rlsStatements(generated: string, opts: { first: boolean }): string {
  const tables = [...generated.matchAll(/CREATE TABLE "(\w+)" \(([\s\S]*?)\n\);/g)].map((m) => ({
    name: m[1]!,
    tenantOwned: /\n\s+"tenantId" TEXT NOT NULL/.test(m[2]!),
  }));
  const lines: string[] = [];
  for (const t of tables) {
    lines.push(`GRANT SELECT, INSERT, UPDATE, DELETE ON "${t.name}" TO troupe_app;`);
    const key = t.name === 'Tenant' ? '"id"' : t.tenantOwned ? '"tenantId"' : undefined;
    if (!key) continue;
    lines.push(
      `ALTER TABLE "${t.name}" ENABLE ROW LEVEL SECURITY;`,
      `ALTER TABLE "${t.name}" FORCE ROW LEVEL SECURITY;`,
      `CREATE POLICY tenant_isolation ON "${t.name}" USING (${key} = current_setting('app.tenant_id', true)) WITH CHECK (${key} = current_setting('app.tenant_id', true));`,
    );
    if (t.name === 'ApiKey') {
      lines.push(
        `-- Authentication: a key row is visible to whoever presents the hash of its secret.`,
        `CREATE POLICY api_key_by_hash ON "ApiKey" FOR SELECT USING ("hashedSecret" = current_setting('app.api_key_hash', true));`,
      );
    }
    if (t.name === 'InboundHook') {
      lines.push(
        `-- Inbound hooks: the one hook of the crew named in the request URL, before its tenant is known.`,
        `CREATE POLICY inbound_hook_by_crew ON "InboundHook" FOR SELECT USING ("crewId" = current_setting('app.inbound_hook_crew', true));`,
      );
    }
    if (t.name === 'WebhookDelivery') {
      lines.push(
        `-- The delivery loop (as troupe_system) claims due PENDING deliveries of every tenant (ids and`,
        `-- tenant only), then works on each in its own tenant's transaction.`,
        `CREATE POLICY webhook_dispatch_read ON "WebhookDelivery" FOR SELECT TO troupe_system USING ("status" = 'PENDING' AND current_setting('app.webhook_dispatch', true) = 'on');`,
        `CREATE POLICY webhook_dispatch_claim ON "WebhookDelivery" FOR UPDATE TO troupe_system USING ("status" = 'PENDING' AND current_setting('app.webhook_dispatch', true) = 'on') WITH CHECK ("status" = 'PENDING' AND current_setting('app.webhook_dispatch', true) = 'on');`,
      );
    }
  }
  const rls = lines.length ? `\n-- Row-level security and grants (Troupe)\n${lines.join('\n')}\n` : '';
  return (opts.first ? PREAMBLE : '') + generated + rls;
}
