-- AlterEnum
ALTER TYPE "RunEventType" ADD VALUE 'MESSAGE_CREATED';

-- AlterTable
ALTER TABLE "Run" ADD COLUMN     "waitingForThread" BOOLEAN NOT NULL DEFAULT false;

-- AlterTable
ALTER TABLE "RunEvent" ADD COLUMN     "threadId" TEXT,
ADD COLUMN     "threadSeq" INTEGER;

-- AlterTable
ALTER TABLE "Thread" ADD COLUMN     "historyTokens" INTEGER NOT NULL DEFAULT 4000;

-- CreateIndex
CREATE UNIQUE INDEX "RunEvent_threadId_threadSeq_key" ON "RunEvent"("threadId", "threadSeq");

-- CreateIndex
CREATE INDEX "Thread_tenantId_subject_createdAt_idx" ON "Thread"("tenantId", "subject", "createdAt");

-- AddForeignKey
ALTER TABLE "RunEvent" ADD CONSTRAINT "RunEvent_threadId_fkey" FOREIGN KEY ("threadId") REFERENCES "Thread"("id") ON DELETE CASCADE ON UPDATE CASCADE;
