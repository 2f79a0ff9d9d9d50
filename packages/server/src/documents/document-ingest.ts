import { randomUUID } from 'node:crypto';
import { encodeGlobalID } from '@pothos/plugin-relay';
import type { Embedder } from '@troupe/agents';
import { skipTenantsCondition, startClaimLoop } from '../db/claim-loop.js';
import { type Database, systemTransaction, type Tx } from '../db/database.js';
import { loadRuntime } from '../runs/execute-run.js';
import { realArray } from './document-search.js';
import { ExtractionError, extractText, type PdfLimits } from './extract-text.js';

/** Where the ingest loop gets its embedder (loaded on first use). */
export type EmbedderSource = () => Promise<Embedder>;

export interface DocumentIngestOptions {
  database: Database;
  embedder: EmbedderSource;
  /** How often pending documents are looked for. Default 1 s (an upload in this process wakes it at once). */
  pollMs?: number;
  /** Documents processed at once. Default 2. */
  concurrency?: number;
  /** Chunks per embedding request (and per stored batch: progress moves in these steps). Default 64. */
  batchSize?: number;
  /** Attempts per document before it is FAILED (retryable failures only). Default 5. */
  maxAttempts?: number;
  /** Wait after the first failed attempt; doubles after each. Default 5 s. */
  backoffMs?: number;
  /** How long a claim lasts without progress before another process may take the document. Default 120 s. */
  leaseSeconds?: number;
  /** Limits of the thread a PDF is read in (default: 1024 MB of heap, 300 s). */
  pdf?: PdfLimits;
}

export interface DocumentIngest {
  /** Looks for pending documents now (after an upload in this process). */
  wake(): void;
  /** Resolves once no due document is left and none is in progress here (tests). */
  drain(): Promise<void>;
  /** Stops claiming; documents in progress stop after their current batch and are resumed later. */
  close(): Promise<void>;
}

interface Claimed {
  id: string;
  tenantId: string;
  attempts: number;
  /** Its status before this claim: PROCESSING means the last attempt stopped without finishing. */
  was: 'PENDING' | 'PROCESSING';
}

/** This process's claim on a document was lost (deleted, or taken over after the lease ran out). */
class ClaimLost extends Error {}

/** The twin's chunks were not all there to copy. */
class TwinIncomplete extends Error {}

const utcNow = `(now() AT TIME ZONE 'UTC')`;

/**
 * Claims due documents of every tenant (PENDING, or PROCESSING whose lease ran out), atomically, with
 * FOR UPDATE SKIP LOCKED; the ingest policy exposes only those rows, only inside this transaction.
 */
async function claimDue(
  database: Database,
  limit: number,
  leaseSeconds: number,
  skipTenants: readonly string[],
): Promise<Claimed[]> {
  return database.prisma.$transaction(async (tx) => {
    await tx.$executeRawUnsafe(systemTransaction('app.document_ingest'));
    return tx.$queryRawUnsafe<Claimed[]>(
      `WITH due AS (
         SELECT id, status AS was FROM "Document"
          WHERE status IN ('PENDING', 'PROCESSING') AND ("notBefore" IS NULL OR "notBefore" <= ${utcNow})${skipTenantsCondition(skipTenants, 3)}
          ORDER BY "createdAt"
          LIMIT $2
          FOR UPDATE SKIP LOCKED)
       UPDATE "Document" d
          SET status = 'PROCESSING', attempts = d.attempts + 1,
              "notBefore" = ${utcNow} + make_interval(secs => $1), "updatedAt" = ${utcNow}
         FROM due
        WHERE d.id = due.id
        RETURNING d.id, d."tenantId", d.attempts, due.was::text AS was`,
      leaseSeconds,
      limit,
      ...skipTenants,
    );
  });
}

/** Locks the document row and checks this process still holds the claim it made. */
async function holdClaim(tx: Tx, c: Claimed): Promise<void> {
  const rows = await tx.$queryRawUnsafe<{ attempts: number; status: string }[]>(
    `SELECT attempts, status FROM "Document" WHERE id = $1 FOR UPDATE`,
    c.id,
  );
  const row = rows[0];
  if (!row || row.status !== 'PROCESSING' || row.attempts !== c.attempts) throw new ClaimLost();
}

const PERMANENT_CODES = new Set(['PROVIDER_AUTH', 'MODEL_NOT_FOUND', 'INVALID_ARGUMENT']);

/** Failures that another attempt cannot fix: the file, the key, the model, a provider 4xx. */
function isPermanent(err: unknown): boolean {
  if (err instanceof ExtractionError) return true;
  const e = err as { code?: string; details?: { retryable?: boolean } };
  return PERMANENT_CODES.has(e?.code ?? '') || e?.details?.retryable === false;
}

function errorText(err: unknown): string {
  const message = (err as Error)?.message ?? String(err);
  return message.length > 1000 ? `${message.slice(0, 1000)}…` : message;
}

/**
 * The document pipeline (in `troupe dev` / embedded servers and in `troupe worker`): extracts the text
 * of each pending document, splits it into chunks, embeds them in batches and stores each batch with
 * its vectors, moving `embeddedCount` (progress) as it goes. A document whose processing stops midway
 * (crash, restart, lost lease) resumes after its last stored batch. Retryable failures (provider
 * 429/5xx, timeouts, the database) are tried again with backoff up to maxAttempts; permanent ones
 * (unreadable file, provider 4xx such as a bad key or unknown model) FAIL the document at once, with
 * the reason in `error`.
 */
export function startDocumentIngest(opts: DocumentIngestOptions): DocumentIngest {
  const pollMs = opts.pollMs ?? 1000;
  const concurrency = opts.concurrency ?? 2;
  const batchSize = opts.batchSize ?? 64;
  const maxAttempts = opts.maxAttempts ?? 5;
  const backoffMs = opts.backoffMs ?? 5000;
  const leaseSeconds = opts.leaseSeconds ?? 120;
  const { database } = opts;
  const stop = new AbortController();

  const finish = (
    c: Claimed,
    data: { status: 'READY' | 'FAILED' | 'PENDING'; error: string | null; delayMs?: number },
  ) =>
    database.withTenant(c.tenantId, async (tx) => {
      await holdClaim(tx, c);
      await tx.$executeRawUnsafe(
        `UPDATE "Document" SET status = $2::"DocumentStatus", error = $3,
                "notBefore" = CASE WHEN $4::int > 0 THEN ${utcNow} + make_interval(secs => $4::int / 1000.0) ELSE NULL END,
                "updatedAt" = ${utcNow}
          WHERE id = $1`,
        c.id,
        data.status,
        data.error,
        data.delayMs ?? 0,
      );
    });

  const copyTwin = (
    c: Claimed,
    contentHash: string,
    mimeType: string,
    subject: string | null,
    model: string,
    chunkCount: number,
  ) =>
    database
      .withTenant(c.tenantId, async (tx) => {
        // The same bytes read as the same type (HTML and plain text of the same bytes differ).
        const twin = await tx.document.findFirst({
          where: {
            id: { not: c.id },
            contentHash,
            mimeType,
            status: 'READY',
            embeddingModel: model,
            chunkCount,
            OR: [{ subject: null }, { subject }],
          },
          select: { id: true },
        });
        if (!twin) return false;
        await holdClaim(tx, c);
        // Held READY while its chunks are copied: a twin being reprocessed meanwhile is no twin.
        const still = await tx.$queryRawUnsafe<unknown[]>(
          `SELECT 1 FROM "Document" WHERE id = $1 AND status = 'READY' FOR SHARE`,
          twin.id,
        );
        if (still.length === 0) return false;
        await tx.documentChunk.deleteMany({ where: { documentId: c.id } });
        const copied = await tx.$executeRawUnsafe(
          `INSERT INTO "DocumentChunk" (id, "tenantId", "documentId", index, content, "tokenCount", embedding, "embeddingModel")
           SELECT gen_random_uuid()::text, "tenantId", $1, index, content, "tokenCount", embedding, "embeddingModel"
             FROM "DocumentChunk" WHERE "documentId" = $2`,
          c.id,
          twin.id,
        );
        // Its chunks are not all there: embed this one itself (nothing copied is kept).
        if (copied !== chunkCount) throw new TwinIncomplete();
        await tx.$executeRawUnsafe(
          `UPDATE "Document" SET status = 'READY', error = NULL, "notBefore" = NULL, "chunkCount" = $2,
                  "embeddedCount" = $2, "embeddingModel" = $3, "updatedAt" = ${utcNow} WHERE id = $1`,
          c.id,
          chunkCount,
          model,
        );
        return true;
      })
      .catch((err) => {
        if (err instanceof TwinIncomplete) return false;
        throw err;
      });

  const ingest = async (c: Claimed) => {
    // Every earlier attempt was claimed and never ended (the process died, ran out of memory, or
    // outlived its lease): another one would most likely end the same way, and take down whatever
    // else that process was doing. It fails with the reason instead of being taken up forever.
    if (c.was === 'PROCESSING' && c.attempts > maxAttempts) {
      const reason = `Gave up after ${c.attempts - 1} attempts: processing stopped each time before it finished (the process ended or ran out of memory, or it took longer than its ${leaseSeconds} s lease). Split the document into smaller files, or reprocess it.`;
      await finish(c, { status: 'FAILED', error: reason }).catch((e) => {
        if (!(e instanceof ClaimLost)) throw e;
      });
      console.warn(`troupe: document ${encodeGlobalID('Document', c.id)} failed: ${reason}`);
      return;
    }
    const doc = await database.withTenant(c.tenantId, (tx) =>
      tx.document.findUnique({
        where: { id: c.id },
        select: {
          source: true,
          mimeType: true,
          embeddedCount: true,
          embeddingModel: true,
          status: true,
          contentHash: true,
          subject: true,
        },
      }),
    );
    if (!doc || doc.status !== 'PROCESSING') return;
    // The lease is renewed while this process works on the document, not only when a batch is
    // stored: a long extraction (a big PDF) or a slow embedding call must not be taken over by
    // another process halfway (which then did the same work again, and lost it the same way).
    const renew = setInterval(
      () =>
        void database
          .withTenant(c.tenantId, (tx) =>
            tx.$executeRawUnsafe(
              `UPDATE "Document" SET "notBefore" = ${utcNow} + make_interval(secs => $3)
                WHERE id = $1 AND attempts = $2 AND status = 'PROCESSING'`,
              c.id,
              c.attempts,
              leaseSeconds,
            ),
          )
          .catch(() => {}),
      Math.max(250, (leaseSeconds * 1000) / 3),
    );
    renew.unref();
    try {
      if (!doc.source) throw new ExtractionError('The document has no stored content to process.');
      const [embedder, runtime] = await Promise.all([opts.embedder(), loadRuntime()]);
      const text = await extractText(doc.source, doc.mimeType, { signal: stop.signal, pdf: opts.pdf });
      const chunks = runtime.chunkText(text);
      if (chunks.length === 0) {
        throw new ExtractionError(
          doc.mimeType === 'application/pdf'
            ? 'No text found in the PDF (a scanned PDF has no text layer; run OCR on it first).'
            : 'No text found in the document.',
        );
      }
      // Stored vectors of another model (the embedder changed) are replaced from the start.
      let done = doc.embeddingModel === embedder.model ? Math.min(doc.embeddedCount, chunks.length) : 0;
      await database.withTenant(c.tenantId, async (tx) => {
        await holdClaim(tx, c);
        if (done === 0) await tx.documentChunk.deleteMany({ where: { documentId: c.id } });
        await tx.document.update({
          where: { id: c.id },
          data: { chunkCount: chunks.length, embeddedCount: done, embeddingModel: embedder.model },
        });
      });
      // The same bytes already embedded by the same model (for the same uploader, or shared): the
      // chunks and vectors are copied, not paid for again.
      if (
        done === 0 &&
        (await copyTwin(c, doc.contentHash, doc.mimeType, doc.subject, embedder.model, chunks.length))
      )
        return;
      let promptTokens = 0;
      while (done < chunks.length) {
        // Other work gets its turn between batches (an in-process database and the local embedder
        // never wait on I/O).
        await new Promise((resolve) => setImmediate(resolve));
        if (stop.signal.aborted) {
          // Stopping: the next start (or another process) resumes after the stored batches.
          await finish(c, { status: 'PENDING', error: null });
          return;
        }
        const batch = chunks.slice(done, done + batchSize);
        const { vectors, usage } = await embedder.embed(
          batch.map((b) => b.content),
          { signal: stop.signal },
        );
        promptTokens += usage.promptTokens;
        const next = done + batch.length;
        await database.withTenant(c.tenantId, async (tx) => {
          await holdClaim(tx, c);
          const params: unknown[] = [];
          const rows = batch.map((chunk, i) => {
            const base = params.length;
            params.push(
              randomUUID(),
              c.tenantId,
              c.id,
              chunk.index,
              chunk.content,
              chunk.tokenCount,
              realArray(vectors[i] ?? []),
              embedder.model,
            );
            return `($${base + 1}, $${base + 2}, $${base + 3}, $${base + 4}::int, $${base + 5}, $${base + 6}::int, $${base + 7}::real[], $${base + 8})`;
          });
          await tx.$executeRawUnsafe(
            `INSERT INTO "DocumentChunk" (id, "tenantId", "documentId", index, content, "tokenCount", embedding, "embeddingModel")
             VALUES ${rows.join(', ')}
             ON CONFLICT ("documentId", index) DO UPDATE
               SET content = EXCLUDED.content, "tokenCount" = EXCLUDED."tokenCount",
                   embedding = EXCLUDED.embedding, "embeddingModel" = EXCLUDED."embeddingModel"`,
            ...params,
          );
          await tx.$executeRawUnsafe(
            `UPDATE "Document" SET "embeddedCount" = $2, "notBefore" = ${utcNow} + make_interval(secs => $3), "updatedAt" = ${utcNow} WHERE id = $1`,
            c.id,
            next,
            leaseSeconds,
          );
        });
        done = next;
      }
      await database.withTenant(c.tenantId, async (tx) => {
        await holdClaim(tx, c);
        // Chunks past the end (an earlier, longer split) go.
        await tx.documentChunk.deleteMany({ where: { documentId: c.id, index: { gte: chunks.length } } });
        await tx.$executeRawUnsafe(
          `UPDATE "Document" SET status = 'READY', error = NULL, "notBefore" = NULL, "updatedAt" = ${utcNow} WHERE id = $1`,
          c.id,
        );
        if (promptTokens > 0) {
          const [provider = 'local', ...model] = embedder.model.split(':');
          await tx.usageRecord.create({
            data: {
              tenantId: c.tenantId,
              agentName: 'documents',
              provider,
              model: model.join(':') || provider,
              promptTokens,
              completionTokens: 0,
              costUsd: 0,
            },
          });
        }
      });
    } catch (err) {
      if (err instanceof ClaimLost) return;
      if (stop.signal.aborted && !isPermanent(err)) {
        await finish(c, { status: 'PENDING', error: null }).catch(() => {});
        return;
      }
      const permanent = isPermanent(err);
      const final = permanent || c.attempts >= maxAttempts;
      const reason = errorText(err);
      await finish(
        c,
        final
          ? {
              status: 'FAILED',
              error: permanent ? reason : `Gave up after ${c.attempts} attempts: ${reason}`,
            }
          : { status: 'PENDING', error: reason, delayMs: backoffMs * 2 ** (c.attempts - 1) },
      ).catch((e) => {
        if (!(e instanceof ClaimLost)) throw e;
      });
      if (final) {
        console.warn(`troupe: document ${encodeGlobalID('Document', c.id)} failed: ${reason}`);
      }
    } finally {
      clearInterval(renew);
    }
  };

  const loop = startClaimLoop<Claimed>({
    claim: (limit, skipTenants) => claimDue(database, limit, leaseSeconds, skipTenants),
    tenantOf: (c) => c.tenantId,
    work: ingest,
    countDue: async () => {
      const due = await database.prisma.$transaction(async (tx) => {
        await tx.$executeRawUnsafe(systemTransaction('app.document_ingest'));
        return tx.$queryRawUnsafe<{ n: number }[]>(
          `SELECT count(*)::int AS n FROM "Document" WHERE status IN ('PENDING', 'PROCESSING') AND ("notBefore" IS NULL OR "notBefore" <= ${utcNow})`,
        );
      });
      return due[0]?.n ?? 0;
    },
    pollMs,
    concurrency,
    what: 'documents',
    describe: (c) => `document ${encodeGlobalID('Document', c.id)}`,
  });

  return {
    wake: loop.wake,
    drain: loop.drain,
    async close() {
      // Documents in progress stop after their current batch (see ingest).
      stop.abort(new Error('shutting down'));
      await loop.close();
    },
  };
}
