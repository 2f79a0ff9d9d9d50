-- Troupe: listings read newest first by id (ids are time-ordered), so their indexes end in "id":
-- a tenant's runs (all, by status, by crew) and documents are read from the index in order instead
-- of sorting every row the tenant has. Unfinished runs, which recovery and the queue reconciler list
-- across tenants, get a small index of their own (only rows not yet finished are in it).
-- On a large "Run" table this migration holds writes to it while the indexes are built.

-- DropIndex
DROP INDEX "Document_tenantId_createdAt_id_idx";

-- DropIndex
DROP INDEX "Run_tenantId_createdAt_id_idx";

-- DropIndex
DROP INDEX "Run_tenantId_crewId_createdAt_idx";

-- DropIndex
DROP INDEX "Run_tenantId_status_createdAt_idx";

-- CreateIndex
CREATE INDEX "Document_tenantId_id_idx" ON "Document"("tenantId", "id");

-- CreateIndex
CREATE INDEX "Run_tenantId_id_idx" ON "Run"("tenantId", "id");

-- CreateIndex
CREATE INDEX "Run_tenantId_status_id_idx" ON "Run"("tenantId", "status", "id");

-- CreateIndex
CREATE INDEX "Run_tenantId_crewId_id_idx" ON "Run"("tenantId", "crewId", "id");

-- CreateIndex
CREATE INDEX "Run_unfinished_idx" ON "Run"("createdAt", "id") WHERE (status IN ('QUEUED', 'RUNNING', 'WAITING_FOR_APPROVAL') AND NOT "waitingForThread");

-- Work that reads across tenants (resuming unfinished runs, the webhook delivery loop, document
-- processing) runs as a role of its own, troupe_system, and the policies that let it do so apply to
-- that role alone. Before, they applied to every query as an OR beside tenant_isolation, which kept
-- the planner from using a tenant's condition as an index condition: listing a tenant's runs read
-- the whole table. Where the migrating user cannot create roles or grant them, a DBA does it
-- beforehand: CREATE ROLE troupe_system NOLOGIN; GRANT troupe_app TO troupe_system; and
-- GRANT troupe_system TO each troupe login. Servers refuse to start, naming the grant, without it.
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

-- Recovery reads only what it resumes: unfinished runs.
DROP POLICY run_recovery ON "Run";
CREATE POLICY run_recovery ON "Run" FOR SELECT TO troupe_system
  USING (status IN ('QUEUED', 'RUNNING', 'WAITING_FOR_APPROVAL') AND current_setting('app.run_recovery', true) = 'on');

DROP POLICY document_ingest_read ON "Document";
DROP POLICY document_ingest_claim ON "Document";
CREATE POLICY document_ingest_read ON "Document" FOR SELECT TO troupe_system
  USING (status IN ('PENDING', 'PROCESSING') AND current_setting('app.document_ingest', true) = 'on');
CREATE POLICY document_ingest_claim ON "Document" FOR UPDATE TO troupe_system
  USING (status IN ('PENDING', 'PROCESSING') AND current_setting('app.document_ingest', true) = 'on')
  WITH CHECK (status IN ('PENDING', 'PROCESSING') AND current_setting('app.document_ingest', true) = 'on');

DROP POLICY webhook_dispatch_read ON "WebhookDelivery";
DROP POLICY webhook_dispatch_claim ON "WebhookDelivery";
CREATE POLICY webhook_dispatch_read ON "WebhookDelivery" FOR SELECT TO troupe_system
  USING ("status" = 'PENDING' AND current_setting('app.webhook_dispatch', true) = 'on');
CREATE POLICY webhook_dispatch_claim ON "WebhookDelivery" FOR UPDATE TO troupe_system
  USING ("status" = 'PENDING' AND current_setting('app.webhook_dispatch', true) = 'on')
  WITH CHECK ("status" = 'PENDING' AND current_setting('app.webhook_dispatch', true) = 'on');
