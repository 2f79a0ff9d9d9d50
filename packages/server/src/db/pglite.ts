import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { vector } from '@electric-sql/pglite-pgvector';

export interface PGliteOptions {
  /** Folder for a persistent database; omitted: in memory. */
  dataDir?: string;
  /** Boot an in-memory database from a dumpDataDir() snapshot (fast test fixtures). */
  snapshot?: Blob;
}

/** Opens PGlite (PostgreSQL in WebAssembly) with pgvector. */
export async function openPGlite(opts: PGliteOptions = {}): Promise<PGlite> {
  if (opts.dataDir) {
    const dir = path.join(opts.dataDir, 'pgdata');
    if (!existsSync(dir)) mkdirSync(dir, { recursive: true });
    return PGlite.create({ dataDir: dir, extensions: { vector } });
  }
  return PGlite.create({ extensions: { vector }, ...(opts.snapshot ? { loadDataDir: opts.snapshot } : {}) });
}
