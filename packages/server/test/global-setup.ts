// Once per test run: a migrated PGlite snapshot that each test file boots from in ~1 s,
// instead of running initdb and the migrations per file.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { applyMigrations } from '../src/db/migrate.js';
import { openPGlite } from '../src/db/pglite.js';

declare module 'vitest' {
  export interface ProvidedContext {
    pgliteSnapshot: string;
  }
}

export default async function setup(project: TestProject) {
  const dir = mkdtempSync(path.join(tmpdir(), 'troupe-test-'));
  const db = await openPGlite();
  await applyMigrations({ kind: 'pglite', db });
  const blob = await db.dumpDataDir('none');
  await db.close();
  const file = path.join(dir, 'migrated.tar');
  writeFileSync(file, Buffer.from(await blob.arrayBuffer()));
  project.provide('pgliteSnapshot', file);
  return () => rmSync(dir, { recursive: true, force: true });
}
