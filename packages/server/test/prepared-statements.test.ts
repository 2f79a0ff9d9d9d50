// Prepared statements behind Database.script: a statement kind sent often enough is prepared on its
// session and EXECUTEd from then on. It must answer exactly as its text did, keep each tenant to its
// own rows however often its plan is reused, and survive a session that forgot what it prepared.
// Real database of the suite's backend.
import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { Database } from '../src/db/database.js';
import { joinSql, jsonb, SqlText, sql } from '../src/db/sql-text.js';
import { BACKEND, createTestDatabase, type TestDatabase } from './support/backend.js';

let tdb: TestDatabase;
let db: Database;
const tenants: { id: string; crew: string }[] = [];

beforeAll(async () => {
  tdb = await createTestDatabase();
  db = tdb.database;
  for (const name of ['alpha', 'beta']) {
    const id = randomUUID();
    await db.withTenant(id, async (tx) => {
      await tx.tenant.create({ data: { id, name } });
      await tx.crew.create({ data: { tenantId: id, name: `${name} crew` } });
      await tx.apiKey.create({
        data: {
          tenantId: id,
          name: `${name} key`,
          prefix: 'trp_test',
          hashedSecret: randomBytes(32).toString('hex'),
          scopes: ['admin'],
        },
      });
    });
    tenants.push({ id, crew: `${name} crew` });
  }
});
afterAll(() => tdb?.close());

/** The troupe_ statements the session that runs this script has prepared. */
const preparedHere = sql`SELECT count(*)::int AS "n" FROM pg_prepared_statements WHERE "name" LIKE 'troupe\\_%'`;

test('a statement sent again and again answers as its text did, every time, values of every kind', async () => {
  const when = new Date('2026-12-04T10:11:12.345Z');
  const echo = (i: number) =>
    sql`SELECT (${i}::int + ${2_147_483_648 * 2})::text AS "big", (${1e21} + ${i})::text AS "huge", (${i + 0.25} * 2)::text AS "num", ${i % 2 === 0} AS "even",
  ${when} + make_interval(days => ${i}) AS "at", ${jsonb({ i, s: "it's \\ fine" })} -> 's' AS "j",
  ${jsonb(null)} IS NULL AS "noJson", length(${`x${'y'.repeat(i)}`}::text) AS "len", ${null}::text AS "nothing",
  (SELECT string_agg(v, '') FROM (VALUES ${joinSql([sql`(${'a'})`, sql`(${'b'})`])}) AS t(v)) AS "ab"`;
  for (let i = 0; i < 8; i++) {
    const [rows] = await db.script({}, [echo(i)]);
    expect(rows).toEqual([
      {
        big: String(i + 4_294_967_296),
        huge: `1000000000000000000${String(i).padStart(3, '0')}`,
        num: ((i + 0.25) * 2).toFixed(2),
        even: i % 2 === 0,
        at: new Date(when.getTime() + i * 86_400_000),
        j: "it's \\ fine",
        noJson: true,
        len: i + 1,
        nothing: null,
        ab: 'ab',
      },
    ]);
  }
  // By now it runs prepared on the session that sent it.
  const [, count] = await db.script({}, [echo(9), preparedHere]);
  expect(count![0]!.n).toBeGreaterThan(0);
});

test('a prepared statement reused by two tenants in turn shows each only its own rows', async () => {
  const [a, b] = tenants;
  const crews = (tenantId: string, i: number) =>
    db.script({ 'app.tenant_id': tenantId }, [
      sql`SELECT "name", ${i}::int AS "i" FROM "Crew" WHERE "name" <> ${'none'} ORDER BY "name"`,
      sql`SELECT count(*)::int AS "keys" FROM "ApiKey" WHERE "prefix" = ${'trp_test'}`,
    ]);
  // Sequentially and at once: plans are reused across tenants and across scripts in one message.
  for (let i = 0; i < 12; i++) {
    const t = i % 2 === 0 ? a! : b!;
    expect(await crews(t.id, i)).toEqual([[{ name: t.crew, i }], [{ keys: 1 }]]);
  }
  const together = await Promise.all(Array.from({ length: 12 }, (_, i) => crews(tenants[i % 2]!.id, i)));
  for (const [i, rows] of together.entries())
    expect(rows).toEqual([[{ name: tenants[i % 2]!.crew, i }], [{ keys: 1 }]]);
  // No tenant at all: nothing, though the same plans ran a moment ago with tenants set.
  for (let i = 0; i < 4; i++)
    expect(await db.script({}, [sql`SELECT "name" FROM "Crew" WHERE "name" <> ${'none'}`])).toEqual([[]]);
});

test('a statement PostgreSQL cannot prepare keeps working as text', async () => {
  // $1 alone in a select list has no type to take: PREPARE refuses it, the text form is fine.
  for (let i = 0; i < 6; i++)
    expect(await db.script({}, [sql`SELECT ${`v${i}`} AS "v"`])).toEqual([[{ v: `v${i}` }]]);
});

test('a statement text holding two statements is never prepared (PREPARE would run the second)', async () => {
  const two = (i: number) => new SqlText(['SELECT ', '::int AS "a"; SELECT 2 AS "b"'], [String(i)]);
  for (let i = 0; i < 5; i++)
    await expect(db.script({}, [two(i)])).rejects.toThrow(/returned 2 results for 1 statements/);
});

test.skipIf(BACKEND === 'postgres')(
  'a session that forgot its prepared statements (DEALLOCATE ALL) is answered all the same',
  async () => {
    // Embedded PGlite in process: one session, so the DEALLOCATE reaches the statements prepared.
    const hot = (i: number) => sql`SELECT ${i}::int * 3 AS "x"`;
    for (let i = 0; i < 5; i++) await db.script({}, [hot(i)]);
    expect((await db.script({}, [preparedHere]))[0]![0]!.n).toBeGreaterThan(0);
    await db.script({}, [new SqlText('DEALLOCATE ALL')]);
    expect((await db.script({}, [preparedHere]))[0]![0]!.n).toBe(0);
    for (let i = 5; i < 10; i++) expect(await db.script({}, [hot(i)])).toEqual([[{ x: i * 3 }]]);
    // And it prepares them again.
    expect((await db.script({}, [preparedHere]))[0]![0]!.n).toBeGreaterThan(0);
  },
);

test.skipIf(BACKEND === 'postgres')(
  'a column whose type a migration changed is read with its new type, though a prepared statement returned it',
  async () => {
    // One session (PGlite in process), so the temporary table is there for every script.
    await db.script({}, [
      new SqlText('CREATE TEMP TABLE prep_probe ("id" int, "x" int)'),
      new SqlText('INSERT INTO prep_probe VALUES (1, 10)'),
    ]);
    const read = (i: number) => sql`SELECT "x" FROM prep_probe WHERE "id" = ${1} AND ${i}::int >= 0`;
    for (let i = 0; i < 5; i++) expect(await db.script({}, [read(i)])).toEqual([[{ x: 10 }]]);
    // PostgreSQL refuses a cached plan whose result type changed ("cached plan must not change result type").
    await db.script({}, [new SqlText('ALTER TABLE prep_probe ALTER COLUMN "x" TYPE text')]);
    for (let i = 5; i < 12; i++) expect(await db.script({}, [read(i)])).toEqual([[{ x: '10' }]]);
    expect((await db.script({}, [preparedHere]))[0]![0]!.n).toBeGreaterThan(0);
  },
);

test('SqlText reads the same inlined and as a template with its arguments', () => {
  const st = sql`UPDATE "Run" SET "n" = "n" + ${3}, "at" = ${new Date(0)}, "ok" = ${true}, "d" = ${jsonb({ a: 1 })}
WHERE "id" = ${"o'brien"} AND "x" IN (${joinSql([sql`${1.5}`, sql`${null}`])})`;
  expect(
    st.template,
  ).toBe(`UPDATE "Run" SET "n" = "n" + $1::int4, "at" = $2::timestamp(3), "ok" = $3::boolean, "d" = $4::jsonb
WHERE "id" = $5 AND "x" IN ($6::numeric, $7)`);
  expect(st.args).toEqual([
    '3',
    "'1970-01-01T00:00:00.000'",
    'TRUE',
    `'{"a":1}'`,
    "'o''brien'",
    '1.5',
    'NULL',
  ]);
  expect(
    st.text,
  ).toBe(`UPDATE "Run" SET "n" = "n" + 3::int4, "at" = '1970-01-01T00:00:00.000'::timestamp(3), "ok" = TRUE::boolean, "d" = '{"a":1}'::jsonb
WHERE "id" = 'o''brien' AND "x" IN (1.5::numeric, NULL)`);
});
