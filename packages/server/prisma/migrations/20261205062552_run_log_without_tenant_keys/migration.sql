-- Troupe: a run's events and task runs keep their tenant (row-level security) without a foreign key
-- to Tenant of their own. The run's foreign key removes them with the run (and the run goes with its
-- tenant); the extra key had every event and task run written lock the tenant's row (FOR KEY SHARE,
-- shared by every run of the tenant under way) and fill an index that no query reads.

-- DropForeignKey
ALTER TABLE "RunEvent" DROP CONSTRAINT "RunEvent_tenantId_fkey";

-- DropForeignKey
ALTER TABLE "TaskRun" DROP CONSTRAINT "TaskRun_tenantId_fkey";

-- DropIndex
DROP INDEX "RunEvent_tenantId_idx";

-- DropIndex
DROP INDEX "TaskRun_tenantId_idx";
