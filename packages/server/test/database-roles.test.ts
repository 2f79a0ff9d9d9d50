// A production login (neither superuser nor BYPASSRLS) runs tenant queries as troupe_app and work
// across tenants as troupe_system. It must be able to take both roles: the server says so at start,
// naming the grant, instead of failing later in each background loop. And the system role's
// policies must not reach its tenant queries.
import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { APP_ROLE, openDatabase, SYSTEM_ROLE } from '../src/db/database.js';
import { BACKEND, createTestDatabase, pgAdmin, type TestDatabase } from './support/backend.js';

const login = `troupe_t_login_${randomBytes(4).toString('hex')}`;
let tdb: TestDatabase;
let asLogin: string;
let runId: string;

beforeAll(async () => {
  if (BACKEND !== 'postgres') return;
  tdb = await createTestDatabase();
  await pgAdmin((c) => c.query(`CREATE ROLE ${login} LOGIN NOSUPERUSER`));
  const url = new URL(tdb.url!);
  url.username = login;
  asLogin = url.toString();
  // A tenant with a run under way, which recovery must find.
  const tenantId = randomUUID();
  runId = await tdb.database.withTenant(tenantId, async (tx) => {
    await tx.tenant.create({ data: { id: tenantId, name: 't' } });
    const crew = await tx.crew.create({ data: { tenantId, name: 'c' } });
    const version = await tx.crewVersion.create({
      data: { tenantId, crewId: crew.id, version: 1, definition: {} },
    });
    const run = await tx.run.create({
      data: { tenantId, crewId: crew.id, crewVersionId: version.id, inputs: {}, status: 'RUNNING' },
    });
    return run.id;
  });
});
afterAll(async () => {
  if (BACKEND !== 'postgres') return;
  await tdb?.close();
  await pgAdmin((c) => c.query(`DROP ROLE IF EXISTS ${login}`));
});

test.skipIf(BACKEND !== 'postgres')(
  'a login that cannot take troupe_app and troupe_system is refused at start, naming the grant',
  async () => {
    await expect(openDatabase({ databaseUrl: asLogin, migrate: false })).rejects.toThrow(
      `GRANT ${APP_ROLE}, ${SYSTEM_ROLE} TO "${login}"`,
    );
    await pgAdmin((c) => c.query(`GRANT ${APP_ROLE} TO ${login}`));
    await expect(openDatabase({ databaseUrl: asLogin, migrate: false })).rejects.toThrow(
      `GRANT ${SYSTEM_ROLE} TO "${login}"`,
    );
  },
);

test.skipIf(BACKEND !== 'postgres')(
  'once granted, the login recovers runs across tenants, while its tenant queries never see the system role’s rows',
  async () => {
    await pgAdmin((c) => c.query(`GRANT ${APP_ROLE}, ${SYSTEM_ROLE} TO ${login}`));
    // One connection: a role switched for one transaction must not outlive it on the connection.
    // Connection options of the URL's own are kept beside the role.
    const url = new URL(asLogin);
    url.searchParams.set('options', '-c statement_timeout=12345');
    const database = await openDatabase({
      databaseUrl: url.toString(),
      migrate: false,
      poolSize: 1,
      scriptSlots: 1,
    });
    try {
      expect((await database.unfinishedRuns()).map((r) => r.id)).toEqual([runId]);
      const after = await database.prisma.$transaction(async (tx) => {
        await tx.$executeRawUnsafe("SELECT set_config('app.run_recovery', 'on', true)");
        return tx.$queryRawUnsafe<{ who: string; runs: number; timeout: string }[]>(
          `SELECT current_user AS who, (SELECT count(*) FROM "Run")::int AS runs,
             current_setting('statement_timeout') AS timeout`,
        );
      });
      // troupe_app with the recovery flag: the policy is troupe_system's alone, though the login is a member.
      expect(after).toEqual([{ who: APP_ROLE, runs: 0, timeout: '12345ms' }]);
    } finally {
      await database.close();
    }
  },
);
