// Listings on a shared database: a tenant's page of runs or documents, and the unfinished runs that
// recovery reads, must cost the database about the rows they return, not every row of the table.
// Each listing's own SQL (as the server sent it, with its parameters) is run again under
// EXPLAIN ANALYZE, and the rows its scans read are counted.
import { afterAll, beforeAll, expect, test } from 'vitest';
import { systemTransaction, type Tx } from '../src/db/database.js';
import { startTestServer, type TestServer } from './support/backend.js';
import { CREATE_CREW, createTenant, gqlOk, SAMPLE_CREW } from './support/graphql-client.js';

/**
 * Rows of the big tenant. Big enough that the planner, with or without statistics (PGlite never
 * collects any), prices reading them all above reading an index in order; every one of them read
 * would be far over the bounds asserted.
 */
const BIG = 20_000;

let server: TestServer;
let capture: { sql: string; params: unknown[] }[] | null = null;
let small: { key: string; tenantId: string };
let big: { key: string; tenantId: string };

beforeAll(async () => {
  server = await startTestServer({
    quiet: true,
    authCache: { ttlMs: 10 * 60_000 },
    onQuery: (sql, params) => {
      if (capture && params !== undefined) capture.push({ sql, params: JSON.parse(params) });
    },
  });
  const tenant = async (name: string) => {
    const t = await createTenant(server.url, server.admin, name);
    await gqlOk(server.url, CREATE_CREW, { input: SAMPLE_CREW }, t.key);
    const tenantId = Buffer.from(t.tenant.id, 'base64').toString().split(':')[1]!;
    return { key: t.key, tenantId };
  };
  small = await tenant('small');
  big = await tenant('big');
  // Ids sort by time: the small tenant's rows are the oldest, so a scan of the whole table from
  // its newest end meets every row of the big tenant first.
  await seed(small.tenantId, 'a', 3, 'SUCCEEDED');
  await seed(big.tenantId, 'z', BIG, 'SUCCEEDED');
  await seed(big.tenantId, 'm', 2, 'RUNNING');
  // A rare status, all of it older than the rest of the big tenant's history: a listing of that
  // status that walked the tenant's rows newest first would read every one of them.
  await seed(big.tenantId, 'b', 5, 'FAILED', 'FAILED');
}, 60_000);
afterAll(() => server?.closeAll());

async function seed(tenantId: string, prefix: string, n: number, status: string, documentStatus = 'READY') {
  await server.database.withTenant(tenantId, async (tx) => {
    await tx.$executeRawUnsafe(
      `INSERT INTO "Run" ("id", "tenantId", "crewId", "crewVersionId", "status", "inputs", "updatedAt")
       SELECT $1 || lpad(g::text, 6, '0'), c."tenantId", c."id", v."id",
         $2::"RunStatus", '{}', now()
       FROM "Crew" c JOIN "CrewVersion" v ON v."crewId" = c."id", generate_series(1, $3::int) g`,
      prefix,
      status,
      n,
    );
    await tx.$executeRawUnsafe(
      `INSERT INTO "Document" ("id", "tenantId", "name", "mimeType", "sizeBytes", "contentHash", "status", "updatedAt")
       SELECT $1 || lpad(g::text, 6, '0'), $2, 'd' || g, 'text/plain', 1, md5(g::text), $4::"DocumentStatus", now()
       FROM generate_series(1, $3::int) g`,
      prefix,
      tenantId,
      n,
      documentStatus,
    );
  });
}

/** The statements Prisma sent while `fn` ran that read `table`. */
async function statementsOf(table: string, fn: () => Promise<unknown>) {
  capture = [];
  try {
    await fn();
    return capture.filter(
      (q) =>
        (q.sql.includes(`FROM "public"."${table}"`) || q.sql.includes(`FROM "${table}"`)) &&
        /^\s*SELECT/i.test(q.sql),
    );
  } finally {
    capture = null;
  }
}

interface PlanNode {
  'Node Type': string;
  'Actual Rows': number;
  'Actual Loops': number;
  'Rows Removed by Filter'?: number;
  Plans?: PlanNode[];
}

/** Rows the plan's scans read: returned plus filtered out, over every loop. */
function rowsRead(node: PlanNode): number {
  const own = node['Node Type'].includes('Scan')
    ? (node['Actual Rows'] + (node['Rows Removed by Filter'] ?? 0)) * node['Actual Loops']
    : 0;
  return own + (node.Plans ?? []).reduce((sum, p) => sum + rowsRead(p), 0);
}

async function explain(tx: Tx, q: { sql: string; params: unknown[] }): Promise<number> {
  const rows = await tx.$queryRawUnsafe<{ 'QUERY PLAN': [{ Plan: PlanNode }] | string }[]>(
    `EXPLAIN (ANALYZE, FORMAT JSON) ${q.sql}`,
    ...q.params,
  );
  const raw = rows[0]!['QUERY PLAN'];
  const plan = typeof raw === 'string' ? (JSON.parse(raw) as [{ Plan: PlanNode }]) : raw;
  return rowsRead(plan[0].Plan);
}

const LISTINGS = [
  ['runs, newest first', '{ list: runs(first: 5) { edges { node { id } } } }', 'Run'],
  ['runs of a rare status', '{ list: runs(first: 5, status: FAILED) { edges { node { id } } } }', 'Run'],
  ['documents, newest first', '{ list: documents(first: 5) { edges { node { id } } } }', 'Document'],
  [
    'documents of a rare status',
    '{ list: documents(first: 5, status: FAILED) { edges { node { id } } } }',
    'Document',
  ],
] as const;

test.each(LISTINGS)(
  'a page of %s reads about the rows it returns, for a small tenant and a big one',
  async (_what, query, table) => {
    for (const [tenant, found] of [
      [small, query.includes('FAILED') ? 0 : 3],
      [big, 5],
    ] as const) {
      const qs = await statementsOf(table, async () => {
        const d = await gqlOk(server.url, query, {}, tenant.key);
        expect(d.list.edges).toHaveLength(found);
        if (query.includes('FAILED') && tenant === big) {
          const ids = d.list.edges.map(
            (e: { node: { id: string } }) => Buffer.from(e.node.id, 'base64').toString().split(':')[1],
          );
          expect(ids).toEqual(['b000005', 'b000004', 'b000003', 'b000002', 'b000001']);
        }
      });
      expect(qs).toHaveLength(1);
      const read = await server.database.withTenant(tenant.tenantId, (tx) => explain(tx, qs[0]!));
      expect(read, `${tenant === big ? 'big' : 'small'} tenant`).toBeLessThan(50);
    }
  },
);

test('the unfinished runs recovery lists are read without the finished ones', async () => {
  let unfinished: { id: string; status: string }[] = [];
  const qs = await statementsOf('Run', async () => {
    unfinished = await server.database.unfinishedRuns();
  });
  expect(unfinished.map((r) => r.status)).toEqual(['RUNNING', 'RUNNING']);
  expect(qs).toHaveLength(1);
  const read = await server.database.prisma.$transaction(async (tx) => {
    await tx.$executeRawUnsafe(systemTransaction('app.run_recovery'));
    return explain(tx as unknown as Tx, qs[0]!);
  });
  expect(read).toBeLessThan(50);
});

test('only the system role reads across tenants, and then only unfinished runs', async () => {
  const statuses = (flag: string) =>
    server.database.prisma.$transaction(async (tx) => {
      await tx.$executeRawUnsafe(flag);
      return tx.$queryRawUnsafe<{ status: string; n: number }[]>(
        'SELECT status::text, count(*)::int AS n FROM "Run" GROUP BY status',
      );
    });
  expect(await statuses(systemTransaction('app.run_recovery'))).toEqual([{ status: 'RUNNING', n: 2 }]);
  // The application role with the recovery flag: nothing (the policy is the system role's).
  expect(await statuses("SELECT set_config('app.run_recovery', 'on', true)")).toEqual([]);
});

test.each([
  ['Run', 'RunStatus', 'z000001', 'SUCCEEDED'],
  ['Document', 'DocumentStatus', 'z000001', 'READY'],
])('%s.statusText, which status listings filter on, is every %s as text', async (table, type, id, was) => {
  const mapped = await server.database.withTenant(big.tenantId, async (tx) => {
    const labels = await tx.$queryRawUnsafe<{ label: string }[]>(
      `SELECT enumlabel AS label FROM pg_enum WHERE enumtypid = '"${type}"'::regtype ORDER BY enumsortorder`,
    );
    const out: [string, string | null][] = [];
    for (const { label } of labels) {
      const [row] = await tx.$queryRawUnsafe<{ statusText: string | null }[]>(
        `UPDATE "${table}" SET status = $1::"${type}" WHERE id = $2 RETURNING "statusText"`,
        label,
        id,
      );
      out.push([label, row!.statusText]);
    }
    await tx.$executeRawUnsafe(`UPDATE "${table}" SET status = $1::"${type}" WHERE id = $2`, was, id);
    return out;
  });
  expect(mapped.length).toBeGreaterThanOrEqual(4);
  for (const [label, text] of mapped) expect(text).toBe(label);
});
