import { z } from 'zod';
import { type AgentTool, defineTool } from './define-tool.js';

export const DOCUMENT_SEARCH_TOOL_NAME = 'search_documents';

/** One hit of the search function passed to `createDocumentSearchTool`, best first. */
export interface DocumentSearchHit {
  documentName: string;
  documentId: string;
  chunkIndex: number;
  /** Cosine similarity, higher is better. */
  score: number;
  content: string;
}

/** What the model gets for each hit. */
export interface DocumentSearchResult {
  document: string;
  chunk: number;
  score: number;
  content: string;
}

export type DocumentSearchFunction = (
  query: string,
  limit: number,
  signal?: AbortSignal,
) => Promise<DocumentSearchHit[]>;

const DEFAULT_LIMIT = 5;
const MAX_LIMIT = 20;

const input = z.object({
  query: z
    .string()
    .trim()
    .min(1)
    .describe('What to look for, in natural language (e.g. "refund policy for damaged goods")'),
  limit: z
    .number()
    .int()
    .min(1)
    .max(MAX_LIMIT)
    .optional()
    .describe(`How many passages to return, 1-${MAX_LIMIT}. Default ${DEFAULT_LIMIT}.`),
});

/**
 * The built-in `search_documents` tool, bound to a search function (the server binds it to a tenant's
 * documents). Returns `[{ document, chunk, score, content }]`, best first (score rounded to 3 decimals),
 * or a short text when nothing matched. Errors of `search` reach the model as a failed tool result.
 */
export function createDocumentSearchTool(search: DocumentSearchFunction): AgentTool {
  return defineTool({
    name: DOCUMENT_SEARCH_TOOL_NAME,
    description:
      "Search the organisation's uploaded documents. Use it to look up facts, policies, figures and other information that may be in those documents before answering from memory. Returns the most relevant passages with the document name and a similarity score.",
    input,
    async handler({ query, limit }, context): Promise<DocumentSearchResult[] | string> {
      const wanted = limit ?? DEFAULT_LIMIT;
      const hits = await search(query, wanted, context.signal);
      if (hits.length === 0) return `No passages in the uploaded documents matched "${query}".`;
      return hits.slice(0, wanted).map((hit) => ({
        document: hit.documentName,
        chunk: hit.chunkIndex,
        score: Math.round(hit.score * 1000) / 1000,
        content: hit.content,
      }));
    },
  });
}
