// A production login (a member of troupe_app, neither superuser nor the owner) must also be a
// member of troupe_system, which work across tenants switches to: the server says so at start,
// instead of failing later in each background loop.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { openDatabase, SYSTEM_ROLE } from '../src/db/database.js';
import { BACKEND, createTestDatabase, pgAdmin, type TestDatabase } from './support/backend.js';

const login = `troupe_t_login_${randomBytes(4).toString('hex')}`;
let tdb: TestDatabase;

beforeAll(async () => {
  if (BACKEND !== 'postgres') return;
  tdb = await createTestDatabase();
  await pgAdmin((c) => c.query(`CREATE ROLE ${login} LOGIN NOSUPERUSER; GRANT troupe_app TO ${login}`));
});
afterAll(async () => {
  if (BACKEND !== 'postgres') return;
  await tdb?.close();
  await pgAdmin((c) => c.query(`DROP ROLE IF EXISTS ${login}`));
});

test.skipIf(BACKEND !== 'postgres')(
  'a login that is not a member of troupe_system is refused at start, naming the GRANT; once granted, it recovers runs',
  async () => {
    const url = new URL(tdb.url!);
    url.username = login;
    const asLogin = url.toString();
    await expect(openDatabase({ databaseUrl: asLogin, migrate: false })).rejects.toThrow(
      `GRANT ${SYSTEM_ROLE} TO "${login}"`,
    );
    await pgAdmin((c) => c.query(`GRANT ${SYSTEM_ROLE} TO ${login}`));
    const database = await openDatabase({ databaseUrl: asLogin, migrate: false });
    try {
      expect(await database.unfinishedRuns()).toEqual([]);
    } finally {
      await database.close();
    }
  },
);
