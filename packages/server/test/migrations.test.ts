import { randomBytes } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
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

const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

test('applies the migrations once; a second run applies nothing', async () => {
  expect((await pendingMigrations(target, dir)).length).toBeGreaterThan(0);
  const timersBefore = timers();
  const first = await applyMigrations(target, dir);
  expect(first.applied.length).toBeGreaterThan(0);
  // Nothing is left to keep a host process up: the schema engine's ~10 s timers had kept one that
  // migrated and closed its database up for as long.
  expect(timers()).toBeLessThanOrEqual(timersBefore);
  expect(await applyMigrations(target, dir)).toEqual({ applied: [] });
  expect(await pendingMigrations(target, dir)).toEqual([]);
});

/** Runs the statements in one session, in order; the rows of each. */
async function inOneSession(statements: string[]): Promise<Record<string, unknown>[][]> {
  const run = async (query: (q: string) => Promise<Record<string, unknown>[]>) => {
    const out: Record<string, unknown>[][] = [];
    for (const q of statements) out.push(await query(q));
    return out;
  };
  if (target.kind === 'pglite') {
    const db = target.db;
    return run(async (q) => (await db.query<Record<string, unknown>>(q)).rows);
  }
  return pgAdmin((c) => run(async (q) => (await c.query(q)).rows), target.url);
}

test('a fresh database looks rows up by id through their index, also in the plans connections keep', async () => {
  // Each connection plans a prepared statement (and each foreign-key check) once and keeps the
  // plan. Tables that grow must not be planned as tiny while they are still empty, or the kept plan
  // scans the whole table at every lookup as it grows (a migration that analyzed the empty Run
  // table did that: Postgres's CPU per run doubled until autovacuum's first analyze).
  for (const table of ['Run', 'TaskRun', 'Document', 'Message', 'WebhookDelivery']) {
    const plan = (
      await inOneSession([
        `SET plan_cache_mode = force_generic_plan`,
        `PREPARE lookup_${table} (text) AS SELECT 1 FROM ONLY "${table}" x WHERE "id" = $1 FOR KEY SHARE OF x`,
        `EXPLAIN EXECUTE lookup_${table}('x')`,
        `DEALLOCATE lookup_${table}`,
        `RESET plan_cache_mode`,
      ])
    )[2]!;
    const text = plan.map((r) => String(Object.values(r)[0])).join('\n');
    expect(text, table).toMatch(/Index (Only )?Scan/);
    expect(text, table).not.toMatch(/Seq Scan/);
  }
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

test.runIf(BACKEND === 'postgres')(
  'a migration that waits too long for a lock another session holds gives up, changing nothing, and says why',
  async () => {
    const t = target as Extract<MigrationTarget, { kind: 'postgres' }>;
    const name = '99990201000000_needs_a_lock';
    const next = path.join(dir, name);
    mkdirSync(next);
    writeFileSync(path.join(next, 'migration.sql'), 'ALTER TABLE "Crew" ADD COLUMN "later" TEXT;\n');
    // A long transaction elsewhere has read the table: ALTER TABLE must wait for it to end.
    const reader = new pg.Client({ connectionString: t.url });
    await reader.connect();
    try {
      await reader.query('BEGIN');
      await reader.query('SELECT count(*) FROM "Crew"');
      const err = await applyMigrations(target, dir, { lockTimeoutMs: 300 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(MigrationError);
      expect((err as MigrationError).migration).toBe(name);
      expect((err as Error).message).toMatch(/waited more than 0.3 s for a lock/);
      expect((err as Error).message).toMatch(/changed nothing/);
      expect(await pendingMigrations(target, dir)).toEqual([name]);
      expect(
        await sql(
          `SELECT count(*)::int AS n FROM information_schema.columns WHERE table_name = 'Crew' AND column_name = 'later'`,
        ),
      ).toEqual([{ n: 0 }]);
    } finally {
      await reader.query('ROLLBACK').catch(() => {});
      await reader.end();
    }
    // Once the transaction is over, it applies.
    expect(await applyMigrations(target, dir, { lockTimeoutMs: 300 })).toEqual({ applied: [name] });
  },
);
