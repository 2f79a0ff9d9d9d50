-- DropIndex
DROP INDEX "DocumentChunk_tenantId_idx";

-- AlterTable
ALTER TABLE "Document" ADD COLUMN     "attempts" INTEGER NOT NULL DEFAULT 0,
ADD COLUMN     "chunkCount" INTEGER NOT NULL DEFAULT 0,
ADD COLUMN     "embeddedCount" INTEGER NOT NULL DEFAULT 0,
ADD COLUMN     "embeddingModel" TEXT,
ADD COLUMN     "notBefore" TIMESTAMP(3),
ADD COLUMN     "source" BYTEA,
ADD COLUMN     "subject" TEXT;

-- AlterTable
ALTER TABLE "DocumentChunk" ADD COLUMN     "embedding" REAL[],
ADD COLUMN     "embeddingModel" TEXT NOT NULL DEFAULT '';

-- CreateIndex
CREATE INDEX "Document_status_notBefore_idx" ON "Document"("status", "notBefore");

-- CreateIndex
CREATE INDEX "DocumentChunk_tenantId_embeddingModel_idx" ON "DocumentChunk"("tenantId", "embeddingModel");

-- Row-level security (Troupe): the ingest loop claims due documents of every tenant (ids and tenant
-- only), then processes each in its own tenant's transaction.
CREATE POLICY document_ingest_read ON "Document" FOR SELECT USING ("status" IN ('PENDING', 'PROCESSING') AND current_setting('app.document_ingest', true) = 'on');
CREATE POLICY document_ingest_claim ON "Document" FOR UPDATE USING ("status" IN ('PENDING', 'PROCESSING') AND current_setting('app.document_ingest', true) = 'on') WITH CHECK ("status" IN ('PENDING', 'PROCESSING') AND current_setting('app.document_ingest', true) = 'on');
