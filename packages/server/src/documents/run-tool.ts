import { encodeGlobalID } from '@pothos/plugin-relay';
import type { AgentTool } from '@troupe/agents';
import type { Database } from '../db/database.js';
import { loadRuntime } from '../runs/execute-run.js';
import type { EmbedderSource } from './document-ingest.js';
import { searchChunks } from './document-search.js';

/** The name agents list in `tools` to search their tenant's documents. */
export const SEARCH_DOCUMENTS_TOOL = 'search_documents';

/**
 * The `search_documents` tool of one run: it searches the run's tenant's shared documents and, for
 * a chat of an end user (a thread created with a session token), that user's own.
 */
export async function documentSearchTool(
  database: Database,
  embedder: EmbedderSource,
  tenantId: string,
  subject: string | null,
): Promise<AgentTool> {
  const { createDocumentSearchTool } = await loadRuntime();
  return createDocumentSearchTool(async (query, limit, signal) => {
    const e = await embedder();
    signal?.throwIfAborted();
    const hits = await database.withTenant(tenantId, async (tx) => {
      const rows = await searchChunks(database, tx, { kind: 'shared', subject }, e, { query, limit });
      const names = await tx.document.findMany({
        where: { id: { in: [...new Set(rows.map((r) => r.documentId))] } },
        select: { id: true, name: true },
      });
      const nameOf = new Map(names.map((n) => [n.id, n.name]));
      return rows.map((r) => ({
        documentId: encodeGlobalID('Document', r.documentId),
        documentName: nameOf.get(r.documentId) ?? '',
        chunkIndex: r.chunkIndex,
        score: Math.round(r.score * 1000) / 1000,
        content: r.content,
      }));
    });
    return hits;
  });
}
