import type { PGlite } from '@electric-sql/pglite';
import type pg from 'pg';
import { migrationsDir } from './package-paths.js';
import {
  createSchemaEngine,
  FILTERS,
  loadMigrationsList,
  pgliteMigrationFactory,
  pgMigrationFactory,
} from './schema-engine.js';

export type MigrationTarget = { kind: 'postgres'; url: string } | { kind: 'pglite'; db: PGlite };

export interface MigrationResult {
  applied: string[];
}

import { MigrationError } from './migration-error.js';

export { MigrationError };

const MIGRATE_LOCK_KEY = 7_263_120_011; // pg_advisory_lock key shared by every troupe process

async function query(
  target: MigrationTarget,
  sql: string,
  params: unknown[] = [],
): Promise<Record<string, unknown>[]> {
  if (target.kind === 'pglite') return (await target.db.query<Record<string, unknown>>(sql, params)).rows;
  const { default: Pg } = await import('pg');
  const c = new Pg.Client({ connectionString: target.url });
  await c.connect();
  try {
    return (await c.query(sql, params)).rows;
  } finally {
    await c.end();
  }
}

/** How long a migration waits for a lock on a table it changes, by default (Postgres). */
export const DEFAULT_MIGRATE_LOCK_TIMEOUT_MS = 10_000;

export interface ApplyMigrationsOptions {
  /**
   * Postgres: how long a migration's statement waits for a lock (a table it changes, held by a
   * long transaction or query elsewhere) before the migration fails, unchanged. While it waits, every
   * query on that table queues behind it: without a limit a migration could stall the whole
   * service. Default 10 s; 0: no limit.
   */
  lockTimeoutMs?: number;
}

/**
 * Applies pending migrations from prisma/migrations through Prisma's WASM schema engine.
 * Each migration script runs as one implicit transaction: when it fails, its changes are rolled
 * back, its bookkeeping row is removed, and a MigrationError says which migration and why.
 */
export async function applyMigrations(
  target: MigrationTarget,
  dir = migrationsDir(),
  opts: ApplyMigrationsOptions = {},
): Promise<MigrationResult> {
  const lockTimeoutMs = opts.lockTimeoutMs ?? DEFAULT_MIGRATE_LOCK_TIMEOUT_MS;
  // The common case, nothing pending, is answered by one query without loading the engine.
  if ((await pendingMigrations(target, dir)).length === 0) return { applied: [] };
  let lock: pg.Client | undefined;
  if (target.kind === 'postgres') {
    const { default: Pg } = await import('pg');
    lock = new Pg.Client({ connectionString: target.url });
    await lock.connect();
    await lock.query('SELECT pg_advisory_lock($1)', [MIGRATE_LOCK_KEY]);
  }
  // Whatever fails from here on, the advisory lock goes back (a process that goes on, embedding
  // troupe, would otherwise make every later migration wait for it).
  try {
    return await migrateLocked(target, dir, lockTimeoutMs);
  } finally {
    if (lock) {
      await lock.query('SELECT pg_advisory_unlock($1)', [MIGRATE_LOCK_KEY]).catch(() => {});
      await lock.end();
    }
  }
}

async function migrateLocked(
  target: MigrationTarget,
  dir: string,
  lockTimeoutMs: number,
): Promise<MigrationResult> {
  const factory: { dispose?(): Promise<void>; lastScriptError?: Error } & Awaited<
    ReturnType<typeof pgliteMigrationFactory>
  > =
    target.kind === 'postgres'
      ? await pgMigrationFactory(target.url, { lockTimeoutMs })
      : await pgliteMigrationFactory(target.db);
  const engine = await createSchemaEngine(factory).catch(async (err: unknown) => {
    await factory.dispose?.();
    throw err;
  });
  try {
    const res = await engine.applyMigrations({ migrationsList: loadMigrationsList(dir), filters: FILTERS });
    return { applied: res.appliedMigrationNames };
  } catch (err) {
    await factory.dispose?.();
    const failed = await query(
      target,
      `SELECT migration_name FROM _prisma_migrations WHERE finished_at IS NULL AND rolled_back_at IS NULL`,
    ).catch(() => []);
    const name = failed[0]?.migration_name as string | undefined;
    if (name) {
      // The script ran in one transaction and was rolled back; forget the attempt so the database is as it was.
      await query(
        target,
        `DELETE FROM _prisma_migrations WHERE migration_name = $1 AND finished_at IS NULL`,
        [name],
      );
    }
    const cause = factory.lastScriptError;
    const message = [cause?.message, err instanceof Error ? err.message : String(err)]
      .filter(Boolean)
      .join('\n');
    if (name && /lock timeout|55P03/i.test(message))
      throw new MigrationError(
        `Migration ${name} waited more than ${lockTimeoutMs / 1000} s for a lock on a table it changes, held by another session (a long transaction or query), and gave up; it changed nothing. Try again once that session is done (pg_stat_activity shows it), or allow a longer wait with TROUPE_MIGRATE_LOCK_TIMEOUT_MS.\n${message}`,
        name,
      );
    throw new MigrationError(
      `Migration ${name ?? '(unknown)'} failed and was rolled back; it changed nothing.\n${message}`,
      name,
    );
  } finally {
    engine.free();
    await factory.dispose?.();
  }
}

/** Names of migrations in the folder that the database has not applied yet. */
export async function pendingMigrations(target: MigrationTarget, dir = migrationsDir()): Promise<string[]> {
  const all = loadMigrationsList(dir).migrationDirectories.map((d) => d.path);
  const exists = await query(target, `SELECT to_regclass('_prisma_migrations') IS NOT NULL AS present`);
  if (!exists[0]?.present) return all;
  const done = new Set(
    (await query(target, `SELECT migration_name FROM _prisma_migrations WHERE finished_at IS NOT NULL`)).map(
      (r) => r.migration_name as string,
    ),
  );
  return all.filter((m) => !done.has(m));
}
