// Group commit (ScriptBatcher behind Database.script): scripts that arrive while the database is
// busy go out together in one transaction, each with exactly its own settings, and one bad script
// fails alone. Real database of the suite's backend.
import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { Database } from '../src/db/database.js';
import { sql } from '../src/db/sql-text.js';
import { createTestDatabase, type TestDatabase } from './support/backend.js';

let tdb: TestDatabase;
let db: Database;
let messages: string[] = [];
const tenants: { id: string; hash: string; keyId: string }[] = [];

beforeAll(async () => {
  tdb = await createTestDatabase({ onQuery: (text) => messages.push(text) });
  db = tdb.database;
  for (const name of ['alpha', 'beta']) {
    const id = randomUUID();
    const hash = randomBytes(32).toString('hex');
    const keyId = await db.withTenant(id, async (tx) => {
      await tx.tenant.create({ data: { id, name } });
      await tx.crew.create({ data: { tenantId: id, name: `${name} crew` } });
      const key = await tx.apiKey.create({
        data: {
          tenantId: id,
          name: `${name} key`,
          prefix: 'trp_test',
          hashedSecret: hash,
          scopes: ['admin'],
        },
      });
      return key.id;
    });
    tenants.push({ id, hash, keyId });
  }
});
afterAll(() => tdb?.close());

/** Holds every script slot for a moment, so that the scripts sent next queue and share a message. */
function busy(): Promise<unknown>[] {
  return Array.from({ length: 8 }, () => db.script({}, [sql`SELECT pg_sleep(0.05)`]));
}

test('scripts that arrive together share one message, and each gets its own rows', async () => {
  const [a, b] = tenants;
  const blockers = busy();
  messages = [];
  const results = await Promise.all(
    Array.from({ length: 12 }, (_, i) => {
      const t = i % 2 === 0 ? a! : b!;
      return db.script({ 'app.tenant_id': t.id }, [
        sql`SELECT "name" FROM "Crew" ORDER BY "name"`,
        sql`SELECT ${i}::int AS "i"`,
      ]);
    }),
  );
  await Promise.all(blockers);
  for (const [i, [crews, echo]] of results.entries()) {
    expect(crews).toEqual([{ name: i % 2 === 0 ? 'alpha crew' : 'beta crew' }]);
    expect(echo).toEqual([{ i }]);
  }
  // 12 scripts, far fewer messages: most went out together.
  const carrying = messages.filter((m) => m.includes('"Crew"'));
  expect(carrying.length).toBeLessThan(12);
  expect(carrying.some((m) => m.split('FROM "Crew"').length > 2)).toBe(true);
});

test('a script sees only its own settings, whatever ran before it in the same transaction', async () => {
  const [a, b] = tenants;
  const blockers = busy();
  messages = [];
  const [byHash, otherTenant, none] = await Promise.all([
    // Authentication's read: the key row whose hash it presents, whatever its tenant.
    db.script({ 'app.api_key_hash': a!.hash }, [sql`SELECT "id" FROM "ApiKey"`]),
    // Next in the message: another tenant, which must not see that key through the hash setting.
    db.script({ 'app.tenant_id': b!.id }, [sql`SELECT "id" FROM "ApiKey"`]),
    // And a script with no settings at all sees no tenant's rows.
    db.script({}, [
      sql`SELECT count(*)::int AS "n" FROM "ApiKey"`,
      sql`SELECT count(*)::int AS "n" FROM "Crew"`,
    ]),
  ]);
  await Promise.all(blockers);
  expect(messages.some((m) => m.includes(a!.hash) && m.includes(b!.id))).toBe(true);
  expect(byHash[0]).toEqual([{ id: a!.keyId }]);
  expect(otherTenant[0]).toEqual([{ id: b!.keyId }]);
  expect(none).toEqual([[{ n: 0 }], [{ n: 0 }]]);
});

test('a failing script fails alone: the scripts it shared a transaction with commit once', async () => {
  const [a, b] = tenants;
  const blockers = busy();
  const insert = (t: { id: string }, name: string) =>
    db.script({ 'app.tenant_id': t.id }, [
      sql`INSERT INTO "Crew" ("id", "tenantId", "name", "updatedAt") VALUES (${randomUUID()}, ${t.id}, ${name}, now())`,
      sql`SELECT ${name} AS "name"`,
    ]);
  const outcomes = await Promise.allSettled([
    insert(a!, 'first'),
    // Row-level security refuses a row of another tenant: this script fails.
    db.script({ 'app.tenant_id': a!.id }, [
      sql`INSERT INTO "Crew" ("id", "tenantId", "name", "updatedAt") VALUES (${randomUUID()}, ${b!.id}, 'intruder', now())`,
    ]),
    insert(b!, 'second'),
  ]);
  await Promise.all(blockers);
  expect(outcomes[0]).toMatchObject({ status: 'fulfilled', value: [[], [{ name: 'first' }]] });
  expect(outcomes[1]).toMatchObject({ status: 'rejected', reason: { message: /row-level security/ } });
  expect(outcomes[2]).toMatchObject({ status: 'fulfilled', value: [[], [{ name: 'second' }]] });
  const names = async (t: { id: string }) =>
    (await db.script({ 'app.tenant_id': t.id }, [sql`SELECT "name" FROM "Crew" ORDER BY "name"`]))[0]!.map(
      (r) => r.name,
    );
  expect(await names(a!)).toEqual(['alpha crew', 'first']);
  expect(await names(b!)).toEqual(['beta crew', 'second']);
});

test('a statement text holding two statements is refused, and cannot shift its neighbours’ rows', async () => {
  const [a, b] = tenants;
  const blockers = busy();
  const outcomes = await Promise.allSettled([
    db.script({ 'app.tenant_id': a!.id }, [sql`SELECT 1 AS "x"; SELECT 2 AS "y"`]),
    db.script({ 'app.tenant_id': b!.id }, [sql`SELECT "name" FROM "Crew" WHERE "name" = 'beta crew'`]),
  ]);
  await Promise.all(blockers);
  expect(outcomes[0]).toMatchObject({ status: 'rejected', reason: { message: /one statement per SqlText/ } });
  expect(outcomes[1]).toMatchObject({ status: 'fulfilled', value: [[{ name: 'beta crew' }]] });
});
