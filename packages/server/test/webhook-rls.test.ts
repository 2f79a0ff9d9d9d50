// The two lookups that run before a tenant is known — the inbound hook of the crew in a request URL,
// and the delivery loop's claim of due deliveries — see only what they need, and can change little.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { type Database, systemTransaction, type Tx } from '../src/db/database.js';
import { BACKEND, createTestDatabase, type TestDatabase } from './support/backend.js';

let tdb: TestDatabase;
let db: Database;

interface Seeded {
  tenantId: string;
  crewId: string;
  hookId: string;
  pending: string;
  failed: string;
}

async function seed(name: string): Promise<Seeded> {
  const tenantId = randomUUID();
  return db.withTenant(tenantId, async (tx) => {
    await tx.tenant.create({ data: { id: tenantId, name } });
    const crew = await tx.crew.create({ data: { tenantId, name } });
    const version = await tx.crewVersion.create({
      data: { tenantId, crewId: crew.id, version: 1, definition: {} },
    });
    const run = await tx.run.create({
      data: { tenantId, crewId: crew.id, crewVersionId: version.id, inputs: {} },
    });
    const hook = await tx.inboundHook.create({ data: { tenantId, crewId: crew.id } });
    const webhook = await tx.webhook.create({
      data: {
        tenantId,
        crewId: crew.id,
        url: `https://${name}.example/`,
        events: ['RUN_SUCCEEDED'],
        enabled: false,
      },
    });
    const delivery = (status: 'PENDING' | 'FAILED') =>
      tx.webhookDelivery.create({
        data: {
          tenantId,
          webhookId: webhook.id,
          runId: run.id,
          event: 'RUN_SUCCEEDED',
          payload: { secret: name },
          status,
          nextAttemptAt: new Date(Date.now() + 3_600_000),
        },
      });
    return {
      tenantId,
      crewId: crew.id,
      hookId: hook.id,
      pending: (await delivery('PENDING')).id,
      failed: (await delivery('FAILED')).id,
    };
  });
}

function withSetting<T>(name: string, value: string, fn: (tx: Tx) => Promise<T>): Promise<T> {
  return db.prisma.$transaction(async (tx) => {
    await tx.$executeRawUnsafe('SELECT set_config($1, $2, true)', name, value);
    return fn(tx);
  });
}

/** A transaction of the system role's, with its policy's flag on (as the delivery loop's claim). */
function asSystem<T>(flag: 'app.webhook_dispatch', fn: (tx: Tx) => Promise<T>): Promise<T> {
  return db.prisma.$transaction(async (tx) => {
    await tx.$executeRawUnsafe(systemTransaction(flag));
    return fn(tx);
  });
}

let A: Seeded;
let B: Seeded;

beforeAll(async () => {
  tdb = await createTestDatabase();
  db = tdb.database;
  A = await seed('a');
  B = await seed('b');
});
afterAll(() => tdb?.close());

test(`the inbound-hook lookup sees the one hook of the crew it names, nothing else (${BACKEND})`, async () => {
  const seen = await withSetting('app.inbound_hook_crew', A.crewId, async (tx) => ({
    hooks: await tx.$queryRawUnsafe<{ id: string }[]>('SELECT id FROM "InboundHook"'),
    crews: await tx.crew.count(),
    webhooks: await tx.webhook.count(),
    deliveries: await tx.webhookDelivery.count(),
    removed: await tx.$executeRawUnsafe('DELETE FROM "InboundHook"'),
  }));
  expect(seen).toEqual({ hooks: [{ id: A.hookId }], crews: 0, webhooks: 0, deliveries: 0, removed: 0 });
  const still = await db.withTenant(A.tenantId, (tx) => tx.inboundHook.count());
  expect(still).toBe(1);
});

test(`the delivery loop's claim sees PENDING deliveries only, and cannot add, remove or settle them (${BACKEND})`, async () => {
  const seen = await asSystem('app.webhook_dispatch', async (tx) => ({
    deliveries: (await tx.$queryRawUnsafe<{ id: string }[]>('SELECT id FROM "WebhookDelivery" ORDER BY id'))
      .map((r) => r.id)
      .sort(),
    webhooks: await tx.webhook.count(),
    runs: await tx.run.count(),
    hooks: await tx.inboundHook.count(),
    removed: await tx.$executeRawUnsafe('DELETE FROM "WebhookDelivery"'),
  }));
  expect(seen).toEqual({
    deliveries: [A.pending, B.pending].sort(),
    webhooks: 0,
    runs: 0,
    hooks: 0,
    removed: 0,
  });
  // The flag alone, without the system role: nothing.
  const asApp = await withSetting('app.webhook_dispatch', 'on', (tx) => tx.webhookDelivery.count());
  expect(asApp).toBe(0);
  await expect(
    asSystem('app.webhook_dispatch', (tx) =>
      tx.webhookDelivery.update({ where: { id: A.pending }, data: { status: 'SUCCEEDED' } }),
    ),
  ).rejects.toThrow(/row-level security/i);
  await expect(
    asSystem('app.webhook_dispatch', (tx) =>
      tx.$executeRawUnsafe(
        `INSERT INTO "WebhookDelivery" (id, "tenantId", "webhookId", "runId", event, payload) SELECT 'x', "tenantId", "webhookId", "runId", event, payload FROM "WebhookDelivery" LIMIT 1`,
      ),
    ),
  ).rejects.toThrow(/row-level security/i);
  const counts = await Promise.all(
    [A, B].map((t) =>
      db.withTenant(t.tenantId, (tx) => tx.webhookDelivery.groupBy({ by: ['status'], _count: true })),
    ),
  );
  for (const c of counts)
    expect(c.map((g) => [g.status, g._count]).sort()).toEqual([
      ['FAILED', 1],
      ['PENDING', 1],
    ]);
});
