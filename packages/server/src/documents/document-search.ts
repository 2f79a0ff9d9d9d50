import type { Embedder, ProviderSettings } from '@troupe/agents';
import type { Principal } from '../auth/principal.js';
import type { Database, Tx } from '../db/database.js';
import { loadRuntime } from '../runs/execute-run.js';
import type { EmbedderSource } from './document-ingest.js';

export interface SearchHitRow {
  documentId: string;
  chunkIndex: number;
  content: string;
  score: number;
}

export interface SearchOptions {
  query: string;
  limit: number;
  /** Only these documents (database ids). */
  documentIds?: string[];
  /** Hits scoring below this are left out. */
  minScore?: number;
  /** Only documents whose metadata contains this JSON object (`@>`). */
  metadata?: Record<string, unknown>;
}

/**
 * Which documents a search covers: all of the tenant's (API keys), or the shared ones plus, where
 * a subject is given, that end user's own (session tokens; runs).
 */
export type DocumentVisibility = { kind: 'all' } | { kind: 'shared'; subject?: string | null };

export function visibilityOf(p: Principal): DocumentVisibility {
  return p.kind === 'session' ? { kind: 'shared', subject: p.subject } : { kind: 'all' };
}

const hasPgvector = new WeakMap<Database, Promise<boolean>>();

/** Whether the database has pgvector (PGlite always does; a Postgres may not): decides how scores are computed. */
function pgvectorAvailable(database: Database, tx: Tx): Promise<boolean> {
  let known = hasPgvector.get(database);
  if (!known) {
    known = tx
      .$queryRawUnsafe<{ n: number }[]>(
        `SELECT count(*)::int AS n FROM pg_extension WHERE extname = 'vector'`,
      )
      .then((r) => (r[0]?.n ?? 0) > 0);
    hasPgvector.set(database, known);
    known.catch(() => hasPgvector.delete(database));
  }
  return known;
}

/** A Postgres array literal of reals: vectors travel as text, which every driver passes alike. */
export function realArray(v: readonly number[]): string {
  return `{${v.map((x) => (Number.isFinite(x) ? x : 0)).join(',')}}`;
}

/** Ids are checked (cuid/uuid characters) before they reach this literal. */
function textArray(ids: readonly string[]): string {
  return `{${ids.map((id) => `"${id.replace(/[^A-Za-z0-9_-]/g, '')}"`).join(',')}}`;
}

/**
 * The chunks most similar to the query, best first, among the READY documents the principal sees
 * (row-level security keeps it to the tenant; a session token sees shared documents and its own).
 * Vectors are L2-normalised, so similarity is their dot product: pgvector's inner product where the
 * database has it, else computed in SQL from the stored arrays (exact either way).
 */
export async function searchChunks(
  database: Database,
  tx: Tx,
  visibility: DocumentVisibility,
  embedder: Embedder,
  opts: SearchOptions,
): Promise<SearchHitRow[]> {
  const { vectors } = await embedder.embed([opts.query]);
  const q = vectors[0] ?? [];
  if (!q.some((x) => x !== 0)) return [];
  // Chunks of the same model name but another vector length (another server serving a model of
  // that name, say) are skipped: pgvector refused to compare them, and failed every search.
  const params: unknown[] = [embedder.model, realArray(q), q.length];
  const where = [`c."embeddingModel" = $1`, `d.status = 'READY'`, `cardinality(c.embedding) = $3::int`];
  if (opts.documentIds) {
    params.push(textArray(opts.documentIds));
    where.push(`d.id = ANY($${params.length}::text[])`);
  }
  if (opts.metadata) {
    params.push(JSON.stringify(opts.metadata));
    where.push(`d.metadata @> $${params.length}::jsonb`);
  }
  if (visibility.kind === 'shared') {
    if (visibility.subject) {
      params.push(visibility.subject);
      where.push(`(d.subject IS NULL OR d.subject = $${params.length})`);
    } else {
      where.push('d.subject IS NULL');
    }
  }
  // In a CASE: conditions of a WHERE may be evaluated in any order, the length's after the score's.
  const score = (await pgvectorAvailable(database, tx))
    ? `(CASE WHEN cardinality(c.embedding) = $3::int THEN -(c.embedding::vector <#> $2::real[]::vector) END)`
    : `(CASE WHEN cardinality(c.embedding) = $3::int THEN (SELECT coalesce(sum(a * b), 0) FROM unnest(c.embedding, $2::real[]) AS t(a, b)) END)`;
  if (opts.minScore !== undefined) {
    params.push(opts.minScore);
    where.push(`${score} >= $${params.length}::float8`);
  }
  params.push(opts.limit);
  const rows = await tx.$queryRawUnsafe<SearchHitRow[]>(
    `SELECT c."documentId" AS "documentId", c.index AS "chunkIndex", c.content, ${score}::float8 AS score
       FROM "DocumentChunk" c JOIN "Document" d ON d.id = c."documentId"
      WHERE ${where.join(' AND ')}
      ORDER BY score DESC, c."documentId", c.index
      LIMIT $${params.length}::int`,
    ...params,
  );
  return rows.map((r) => ({ ...r, chunkIndex: Number(r.chunkIndex), score: Number(r.score) }));
}

/**
 * The embedder named by TROUPE_EMBEDDINGS, created on first use (loading the agent runtime then).
 * OpenAI and Ollama embedders use the same endpoint and key as the chat providers where those are
 * configured in code (`providers`), else the environment (OPENAI_BASE_URL, OPENAI_API_KEY, OLLAMA_HOST).
 */
export function embedderSource(spec: string, providers: ProviderSettings = {}): EmbedderSource {
  let embedder: Promise<Embedder> | undefined;
  const settings = <T extends object>(p: unknown): Partial<T> =>
    typeof p === 'object' && p !== null && typeof (p as { stream?: unknown }).stream !== 'function'
      ? (p as T)
      : {};
  return () => {
    embedder ??= loadRuntime().then((rt) => {
      const parsed = rt.parseEmbedderSpec(spec);
      if (parsed.provider === 'openai') {
        const o = settings<{ baseUrl?: string; apiKey?: string }>(providers.openai);
        return rt.createEmbedder({
          ...parsed,
          ...(o.baseUrl && !parsed.baseUrl ? { baseUrl: o.baseUrl } : {}),
          ...(o.apiKey && !parsed.apiKey ? { apiKey: o.apiKey } : {}),
        });
      }
      if (parsed.provider === 'ollama') {
        const o = settings<{ host?: string }>(providers.ollama);
        return rt.createEmbedder({ ...parsed, ...(o.host && !parsed.host ? { host: o.host } : {}) });
      }
      return rt.createEmbedder(parsed);
    });
    embedder.catch(() => {
      embedder = undefined;
    });
    return embedder;
  };
}
