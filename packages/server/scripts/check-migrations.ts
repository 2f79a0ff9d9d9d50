// CI drift check: schema.prisma vs prisma/migrations vs a freshly migrated database, on PGlite
// and (when DATABASE_URL or the local test server is reachable) on Postgres. Exit 1 on any drift.
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import { vector } from '@electric-sql/pglite-pgvector';
import pg from 'pg';
import { applyMigrations } from '../src/db/migrate.js';
import { migrationsDir, schemaPath } from '../src/db/package-paths.js';
import {
  createSchemaEngine,
  FILTERS,
  loadMigrationsList,
  pgliteMigrationFactory,
  pgMigrationFactory,
} from '../src/db/schema-engine.js';

const schema = { files: [{ path: schemaPath(), content: readFileSync(schemaPath(), 'utf8') }] };
const migrations = () => ({ tag: 'migrations' as const, ...loadMigrationsList(migrationsDir()) });
let failed = false;

async function check(label: string, factory: Awaited<ReturnType<typeof pgMigrationFactory>>) {
  const engine = await createSchemaEngine(factory);
  try {
    const a = await engine.diff({
      from: migrations(),
      to: { tag: 'schemaDatamodel', ...schema },
      script: true,
      exitCode: true,
      filters: FILTERS,
    });
    const b = await engine.diff({
      from: migrations(),
      to: { tag: 'schemaDatasource', ...schema, configDir: process.cwd() },
      script: true,
      exitCode: true,
      filters: FILTERS,
    });
    console.log(
      `[${label}] schema.prisma vs migrations: ${a.exitCode === 0 ? 'in sync' : `DRIFT\n${a.stdout}`}`,
    );
    console.log(
      `[${label}] migrated database vs migrations: ${b.exitCode === 0 ? 'in sync' : `DRIFT\n${b.stdout}`}`,
    );
    if (a.exitCode !== 0 || b.exitCode !== 0) failed = true;
  } finally {
    engine.free();
  }
}

// PGlite
const db = await PGlite.create({ extensions: { vector } });
await applyMigrations({ kind: 'pglite', db });
await check('pglite', await pgliteMigrationFactory(db));
await db.close();

// Postgres: a fresh database, dropped afterwards
const base = process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/test';
const name = `troupe_drift_${randomUUID().slice(0, 8)}`;
const admin = new pg.Client({ connectionString: base });
await admin.connect();
await admin.query(`CREATE DATABASE "${name}"`);
try {
  const url = new URL(base);
  url.pathname = `/${name}`;
  await applyMigrations({ kind: 'postgres', url: url.toString() });
  await check('postgres', await pgMigrationFactory(url.toString()));
} finally {
  await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  await admin.end();
}
process.exit(failed ? 1 : 0);
