import { encodeGlobalID } from '@pothos/plugin-relay';
import { searchChunks, visibilityOf } from '../../documents/document-search.js';
import {
  assertDocumentAccess,
  documentScope,
  documentWriteScope,
  insertDocument,
  sharedDocumentForbidden,
  validateDocument,
} from '../../documents/document-store.js';
import { badInput, notFound, TroupeServerError } from '../../errors.js';
import { DocumentStatus } from '../../generated/prisma/enums.js';
import { audit } from '../audit.js';
import { builder } from '../builder.js';
import { tenantOf } from '../context.js';
import { parseGlobalId } from '../global-id.js';

const DocumentStatusEnum = builder.enumType(DocumentStatus, {
  name: 'DocumentStatus',
  description:
    'PENDING: stored, waiting to be processed; PROCESSING: being split and embedded (see progress); READY: searchable; FAILED: see error.',
});

builder.prismaNode('Document', {
  id: { field: 'id' },
  nullable: true,
  findUnique: (id, ctx) => ({ id, AND: [documentScope(ctx.principal)] }),
  description:
    'A file whose text agents and searches can use: uploaded with POST /documents (any size up to the limit) or createDocument (text).',
  // Select mode: only the columns a query asks for are read (never the stored bytes).
  select: { id: true },
  fields: (t) => ({
    name: t.exposeString('name'),
    mimeType: t.exposeString('mimeType'),
    sizeBytes: t.exposeInt('sizeBytes'),
    status: t.expose('status', { type: DocumentStatusEnum }),
    error: t.exposeString('error', {
      nullable: true,
      description:
        'Why processing failed (FAILED), or why the last attempt did (PENDING, tried again later).',
    }),
    metadata: t.expose('metadata', { type: 'JSON' }),
    subject: t.exposeString('subject', {
      nullable: true,
      description: 'Set when a session token uploaded it: only that end user and API keys see it.',
    }),
    chunkCount: t.exposeInt('chunkCount', { description: 'Chunks the text was split into (0 until known).' }),
    progress: t.float({
      description: 'Share of the chunks embedded so far, 0 to 1 (1 once READY).',
      select: { status: true, chunkCount: true, embeddedCount: true },
      resolve: (d) =>
        d.status === 'READY' ? 1 : d.chunkCount > 0 ? Math.min(1, d.embeddedCount / d.chunkCount) : 0,
    }),
    embeddingModel: t.exposeString('embeddingModel', {
      nullable: true,
      description:
        'The embedder of the stored vectors, e.g. "local:hash-512" or "openai:text-embedding-3-small".',
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
  }),
});

builder.queryField('document', (t) =>
  t.prismaField({
    type: 'Document',
    nullable: true,
    authScopes: { read: true },
    args: { id: t.arg.id({ required: true }) },
    resolve: async (query, _r, args, ctx) => {
      assertDocumentAccess(ctx.principal, false);
      const id = parseGlobalId('id', String(args.id), 'Document');
      const doc = await ctx.db.document.findFirst({
        ...query,
        where: { id, ...documentScope(ctx.principal) },
      });
      if (!doc) throw notFound('Document', String(args.id));
      return doc;
    },
  }),
);

builder.queryField('documents', (t) =>
  t.prismaConnection({
    type: 'Document',
    cursor: 'id',
    defaultSize: 20,
    maxSize: 100,
    authScopes: { read: true },
    description: 'Documents, newest first (a session token sees the shared ones and its own).',
    args: { status: t.arg({ type: DocumentStatusEnum }) },
    resolve: (query, _r, args, ctx) => {
      assertDocumentAccess(ctx.principal, false);
      return ctx.db.document.findMany({
        ...query,
        where: {
          // Also row-level security's: see `runs`.
          tenantId: tenantOf(ctx).tenantId,
          ...documentScope(ctx.principal),
          // The generated text column: see `runs`.
          ...(args.status ? { statusText: args.status } : {}),
        },
        orderBy: { id: 'desc' },
      });
    },
  }),
);

const CreateDocumentInput = builder.inputType('CreateDocumentInput', {
  fields: (t) => ({
    name: t.string({ required: true }),
    content: t.string({ required: true, description: 'The text (files of any type: POST /documents).' }),
    mimeType: t.string({
      description: 'text/plain (default), text/markdown, text/csv, text/html or application/json.',
    }),
    metadata: t.field({ type: 'JSON', description: 'A JSON object kept with the document.' }),
  }),
});

/** A mutation's answer: the document it created or changed (read in the operation's transaction). */
function documentPayload(name: string) {
  return builder.objectRef<{ id: string }>(name).implement({
    fields: (t) => ({
      document: t.prismaField({
        type: 'Document',
        resolve: (query, p, _a, ctx) => ctx.db.document.findUniqueOrThrow({ ...query, where: { id: p.id } }),
      }),
    }),
  });
}

const CreateDocumentPayload = documentPayload('CreateDocumentPayload');

builder.mutationField('createDocument', (t) =>
  t.field({
    type: CreateDocumentPayload,
    description: 'Adds a text document; it is processed in the background (status PENDING → READY).',
    authScopes: { write: true },
    args: { input: t.arg({ type: CreateDocumentInput, required: true }) },
    resolve: async (_r, { input }, ctx) => {
      const p = tenantOf(ctx);
      assertDocumentAccess(p, true);
      if (input.mimeType === 'application/pdf') {
        throw badInput('input.mimeType', 'PDFs are uploaded as files: POST /documents');
      }
      const doc = await validateDocument(
        {
          name: input.name,
          mimeType: input.mimeType ?? 'text/plain',
          bytes: new TextEncoder().encode(input.content),
          metadata: input.metadata ?? undefined,
        },
        ctx.documents.maxBytes,
        {
          name: 'input.name',
          mimeType: 'input.mimeType',
          metadata: 'input.metadata',
          content: 'input.content',
        },
      );
      const created = await insertDocument(ctx.db, p, doc);
      ctx.afterCommit(() => ctx.documents.wake());
      return { id: created.id };
    },
  }),
);

const DeleteDocumentPayload = builder.objectRef<{ id: string }>('DeleteDocumentPayload').implement({
  fields: (t) => ({ deletedId: t.id({ resolve: (p) => encodeGlobalID('Document', p.id) }) }),
});

builder.mutationField('deleteDocument', (t) =>
  t.field({
    type: DeleteDocumentPayload,
    description: 'Deletes a document and its chunks; searches stop finding it at once.',
    authScopes: { write: true },
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_r, args, ctx) => {
      const p = tenantOf(ctx);
      assertDocumentAccess(p, true);
      const id = parseGlobalId('id', String(args.id), 'Document');
      const { count } = await ctx.db.document.deleteMany({ where: { id, ...documentWriteScope(p) } });
      if (count === 0) {
        const visible = await ctx.db.document.findFirst({
          where: { id, ...documentScope(p) },
          select: { id: true },
        });
        throw visible ? sharedDocumentForbidden() : notFound('Document', String(args.id));
      }
      await audit(ctx, ctx.db, p.tenantId, 'document.delete', { type: 'Document', id });
      return { id };
    },
  }),
);

const ReprocessDocumentPayload = documentPayload('ReprocessDocumentPayload');

builder.mutationField('reprocessDocument', (t) =>
  t.field({
    type: ReprocessDocumentPayload,
    description:
      'Splits and embeds a document again with the current embedder (after changing TROUPE_EMBEDDINGS, or to retry a FAILED one). Until it is READY again it is not searchable. CONFLICT while it is being processed.',
    authScopes: { write: true },
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_r, args, ctx) => {
      const p = tenantOf(ctx);
      assertDocumentAccess(p, true);
      const id = parseGlobalId('id', String(args.id), 'Document');
      // Not while a process holds it: its claim is told apart by attempts, which start again at 0
      // here, so the next claim (attempts 1) could pass for the first one, and both would store chunks.
      // A PROCESSING document whose lease ran out (its process died) is nobody's.
      const now = new Date();
      const { count } = await ctx.db.document.updateMany({
        where: {
          id,
          AND: [
            documentWriteScope(p),
            { OR: [{ status: { not: 'PROCESSING' } }, { notBefore: null }, { notBefore: { lte: now } }] },
          ],
        },
        data: {
          status: 'PENDING',
          error: null,
          attempts: 0,
          notBefore: null,
          chunkCount: 0,
          embeddedCount: 0,
          embeddingModel: null,
        },
      });
      if (count === 0) {
        const held = await ctx.db.document.findFirst({
          where: { id, ...documentScope(p) },
          select: { id: true, subject: true },
        });
        if (!held) throw notFound('Document', String(args.id));
        if (p.kind === 'session' && held.subject !== p.subject) throw sharedDocumentForbidden();
        throw new TroupeServerError(
          'CONFLICT',
          'id: the document is being processed now; reprocess it once it is READY or FAILED (progress shows how far it is)',
        );
      }
      await audit(ctx, ctx.db, p.tenantId, 'document.reprocess', { type: 'Document', id });
      ctx.afterCommit(() => ctx.documents.wake());
      return { id };
    },
  }),
);

const SearchDocumentsInput = builder.inputType('SearchDocumentsInput', {
  fields: (t) => ({
    query: t.string({ required: true }),
    limit: t.int({ description: 'Hits returned, 1 to 50. Default 5.' }),
    documentIds: t.idList({ description: 'Search only these documents.' }),
    minScore: t.float({ description: 'Leave out hits scoring below this (cosine similarity, -1 to 1).' }),
    metadata: t.field({
      type: 'JSON',
      description: 'Search only documents whose metadata contains this object, e.g. {"team": "support"}.',
    }),
  }),
});

interface Hit {
  documentId: string;
  chunkIndex: number;
  content: string;
  score: number;
}

const DocumentSearchHit = builder.objectRef<Hit>('DocumentSearchHit').implement({
  description: 'A passage of a document that matches a search.',
  fields: (t) => ({
    score: t.exposeFloat('score', { description: 'Cosine similarity to the query: higher is closer.' }),
    content: t.exposeString('content', { description: 'The matching chunk’s text.' }),
    chunkIndex: t.exposeInt('chunkIndex', { description: 'The chunk’s place in its document, from 0.' }),
    document: t.prismaField({
      type: 'Document',
      resolve: (query, hit, _a, ctx) =>
        ctx.db.document.findUniqueOrThrow({ ...query, where: { id: hit.documentId } }),
    }),
  }),
});

const MAX_QUERY_CHARS = 8000;

builder.queryField('searchDocuments', (t) =>
  t.field({
    type: [DocumentSearchHit],
    authScopes: { read: true },
    description:
      'The passages closest in meaning to the query, best first, from READY documents the caller sees (embedder: TROUPE_EMBEDDINGS).',
    args: { input: t.arg({ type: SearchDocumentsInput, required: true }) },
    resolve: async (_r, { input }, ctx) => {
      assertDocumentAccess(ctx.principal, false);
      const query = input.query.trim();
      if (!query) throw badInput('input.query', 'must not be empty');
      if (query.length > MAX_QUERY_CHARS)
        throw badInput('input.query', `at most ${MAX_QUERY_CHARS} characters`);
      const limit = input.limit ?? 5;
      if (!Number.isInteger(limit) || limit < 1 || limit > 50)
        throw badInput('input.limit', 'must be 1 to 50');
      if (input.minScore != null && !Number.isFinite(input.minScore)) {
        throw badInput('input.minScore', 'must be a number');
      }
      const documentIds = input.documentIds?.map((id, i) =>
        parseGlobalId(`input.documentIds[${i}]`, String(id), 'Document'),
      );
      if (documentIds && documentIds.length > 100) throw badInput('input.documentIds', 'at most 100 ids');
      const metadata = input.metadata ?? undefined;
      if (
        metadata !== undefined &&
        (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata))
      ) {
        throw badInput('input.metadata', 'must be a JSON object');
      }
      let embedder: Awaited<ReturnType<typeof ctx.documents.embedder>>;
      try {
        embedder = await ctx.documents.embedder();
      } catch (err) {
        throw new TroupeServerError(
          'UNAVAILABLE',
          `The embedder is not available: ${(err as Error).message}`,
        );
      }
      try {
        return await searchChunks(ctx.database, ctx.db, visibilityOf(ctx.principal), embedder, {
          query,
          limit,
          ...(documentIds ? { documentIds } : {}),
          ...(input.minScore != null ? { minScore: input.minScore } : {}),
          ...(metadata ? { metadata: metadata as Record<string, unknown> } : {}),
        });
      } catch (err) {
        const details = (err as { details?: { retryable?: boolean } }).details;
        if (details && 'retryable' in details) {
          throw new TroupeServerError(
            details.retryable ? 'UNAVAILABLE' : 'INTERNAL',
            `The embedder failed: ${(err as Error).message}`,
          );
        }
        throw err;
      }
    },
  }),
);
