-- AlterTable
ALTER TABLE "Run" ADD COLUMN     "subject" TEXT;
