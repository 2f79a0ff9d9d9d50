import { randomBytes } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import {
  applyMigrations,
  MigrationError,
  type MigrationTarget,
  pendingMigrations,
} from '../src/db/migrate.js';
import { migrationsDir } from '../src/db/package-paths.js';
import { openPGlite } from '../src/db/pglite.js';
import { BACKEND, PG_BASE_URL, pgAdmin, withDatabaseName } from './support/backend.js';

let target: MigrationTarget;
let cleanup: () => Promise<void>;
let dir: string;

async function sql(q: string): Promise<Record<string, unknown>[]> {
  if (target.kind === 'pglite') return (await target.db.query<Record<string, unknown>>(q)).rows;
  const t = target;
  return pgAdmin(async (c) => (await c.query(q)).rows, t.url);
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'troupe-mig-'));
  cpSync(migrationsDir(), dir, { recursive: true });
  if (BACKEND === 'postgres') {
    const name = `troupe_mig_${randomBytes(4).toString('hex')}`;
    await pgAdmin((c) => c.query(`CREATE DATABASE "${name}"`));
    target = { kind: 'postgres', url: withDatabaseName(PG_BASE_URL, name) };
    cleanup = () => pgAdmin((c) => c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)).then(() => {});
  } else {
    const db = await openPGlite();
    target = { kind: 'pglite', db };
    cleanup = () => db.close();
  }
});
afterAll(async () => {
  await cleanup?.();
  rmSync(dir, { recursive: true, force: true });
});

test('applies the migrations once; a second run applies nothing', async () => {
  expect((await pendingMigrations(target, dir)).length).toBeGreaterThan(0);
  const first = await applyMigrations(target, dir);
  expect(first.applied.length).toBeGreaterThan(0);
  expect(await applyMigrations(target, dir)).toEqual({ applied: [] });
  expect(await pendingMigrations(target, dir)).toEqual([]);
});

test('a failing migration fails loudly and leaves the database as it was', async () => {
  const bad = path.join(dir, '99990101000000_broken');
  mkdirSync(bad);
  writeFileSync(
    path.join(bad, 'migration.sql'),
    'CREATE TABLE "Half" (id TEXT PRIMARY KEY);\nALTER TABLE "Crew" ADD COLUMN "extra" TEXT;\nALTER TABLE "NoSuchTable" ADD COLUMN x INT;\n',
  );
  const before = await sql(`SELECT count(*)::int AS n FROM _prisma_migrations`);
  const err = await applyMigrations(target, dir).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(MigrationError);
  expect((err as MigrationError).migration).toBe('99990101000000_broken');
  expect((err as Error).message).toMatch(/NoSuchTable/);
  // Nothing of the failed script remains, and no half-applied bookkeeping row blocks the next deploy.
  expect(await sql(`SELECT to_regclass('"Half"') IS NULL AS gone`)).toEqual([{ gone: true }]);
  expect(
    await sql(
      `SELECT count(*)::int AS n FROM information_schema.columns WHERE table_name = 'Crew' AND column_name = 'extra'`,
    ),
  ).toEqual([{ n: 0 }]);
  expect(await sql(`SELECT count(*)::int AS n FROM _prisma_migrations`)).toEqual(before);
  expect(await pendingMigrations(target, dir)).toEqual(['99990101000000_broken']);

  // Fixed, it applies.
  writeFileSync(path.join(bad, 'migration.sql'), 'ALTER TABLE "Crew" ADD COLUMN "extra" TEXT;\n');
  expect(await applyMigrations(target, dir)).toEqual({ applied: ['99990101000000_broken'] });
});
