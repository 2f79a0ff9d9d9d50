// Row-level security: the database itself refuses cross-tenant reads and writes, whatever SQL the
// application sends. These tests talk to the database directly (no GraphQL, no WHERE tenantId).
import { randomBytes, randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { APP_ROLE, type Database, type Tx } from '../src/db/database.js';
import { jsonb, sql } from '../src/db/sql-text.js';
import { BACKEND, createTestDatabase, type TestDatabase } from './support/backend.js';

interface Seeded {
  tenantId: string;
  apiKeyId: string;
  apiKeyHash: string;
  crewId: string;
  agentId: string;
  taskId: string;
}

let tdb: TestDatabase;
let db: Database;
let A: Seeded;
let B: Seeded;

async function seedTenant(name: string): Promise<Seeded> {
  const tenantId = randomUUID();
  const apiKeyHash = randomBytes(32).toString('hex');
  return db.withTenant(tenantId, async (tx) => {
    await tx.tenant.create({ data: { id: tenantId, name } });
    const key = await tx.apiKey.create({
      data: {
        tenantId,
        name: `${name} key`,
        prefix: 'trp_test',
        hashedSecret: apiKeyHash,
        scopes: ['admin'],
      },
    });
    const crew = await tx.crew.create({ data: { tenantId, name: `${name} crew` } });
    const agent = await tx.agent.create({
      data: {
        tenantId,
        crewId: crew.id,
        position: 0,
        name: 'researcher',
        role: 'Researcher',
        modelProvider: 'SCRIPTED',
        modelName: 'echo',
        tools: [],
      },
    });
    const task = await tx.task.create({
      data: {
        tenantId,
        crewId: crew.id,
        position: 0,
        name: 'research',
        description: 'Research',
        agentId: agent.id,
      },
    });
    return { tenantId, apiKeyId: key.id, apiKeyHash, crewId: crew.id, agentId: agent.id, taskId: task.id };
  });
}

/** Runs SQL as the database owner (not the app role): catalog checks and ground truth. */
async function privileged<T>(fn: (query: (sql: string) => Promise<T[]>) => Promise<T[]>): Promise<T[]> {
  if (BACKEND === 'postgres') {
    const c = new pg.Client({ connectionString: tdb.url });
    await c.connect();
    try {
      return await fn(async (sql) => (await c.query(sql)).rows as T[]);
    } finally {
      await c.end();
    }
  }
  const lite = db.pglite!;
  await lite.exec('RESET ROLE');
  try {
    return await fn(async (sql) => (await lite.query<T>(sql)).rows);
  } finally {
    await lite.exec(`SET ROLE ${APP_ROLE}`);
  }
}

const TENANT_TABLES = ['ApiKey', 'Crew', 'Agent', 'Task'] as const;

beforeAll(async () => {
  tdb = await createTestDatabase();
  db = tdb.database;
  A = await seedTenant('Tenant A');
  B = await seedTenant('Tenant B');
});
afterAll(() => tdb?.close());

describe(`row-level security (${BACKEND})`, () => {
  test('a raw query with no tenant filter sees only the current tenant’s rows', async () => {
    await db.withTenant(A.tenantId, async (tx) => {
      const tenants = await tx.$queryRawUnsafe<{ id: string }[]>('SELECT id FROM "Tenant"');
      expect(tenants.map((t) => t.id)).toEqual([A.tenantId]);
      for (const table of TENANT_TABLES) {
        const rows = await tx.$queryRawUnsafe<{ id: string; tenantId: string }[]>(
          `SELECT id, "tenantId" FROM "${table}"`,
        );
        expect(rows.length, table).toBe(1);
        expect(
          rows.every((r) => r.tenantId === A.tenantId),
          table,
        ).toBe(true);
      }
      const crews = await tx.$queryRawUnsafe<{ id: string }[]>(
        'SELECT id FROM "Crew" WHERE id = $1',
        B.crewId,
      );
      expect(crews).toEqual([]);
    });
    // The same query as tenant B sees B's rows: the filter follows the setting, not the SQL.
    const bCrews = await db.withTenant(B.tenantId, (tx) =>
      tx.$queryRawUnsafe<{ id: string }[]>('SELECT id FROM "Crew"'),
    );
    expect(bCrews.map((c) => c.id)).toEqual([B.crewId]);
  });

  test('a tenant client (subscriptions) sees only its tenant’s rows, shared or not', async () => {
    const a = db.tenantClient(A.tenantId);
    const b = db.tenantClient(B.tenantId);
    // One client per tenant, reused: each still reads its own tenant's rows only.
    expect(db.tenantClient(A.tenantId)).toBe(a);
    expect(b).not.toBe(a);
    for (let i = 0; i < 2; i++) {
      expect((await a.crew.findMany({ select: { id: true } })).map((c) => c.id)).toEqual([A.crewId]);
      expect((await b.crew.findMany({ select: { id: true } })).map((c) => c.id)).toEqual([B.crewId]);
      expect(await a.crew.findUnique({ where: { id: B.crewId } })).toBeNull();
    }
  });

  test('with no tenant set, the app role sees no rows at all', async () => {
    expect(await db.prisma.tenant.count()).toBe(0);
    expect(await db.prisma.crew.count()).toBe(0);
    expect(await db.prisma.apiKey.findMany()).toEqual([]);
    const raw = await db.prisma.$queryRawUnsafe<{ n: number }[]>('SELECT count(*)::int AS n FROM "Crew"');
    expect(raw[0]!.n).toBe(0);
    // Ground truth: both tenants' crews are there.
    const all = await privileged<{ n: number }>((q) => q('SELECT count(*)::int AS n FROM "Crew"'));
    expect(all[0]!.n).toBe(2);
  });

  test('the tenant setting does not outlive its transaction on any pooled connection', async () => {
    await Promise.all([A, B].map((t) => db.withTenant(t.tenantId, (tx) => tx.crew.count())));
    const counts = await Promise.all(Array.from({ length: 12 }, () => db.prisma.crew.count()));
    expect(counts).toEqual(Array(12).fill(0));
    const settings = await db.prisma.$queryRawUnsafe<{ tid: string | null }[]>(
      "SELECT current_setting('app.tenant_id', true) AS tid",
    );
    expect(settings[0]!.tid ?? '').toBe('');
  });

  test('the authentication lookup sees exactly the one key whose hash it holds, and can change nothing', async () => {
    const seen = await db.withApiKeyHash(B.apiKeyHash, async (tx) => ({
      keys: await tx.$queryRawUnsafe<{ id: string }[]>('SELECT id FROM "ApiKey"'),
      crews: await tx.crew.count(),
      tenants: await tx.tenant.count(),
      revoke: (await tx.apiKey.updateMany({ where: { id: B.apiKeyId }, data: { revokedAt: new Date() } }))
        .count,
      remove: await tx.$executeRawUnsafe('DELETE FROM "ApiKey"'),
    }));
    expect(seen).toEqual({ keys: [{ id: B.apiKeyId }], crews: 0, tenants: 0, revoke: 0, remove: 0 });
    const unknown = await db.withApiKeyHash('0'.repeat(64), (tx) => tx.apiKey.count());
    expect(unknown).toBe(0);
    const key = await db.withTenant(B.tenantId, (tx) =>
      tx.apiKey.findUnique({ where: { id: B.apiKeyId }, select: { revokedAt: true } }),
    );
    expect(key).toEqual({ revokedAt: null });
  });

  test('inserting a row for another tenant inside a tenant’s transaction fails (WITH CHECK)', async () => {
    await expect(
      db.withTenant(A.tenantId, (tx) => tx.crew.create({ data: { tenantId: B.tenantId, name: 'planted' } })),
    ).rejects.toThrow(/row-level security/i);
    await expect(
      db.withTenant(A.tenantId, (tx) =>
        tx.$executeRawUnsafe(
          'INSERT INTO "Crew" (id, "tenantId", name, "updatedAt") VALUES ($1, $2, $3, now())',
          randomUUID(),
          B.tenantId,
          'planted raw',
        ),
      ),
    ).rejects.toThrow(/row-level security/i);
    await expect(
      db.withTenant(A.tenantId, (tx) =>
        tx.agent.create({
          data: {
            tenantId: B.tenantId,
            crewId: B.crewId,
            position: 1,
            name: 'mole',
            role: 'Mole',
            modelProvider: 'SCRIPTED',
            modelName: 'echo',
            tools: [],
          },
        }),
      ),
    ).rejects.toThrow(/row-level security/i);
    // Moving one's own row to another tenant is refused too.
    await expect(
      db.withTenant(A.tenantId, (tx) =>
        tx.$executeRawUnsafe('UPDATE "Crew" SET "tenantId" = $1 WHERE id = $2', B.tenantId, A.crewId),
      ),
    ).rejects.toThrow(/row-level security/i);
    const crews = await privileged<{ name: string; tenantId: string }>((q) =>
      q('SELECT name, "tenantId" FROM "Crew"'),
    );
    expect(crews.filter((c) => /planted/.test(c.name))).toEqual([]);
    expect(crews.filter((c) => c.tenantId === B.tenantId).map((c) => c.name)).toEqual(['Tenant B crew']);
    expect(crews.filter((c) => c.tenantId === A.tenantId)).toHaveLength(1);
    const agents = await privileged<{ n: number }>((q) => q('SELECT count(*)::int AS n FROM "Agent"'));
    expect(agents[0]!.n).toBe(2);
  });

  test('updating or deleting another tenant’s rows affects nothing', async () => {
    const counts = await db.withTenant(A.tenantId, async (tx: Tx) => ({
      update: (await tx.crew.updateMany({ where: { id: B.crewId }, data: { name: 'pwned' } })).count,
      updateRaw: await tx.$executeRawUnsafe('UPDATE "Crew" SET name = $1', 'pwned everywhere'),
      revoke: (await tx.apiKey.updateMany({ where: { id: B.apiKeyId }, data: { revokedAt: new Date() } }))
        .count,
      deleteTask: (await tx.task.deleteMany({ where: { id: B.taskId } })).count,
      deleteAgentRaw: await tx.$executeRawUnsafe('DELETE FROM "Agent" WHERE id = $1', B.agentId),
      deleteTenant: await tx.$executeRawUnsafe('DELETE FROM "Tenant" WHERE id = $1', B.tenantId),
      deleteCrew: (await tx.crew.deleteMany({ where: { id: B.crewId } })).count,
    }));
    // The unfiltered raw UPDATE touches exactly A's one crew; everything aimed at B touches nothing.
    expect(counts).toEqual({
      update: 0,
      updateRaw: 1,
      revoke: 0,
      deleteTask: 0,
      deleteAgentRaw: 0,
      deleteTenant: 0,
      deleteCrew: 0,
    });
    const b = await db.withTenant(B.tenantId, async (tx) => ({
      tenant: await tx.tenant.count(),
      crew: await tx.crew.findUnique({ where: { id: B.crewId }, select: { name: true } }),
      key: await tx.apiKey.findUnique({ where: { id: B.apiKeyId }, select: { revokedAt: true } }),
      agents: await tx.agent.count(),
      tasks: await tx.task.count(),
    }));
    expect(b).toEqual({
      tenant: 1,
      crew: { name: 'Tenant B crew' },
      key: { revokedAt: null },
      agents: 1,
      tasks: 1,
    });
  });

  test('every tenant-owned table has row-level security enabled and forced, with a policy', async () => {
    const rows = await privileged<{ table: string; rls: boolean; forced: boolean; policies: number }>((q) =>
      q(`SELECT c.relname AS "table", c.relrowsecurity AS rls, c.relforcerowsecurity AS forced,
                (SELECT count(*) FROM pg_policies p WHERE p.schemaname = 'public' AND p.tablename = c.relname)::int AS policies
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
            AND (c.relname = 'Tenant' OR EXISTS (
                  SELECT 1 FROM information_schema.columns col
                   WHERE col.table_schema = 'public' AND col.table_name = c.relname AND col.column_name = 'tenantId'))
          ORDER BY 1`),
    );
    const tables = rows.map((r) => r.table);
    for (const t of [
      'Tenant',
      'ApiKey',
      'Crew',
      'CrewVersion',
      'Agent',
      'Task',
      'TaskDependency',
      'AuditEvent',
    ]) {
      expect(tables).toContain(t);
    }
    const unprotected = rows.filter((r) => !r.rls || !r.forced || r.policies < 1);
    expect(unprotected).toEqual([]);
  });

  test('the app role cannot switch row-level security off or reach past its grants', async () => {
    const refused: [string, RegExp][] = [
      ['ALTER TABLE "Crew" DISABLE ROW LEVEL SECURITY', /must be owner/],
      ['ALTER TABLE "Crew" NO FORCE ROW LEVEL SECURITY', /must be owner/],
      ['DROP POLICY tenant_isolation ON "Crew"', /must be owner/],
      ['CREATE POLICY open_door ON "Crew" USING (true)', /must be owner/],
      ['SELECT count(*) FROM "_prisma_migrations"', /permission denied/],
      ['CREATE TABLE "Backdoor" (id text)', /permission denied/],
    ];
    for (const [sql, why] of refused) {
      await expect(
        db.withTenant(A.tenantId, (tx) => tx.$executeRawUnsafe(sql)),
        sql,
      ).rejects.toThrow(why);
    }
    // With row_security off, a query that RLS would filter fails instead of seeing everything.
    await expect(
      db.withTenant(A.tenantId, async (tx) => {
        await tx.$executeRawUnsafe('SET LOCAL row_security = off');
        return tx.$queryRawUnsafe('SELECT id FROM "Crew"');
      }),
    ).rejects.toThrow(/row-level security/i);
    const policies = await privileged<{ n: number }>((q) =>
      q(`SELECT count(*)::int AS n FROM pg_policies WHERE schemaname = 'public' AND tablename = 'Crew'`),
    );
    expect(policies[0]!.n).toBe(1);
  });

  test('application queries run as a role that is neither superuser nor BYPASSRLS', async () => {
    const [me] = await db.prisma.$queryRawUnsafe<{ who: string; superuser: boolean; bypass: boolean }[]>(
      `SELECT current_user::text AS who, r.rolsuper AS superuser, r.rolbypassrls AS bypass
         FROM pg_roles r WHERE r.rolname = current_user`,
    );
    expect(me).toEqual({ who: APP_ROLE, superuser: false, bypass: false });
    // The same holds inside the tenant transactions the server uses.
    const inTx = await db.withTenant(A.tenantId, (tx) =>
      tx.$queryRawUnsafe<{ who: string }[]>('SELECT current_user::text AS who'),
    );
    expect(inTx[0]!.who).toBe(APP_ROLE);
  });

  test('a one-round-trip script is bound by the same tenant policies, and its setting ends with it', async () => {
    const [own, other] = await db.script({ 'app.tenant_id': A.tenantId }, [
      sql`SELECT id FROM "Crew"`,
      sql`UPDATE "Crew" SET name = 'taken' WHERE id = ${B.crewId} RETURNING id`,
    ]);
    expect(own).toEqual([{ id: A.crewId }]);
    expect(other).toEqual([]);
    await expect(
      db.script({ 'app.tenant_id': A.tenantId }, [
        sql`INSERT INTO "Crew" (id, "tenantId", name, "updatedAt") VALUES (${randomUUID()}, ${B.tenantId}, 'planted', now())`,
      ]),
    ).rejects.toThrow(/row-level security/i);
    const counts = await Promise.all(Array.from({ length: 12 }, () => db.prisma.crew.count()));
    expect(counts).toEqual(Array(12).fill(0));
  });

  test('a script that fails part-way changes nothing, and the connection serves the next one', async () => {
    const name = sql`SELECT name FROM "Crew" WHERE id = ${A.crewId}`;
    const [before] = await db.script({ 'app.tenant_id': A.tenantId }, [name]);
    expect(before).toHaveLength(1);
    await expect(
      db.script({ 'app.tenant_id': A.tenantId }, [
        sql`UPDATE "Crew" SET name = 'half done' WHERE id = ${A.crewId}`,
        sql`SELECT 1 / 0`,
      ]),
    ).rejects.toThrow(/division by zero/);
    const [after] = await db.script({ 'app.tenant_id': A.tenantId }, [name]);
    expect(after).toEqual(before);
  });

  test('values reach a script as data, never as SQL', async () => {
    const nasty = `it's \\ a "test" '); DROP TABLE "Crew"; -- $$ \u{1F9A6} \n`;
    const doc = { quote: "'", backslash: '\\', nested: [1.5, null, { deep: nasty }] };
    const at = new Date('2026-01-02T03:04:05.678Z');
    const [rows] = await db.script({ 'app.tenant_id': A.tenantId }, [
      sql`SELECT ${nasty} AS text, ${jsonb(doc)} AS doc, ${-0.000001}::float8 AS n, ${true} AS b, ${null}::text AS nothing,
        (extract(epoch FROM ${at}) * 1000)::float8 AS ms`,
    ]);
    expect(rows).toEqual([{ text: nasty, doc, n: -0.000001, b: true, nothing: null, ms: at.getTime() }]);
    expect(() => sql`SELECT ${'nul \0 byte'}`).toThrow(/NUL/);
  });
  test('a tenant deleted takes its runs with their task runs, events and usage; other tenants keep theirs', async () => {
    const withRun = async (name: string) => {
      const t = await seedTenant(name);
      await db.withTenant(t.tenantId, async (tx) => {
        const version = await tx.crewVersion.create({
          data: { tenantId: t.tenantId, crewId: t.crewId, version: 1, definition: {} },
        });
        const run = await tx.run.create({
          data: { tenantId: t.tenantId, crewId: t.crewId, crewVersionId: version.id, inputs: {} },
        });
        const task = await tx.taskRun.create({
          data: { tenantId: t.tenantId, runId: run.id, taskName: 'research', position: 0 },
        });
        await tx.runEvent.createMany({
          data: [1, 2].map((seq) => ({
            tenantId: t.tenantId,
            runId: run.id,
            seq,
            type: 'RUN_STARTED' as const,
          })),
        });
        await tx.usageRecord.create({
          data: {
            tenantId: t.tenantId,
            runId: run.id,
            taskRunId: task.id,
            agentName: 'researcher',
            provider: 'scripted',
            model: 'echo',
            promptTokens: 1,
            completionTokens: 1,
            costUsd: 0,
          },
        });
      });
      return t;
    };
    const gone = await withRun('C');
    const kept = await withRun('D');
    await db.withTenant(gone.tenantId, (tx) => tx.tenant.deleteMany({ where: { id: gone.tenantId } }));
    const left = await privileged<{
      tenantId: string;
      runs: number;
      tasks: number;
      events: number;
      usage: number;
    }>((q) =>
      q(`SELECT t.id AS "tenantId",
             (SELECT count(*) FROM "Run" WHERE "tenantId" = t.id)::int AS runs,
             (SELECT count(*) FROM "TaskRun" WHERE "tenantId" = t.id)::int AS tasks,
             (SELECT count(*) FROM "RunEvent" WHERE "tenantId" = t.id)::int AS events,
             (SELECT count(*) FROM "UsageRecord" WHERE "tenantId" = t.id)::int AS usage
           FROM (VALUES ('${gone.tenantId}'), ('${kept.tenantId}')) AS t(id)`),
    );
    expect(left).toEqual([
      { tenantId: gone.tenantId, runs: 0, tasks: 0, events: 0, usage: 0 },
      { tenantId: kept.tenantId, runs: 1, tasks: 1, events: 2, usage: 1 },
    ]);
  });
});
