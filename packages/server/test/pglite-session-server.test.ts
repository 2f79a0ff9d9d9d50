// The embedded database's one PGlite session, shared by several connections (troupe dev's pool):
// real pg clients over the Unix socket, as the server uses it.
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { PGliteSessionServer } from '../src/db/pglite-session-server.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.skipIf(process.env.TROUPE_TEST_BACKEND === 'postgres')(
  'PGlite shared by several connections',
  () => {
    let db: PGlite;
    let server: PGliteSessionServer;
    let dir: string;
    const clients: pg.Client[] = [];

    const client = async () => {
      const c = new pg.Client({ host: dir, port: 5432, user: 'postgres', database: 'postgres' });
      c.on('error', () => {});
      await c.connect();
      clients.push(c);
      return c;
    };
    /** Settles to 'pending' if the promise has not settled within ms. */
    const within = <T>(p: Promise<T>, ms: number) =>
      Promise.race([p.then((v) => ({ v })), sleep(ms).then(() => 'pending' as const)]);

    beforeAll(async () => {
      dir = mkdtempSync(path.join(tmpdir(), 'troupe-session-'));
      db = await PGlite.create();
      await db.exec('CREATE TABLE t (v int); CREATE ROLE reader NOSUPERUSER; GRANT SELECT ON t TO reader;');
      server = new PGliteSessionServer({ db, path: path.join(dir, '.s.PGSQL.5432') });
      await server.start();
    });
    afterEach(async () => {
      await Promise.all(clients.splice(0).map((c) => c.end().catch(() => {})));
    });
    afterAll(async () => {
      await server?.stop();
      await db?.close();
      rmSync(dir, { recursive: true, force: true });
    });

    test("another connection's query waits for an open transaction to end, then sees what it committed", async () => {
      const [a, b] = [await client(), await client()];
      await a.query('TRUNCATE t');
      await a.query('BEGIN');
      await a.query('INSERT INTO t VALUES (1)');
      // On one session with no turns, this would run inside a's transaction and count 1 at once.
      const count = b.query<{ n: number }>('SELECT count(*)::int AS n FROM t');
      expect(await within(count, 150)).toBe('pending');
      await a.query('INSERT INTO t VALUES (2)');
      await a.query('COMMIT');
      expect((await count).rows[0]!.n).toBe(2);
    });

    test('a failed transaction keeps the session until its ROLLBACK; nothing of it stays', async () => {
      const [a, b] = [await client(), await client()];
      await a.query('TRUNCATE t');
      await a.query('BEGIN');
      await a.query('INSERT INTO t VALUES (7)');
      await expect(a.query('SELECT 1/0')).rejects.toThrow(/division by zero/);
      const count = b.query<{ n: number }>('SELECT count(*)::int AS n FROM t');
      expect(await within(count, 150)).toBe('pending');
      await a.query('ROLLBACK');
      expect((await count).rows[0]!.n).toBe(0);
      // a's session goes on normally.
      expect((await a.query('SELECT 41 + 1 AS v')).rows[0].v).toBe(42);
    });

    test('parameterised queries from many connections at once each get their own answer', async () => {
      const cs = await Promise.all(Array.from({ length: 4 }, client));
      // Each is Parse, Bind, Describe, Execute, Sync on the unnamed statement: interleaved message by
      // message, one connection's Bind would bind another's statement.
      const answers = await Promise.all(
        cs.map(async (c, k) => {
          const rows: unknown[] = [];
          for (let i = k * 100; i < (k + 1) * 100; i++)
            rows.push((await c.query('SELECT $1::int AS v, $2::text AS s', [i, `q${i}`])).rows);
          return rows;
        }),
      );
      for (const [i, rows] of answers.flat().entries()) expect(rows).toEqual([{ v: i, s: `q${i}` }]);
    });

    test('a connection that drops mid-transaction is rolled back and the session goes on', async () => {
      const [a, b] = [await client(), await client()];
      await a.query('TRUNCATE t');
      await a.query('BEGIN');
      await a.query('INSERT INTO t VALUES (99)');
      const count = b.query<{ n: number }>('SELECT count(*)::int AS n FROM t');
      expect(await within(count, 100)).toBe('pending');
      (a as unknown as { connection: { stream: import('node:net').Socket } }).connection.stream.destroy();
      expect((await count).rows[0]!.n).toBe(0);
      await b.query('BEGIN');
      await b.query('INSERT INTO t VALUES (1)');
      await b.query('COMMIT');
      expect((await b.query('SELECT count(*)::int AS n FROM t')).rows[0].n).toBe(1);
    });

    test('a connection that drops halfway through an extended-protocol exchange frees the session', async () => {
      const b = await client();
      // A raw client: start-up, then a Parse with no Sync (the exchange is left open), then gone.
      const raw = connect(path.join(dir, '.s.PGSQL.5432'));
      await new Promise<void>((r) => raw.once('connect', () => r()));
      const params = Buffer.from('user\0postgres\0database\0postgres\0\0');
      const startup = Buffer.alloc(8 + params.length);
      startup.writeInt32BE(startup.length, 0);
      startup.writeInt32BE(196608, 4);
      params.copy(startup, 8);
      raw.write(startup);
      await new Promise<void>((r) => raw.once('data', () => r()));
      const sql = Buffer.from('\0SELECT 1\0\0\0');
      const parse = Buffer.alloc(5 + sql.length);
      parse[0] = 0x50;
      parse.writeInt32BE(4 + sql.length, 1);
      sql.copy(parse, 5);
      raw.write(parse);
      await sleep(50);
      const answer = b.query('SELECT $1::int AS v', [5]);
      expect(await within(answer, 100)).toBe('pending');
      raw.destroy();
      expect((await answer).rows).toEqual([{ v: 5 }]);
    });

    test('a message of megabytes, sent in many chunks, arrives whole, and so does its answer', async () => {
      const [a, b] = [await client(), await client()];
      const big = Array.from({ length: 200_000 }, (_, i) => `line ${i} `).join('');
      expect(big.length).toBeGreaterThan(2_000_000);
      const [echo, other] = await Promise.all([
        a.query<{ v: string; n: number }>('SELECT $1::text AS v, length($1::text) AS n', [big]),
        b.query<{ v: number }>('SELECT 7 AS v'),
      ]);
      expect(echo.rows[0]!.n).toBe(big.length);
      expect(echo.rows[0]!.v === big).toBe(true);
      expect(other.rows).toEqual([{ v: 7 }]);
    });

    test("a connection's role is not undone when another connection starts", async () => {
      const a = await client();
      await a.query('SET ROLE reader');
      await client();
      expect((await a.query('SELECT current_user AS u')).rows[0].u).toBe('reader');
      await a.query('RESET ROLE');
    });
  },
);
