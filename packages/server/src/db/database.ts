import type { PGlite } from '@electric-sql/pglite';
import { PrismaPGlite } from 'pglite-prisma-adapter';
import { PrismaClient } from '../generated/prisma/client.js';
import { lockDataDir } from './data-dir-lock.js';
import { applyMigrations, type MigrationResult } from './migrate.js';
import { openPGlite } from './pglite.js';
import type { PGliteWorkerHost } from './pglite-worker-host.js';
import { PreparedStatements, UNDEFINED_PREPARED_STATEMENT } from './prepared-statements.js';
import { ScriptBatcher, type ScriptRunner } from './script-batcher.js';
import { type SqlText, setConfig } from './sql-text.js';
import {
  claimScope,
  type DeferredBeginClient,
  deferBegin,
  openScope,
  type ScriptRows,
  type TransactionScope,
} from './transaction-scope.js';

export type { ScriptRows } from './transaction-scope.js';

/** The role every tenant-facing query runs as: no superuser, no BYPASSRLS (created by the first migration). */
export const APP_ROLE = 'troupe_app';
/**
 * The role of work that reads across tenants (resuming runs, delivering webhooks, processing
 * documents). The policies that let it are granted to this role alone, so that tenant queries are
 * bound by the tenant's condition only, which the planner can read from an index.
 */
export const SYSTEM_ROLE = 'troupe_system';

/** The first statement of a transaction that works across tenants under one of those policies. */
export function systemTransaction(
  flag: 'app.run_recovery' | 'app.webhook_dispatch' | 'app.document_ingest',
): string {
  return `SELECT set_config('${flag}', 'on', true), set_config('role', '${SYSTEM_ROLE}', true)`;
}

export type Tx = Omit<PrismaClient, '$connect' | '$disconnect' | '$on' | '$transaction' | '$extends'>;

export interface DatabaseOptions {
  /** Postgres connection string; omitted: embedded PGlite. */
  databaseUrl?: string;
  /** PGlite data folder; omitted with no databaseUrl: in memory. */
  dataDir?: string;
  /** PGlite snapshot to boot an in-memory database from. */
  snapshot?: Blob;
  /** PGlite running in a worker thread (troupe dev), its data folder locked by the caller. */
  worker?: { host: PGliteWorkerHost; unlock: () => void };
  /** Apply pending migrations first (default true). */
  migrate?: boolean;
  /** Postgres: how long a migration waits for a table's lock (see applyMigrations; default 10 s). */
  migrateLockTimeoutMs?: number;
  poolSize?: number;
  /**
   * Postgres: script transactions in flight at once (default 2). Scripts arriving while all are busy
   * wait and go out together (group commit): fewer slots batch more, more slots wait less behind a
   * slow one. PGlite in process always has one (its one session); in its own thread, two.
   */
  scriptSlots?: number;
  /**
   * Called with every SQL statement sent (statement counting in tests, debugging); for Prisma's
   * statements also with their parameters, as a JSON array.
   */
  onQuery?: (sql: string, params?: string) => void;
}

export interface Database {
  readonly kind: 'postgres' | 'pglite';
  /** Connected as the application role: row-level security applies to everything it does. */
  readonly prisma: PrismaClient;
  readonly pglite?: PGlite;
  readonly migrations: MigrationResult;
  /** Runs fn in a transaction whose tenant setting scopes every row it can see or write. */
  withTenant<T>(tenantId: string, fn: (tx: Tx) => Promise<T>): Promise<T>;
  /** Opens a tenant-scoped transaction that the caller ends (one per GraphQL operation). */
  beginTenant(tenantId: string): Promise<OpenTransaction>;
  /**
   * A client scoped to a tenant for long-lived work (subscriptions): each operation runs in its own
   * short transaction with the tenant setting, so no transaction stays open between events.
   */
  tenantClient(tenantId: string): Tx;
  /** A transaction that can read the one ApiKey row whose hash it is given, whatever its tenant. */
  withApiKeyHash<T>(hash: string, fn: (tx: Tx) => Promise<T>): Promise<T>;
  /**
   * Runs statements in one transaction whose settings (`app.tenant_id`, say: row-level security
   * applies as in withTenant) are set first, all sent as a single message: one round trip instead of
   * one per statement. Values are inlined as literals by the `sql` tag; returns each statement's rows.
   * For hot paths (a run's event log); everything else uses Prisma.
   */
  script(settings: Readonly<Record<string, string>>, statements: readonly SqlText[]): Promise<ScriptRows[]>;
  /**
   * Every tenant's runs left unfinished (queued, running, waiting for approval; not those waiting
   * for their thread), oldest first: the one cross-tenant read, for resuming them at start.
   */
  unfinishedRuns(opts?: {
    onlyQueued?: boolean;
  }): Promise<{ tenantId: string; id: string; status: string }[]>;
  close(): Promise<void>;
}

export interface OpenTransaction {
  tx: Tx;
  /**
   * Runs statements inside this transaction as one message (see Database.script; the tenant
   * setting is already in place). The first thing sent in the transaction carries its BEGIN along.
   */
  script(statements: readonly SqlText[]): Promise<ScriptRows[]>;
  commit(): Promise<void>;
  rollback(): Promise<void>;
}

const TX_OPTIONS = { maxWait: 10_000, timeout: 60_000 };

class Rollback extends Error {}

/**
 * A Prisma transaction that starts with the given settings (`app.tenant_id`: row-level security).
 * The settings go with the transaction's BEGIN (see TransactionScope): no round trip of their own.
 */
function scopedTransaction<T>(
  prisma: PrismaClient,
  settings: Readonly<Record<string, string>>,
  fn: (tx: Tx, scope: TransactionScope) => Promise<T>,
): Promise<T> {
  const names = Object.keys(settings);
  const scope: TransactionScope = {
    prelude: names.map((n) => `${setConfig(n, settings[n]!).text};`).join('\n'),
    preludeStatements: names.length,
    claimed: false,
  };
  return openScope(scope, () =>
    prisma.$transaction((tx) => {
      // Never run a tenant's work in a transaction that did not take its settings.
      if (!scope.runScript) throw new Error('the transaction did not start with its settings');
      return fn(tx, scope);
    }, TX_OPTIONS),
  );
}

/**
 * PGlite's Prisma adapter with TransactionScope applied: a scoped transaction runs its settings
 * first and can run scripts (in process, a round trip costs little).
 */
function scopedPGliteAdapter<F extends object>(factory: F): F {
  const wrapAdapter = (adapter: object) =>
    new Proxy(adapter, {
      get(target, prop) {
        const value = Reflect.get(target, prop, target) as unknown;
        if (typeof value !== 'function') return value;
        if (prop !== 'startTransaction') return value.bind(target);
        return async (...args: unknown[]) => {
          const scope = claimScope();
          const tx = (await value.apply(target, args)) as { client: PGliteTransactionClient };
          if (scope) {
            const client = tx.client;
            if (scope.prelude) await client.exec(scope.prelude);
            scope.runScript = async (script) => (await client.exec(script)).map((r) => r.rows as ScriptRows);
          }
          return tx;
        };
      },
    });
  return new Proxy(factory, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target) as unknown;
      if (prop !== 'connect' || typeof value !== 'function') return value;
      return async () => wrapAdapter((await value.call(target)) as object);
    },
  });
}

type PGliteTransactionClient = { exec(script: string): Promise<{ rows: unknown[] }[]> };

/**
 * A script through a pg pool: BEGIN, the settings and the statements, COMMIT in one message, with
 * the statements the connection has prepared sent as EXECUTE (see PreparedStatements). A failed
 * statement stops the script with the transaction aborted: it is rolled back before the connection
 * goes back to the pool.
 */
function poolScriptRunner(pool: import('pg').Pool): ScriptRunner {
  const sessions = new WeakMap<object, PreparedStatements>();
  return async (statements) => {
    const client = await pool.connect();
    let broken: Error | undefined;
    try {
      let prepared = sessions.get(client);
      if (!prepared) {
        prepared = new PreparedStatements({ onRefused: debugRefused });
        sessions.set(client, prepared);
      }
      return await runPrepared(prepared, statements, {
        query: (text) => client.query(text),
        async script(text) {
          // A connection whose ROLLBACK failed is not used again, not even for the script's retry.
          if (broken) throw broken;
          try {
            const results = (await client.query(`BEGIN;\n${text}COMMIT;`)) as unknown as {
              rows: ScriptRows;
            }[];
            return results.slice(1, -1).map((r) => r.rows);
          } catch (err) {
            await client.query('ROLLBACK').catch((e: Error) => {
              broken = e;
            });
            throw err;
          }
        },
      });
    } finally {
      client.release(broken);
    }
  };
}

/** A script on in-process PGlite: its transaction() runs BEGIN and COMMIT (or ROLLBACK) around it. */
function pgliteScriptRunner(db: PGlite): ScriptRunner {
  const prepared = new PreparedStatements({ onRefused: debugRefused });
  return (statements) =>
    runPrepared(prepared, statements, {
      query: (text) => db.exec(text),
      async script(text) {
        const results = await db.transaction((tx) => tx.exec(text));
        return results.map((r) => r.rows as ScriptRows);
      },
    });
}

/**
 * Prepares what is due, then runs the script. A script that failed because of a prepared statement
 * (rolled back: nothing of it stayed) runs again, as text: when the session has lost them (reset
 * under us), or when a migration changed the type of a column one returns (PostgreSQL then refuses
 * its cached plan: the session's statements are dropped, to be prepared afresh).
 */
async function runPrepared(
  prepared: PreparedStatements,
  statements: readonly SqlText[],
  session: { query(text: string): Promise<unknown>; script(text: string): Promise<ScriptRows[]> },
): Promise<ScriptRows[]> {
  await prepared.prepareDue(statements, session.query);
  try {
    return await session.script(prepared.render(statements));
  } catch (err) {
    const { code, message } = err as { code?: string; message?: string };
    if (code === FEATURE_NOT_SUPPORTED && /cached plan must not change result type/.test(message ?? ''))
      await session.query('DEALLOCATE ALL');
    else if (code !== UNDEFINED_PREPARED_STATEMENT) throw err;
    prepared.clear();
    return session.script(prepared.render(statements));
  }
}

/** PostgreSQL's code for, among others, a prepared statement whose result type changed. */
const FEATURE_NOT_SUPPORTED = '0A000';

function debugRefused(template: string, err: unknown): void {
  if (process.env.TROUPE_DEBUG_DB)
    console.warn(`troupe: statement not prepared (${(err as Error).message}): ${template.slice(0, 200)}`);
}

/** How many tenants' clients (Database.tenantClient) are kept for reuse. */
const TENANT_CLIENTS_KEPT = 256;

function makeDatabase(
  kind: Database['kind'],
  prisma: PrismaClient,
  migrations: MigrationResult,
  close: () => Promise<void>,
  runScript: ScriptRunner,
  onQuery: DatabaseOptions['onQuery'],
  /** Script transactions in flight at once (see ScriptBatcher): the connections scripts may use. */
  scriptSlots: number,
  pglite?: PGlite,
): Database {
  const scripts = new ScriptBatcher(runScript, { maxInFlight: scriptSlots, onQuery });
  // Tenant clients by tenant, most recently used last: every subscription of a tenant shares one
  // (a Prisma extension is a tree of proxies and closures, too much to build per subscriber).
  const tenantClients = new Map<string, Tx>();
  return {
    kind,
    prisma,
    pglite,
    migrations,
    withTenant(tenantId, fn) {
      return scopedTransaction(prisma, { 'app.tenant_id': tenantId }, (tx) => fn(tx));
    },
    async beginTenant(tenantId) {
      let release!: (commit: boolean) => void;
      const ended = new Promise<boolean>((resolve) => {
        release = resolve;
      });
      let started!: (open: [Tx, TransactionScope]) => void;
      const ready = new Promise<[Tx, TransactionScope]>((resolve) => {
        started = resolve;
      });
      const result = scopedTransaction(prisma, { 'app.tenant_id': tenantId }, async (tx, scope) => {
        started([tx, scope]);
        if (!(await ended)) throw new Rollback();
      });
      const [tx, scope] = await Promise.race([
        ready,
        result.then(() => {
          throw new Error('transaction ended before it started');
        }),
      ]);
      return {
        tx,
        script(statements) {
          const text = statements.map((st) => `${st.text};`).join('\n');
          onQuery?.(text);
          return scope.runScript!(text);
        },
        async commit() {
          release(true);
          await result;
        },
        async rollback() {
          release(false);
          await result.catch((err) => {
            if (!(err instanceof Rollback)) throw err;
          });
        },
      };
    },
    tenantClient(tenantId) {
      const known = tenantClients.get(tenantId);
      if (known) {
        tenantClients.delete(tenantId);
        tenantClients.set(tenantId, known);
        return known;
      }
      const client = prisma.$extends({
        query: {
          $allModels: {
            $allOperations({ model, operation, args }) {
              return scopedTransaction(prisma, { 'app.tenant_id': tenantId }, (tx) => {
                const delegate = (
                  tx as unknown as Record<string, Record<string, (a: unknown) => Promise<unknown>>>
                )[model.charAt(0).toLowerCase() + model.slice(1)]!;
                return delegate[operation]!(args);
              });
            },
          },
        },
      }) as unknown as Tx;
      tenantClients.set(tenantId, client);
      if (tenantClients.size > TENANT_CLIENTS_KEPT) tenantClients.delete(tenantClients.keys().next().value!);
      return client;
    },
    withApiKeyHash(hash, fn) {
      return scopedTransaction(prisma, { 'app.api_key_hash': hash }, (tx) => fn(tx));
    },
    script(settings, statements) {
      return scripts.script(settings, statements);
    },
    unfinishedRuns(opts = {}) {
      // Literal statuses, so that the planner reads the small index of unfinished runs.
      return prisma.$transaction(async (tx) => {
        await tx.$executeRawUnsafe(systemTransaction('app.run_recovery'));
        return tx.$queryRawUnsafe<{ tenantId: string; id: string; status: string }[]>(
          `SELECT "tenantId", "id", "status"::text AS "status" FROM "Run"
            WHERE ${opts.onlyQueued ? `"status" = 'QUEUED'` : `"status" IN ('QUEUED', 'RUNNING', 'WAITING_FOR_APPROVAL')`}
              AND NOT "waitingForThread"
            ORDER BY "createdAt", "id" LIMIT 10000`,
        );
      }, TX_OPTIONS);
    },
    close,
  };
}

function prismaLog(opts: DatabaseOptions) {
  return opts.onQuery ? ([{ emit: 'event', level: 'query' }] as const) : [];
}

/**
 * Opens the database: Postgres when databaseUrl is given, else embedded PGlite (with pgvector).
 * Migrations run first with the connecting user's rights; every later query runs as APP_ROLE.
 */
export async function openDatabase(opts: DatabaseOptions = {}): Promise<Database> {
  if (opts.databaseUrl) return openPostgres(opts.databaseUrl, opts);
  if (opts.worker) return openEmbeddedInWorker(opts.worker, opts);
  return openEmbedded(opts);
}

/**
 * Whether the login can run as APP_ROLE and switch to SYSTEM_ROLE, and whether SYSTEM_ROLE is what
 * the migrations made it: refused at start, naming the fix, instead of failing later in each
 * background loop (or, for a SYSTEM_ROLE that bypasses row-level security, not failing at all).
 */
async function checkRoles(client: import('pg').Client): Promise<void> {
  // session_user: a login whose default role is troupe_app (ALTER ROLE … SET role) has that as current_user.
  const { rows } = await client.query<{
    login: string;
    app: boolean | null;
    system: boolean | null;
    inherits: boolean;
    unsafe: boolean;
  }>(
    `SELECT session_user AS login,
       (SELECT pg_has_role(session_user, r.oid, 'MEMBER') FROM pg_roles r WHERE r.rolname = '${APP_ROLE}') AS app,
       (SELECT pg_has_role(session_user, r.oid, 'MEMBER') FROM pg_roles r WHERE r.rolname = '${SYSTEM_ROLE}') AS system,
       COALESCE((SELECT pg_has_role(s.oid, a.oid, 'USAGE') FROM pg_roles s, pg_roles a
                  WHERE s.rolname = '${SYSTEM_ROLE}' AND a.rolname = '${APP_ROLE}'), false) AS inherits,
       COALESCE((SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = '${SYSTEM_ROLE}'), false) AS unsafe`,
  );
  const r = rows[0]!;
  if (r.app === null || r.system === null)
    throw new Error(
      `the database has no role ${r.app === null ? APP_ROLE : SYSTEM_ROLE}: it is not migrated to this version of troupe (run \`troupe migrate\`)`,
    );
  if (r.unsafe) throw new Error(`refusing to serve: the role ${SYSTEM_ROLE} bypasses row-level security`);
  if (!r.inherits)
    throw new Error(
      `the role ${SYSTEM_ROLE} does not have ${APP_ROLE}'s privileges; as the owner that ran the migrations: GRANT ${APP_ROLE} TO ${SYSTEM_ROLE} (and ALTER ROLE ${SYSTEM_ROLE} INHERIT)`,
    );
  const missing = [r.app ? null : APP_ROLE, r.system ? null : SYSTEM_ROLE].filter(Boolean);
  if (missing.length > 0)
    throw new Error(
      `the login ${r.login} is not a member of ${missing.join(' and ')} (troupe's tenant queries run as ${APP_ROLE}, its work across tenants as ${SYSTEM_ROLE}); as the owner that ran the migrations: GRANT ${missing.join(', ')} TO "${r.login}"`,
    );
  // Membership without the right to SET the role (PostgreSQL 16: a role's creator holds it with the
  // admin option only, or a grant WITH SET FALSE) fails here.
  try {
    await client.query(`BEGIN; SET LOCAL ROLE ${APP_ROLE}; SET LOCAL ROLE ${SYSTEM_ROLE}`);
  } catch (err) {
    throw new Error(
      `the login ${r.login} cannot take the roles ${APP_ROLE} and ${SYSTEM_ROLE} (${(err as Error).message}); as a role administrator: GRANT ${APP_ROLE}, ${SYSTEM_ROLE} TO "${r.login}" WITH SET TRUE`,
    );
  } finally {
    await client.query('ROLLBACK').catch(() => {});
  }
}

/**
 * The URL with `-c role=troupe_app` added to its connection options: pg lets options in the URL
 * replace the ones passed beside it, so they are merged here.
 */
function asAppRole(url: string): string {
  try {
    const u = new URL(url);
    const given = u.searchParams.get('options');
    u.searchParams.set('options', `${given ? `${given} ` : ''}-c role=${APP_ROLE}`);
    return u.toString();
  } catch {
    return url;
  }
}

async function openPostgres(url: string, opts: DatabaseOptions): Promise<Database> {
  // Loaded only here: embedded mode never pays for the Postgres client.
  const { default: pg } = await import('pg');
  const { PrismaPg } = await import('@prisma/adapter-pg');
  const migrations =
    opts.migrate === false
      ? { applied: [] }
      : await applyMigrations({ kind: 'postgres', url }, undefined, {
          ...(opts.migrateLockTimeoutMs !== undefined ? { lockTimeoutMs: opts.migrateLockTimeoutMs } : {}),
        });
  // Every connection runs as APP_ROLE (-c role=troupe_app), whatever the login: a superuser would
  // bypass row-level security, and a member of SYSTEM_ROLE would otherwise carry its policies
  // into every tenant query. The login must be able to take both roles.
  const probe = new pg.Client({ connectionString: url });
  await probe.connect();
  try {
    await checkRoles(probe);
  } finally {
    await probe.end();
  }
  const pool = new pg.Pool({
    Client: deferBegin(pg.Client),
    connectionString: asAppRole(url),
    max: opts.poolSize ?? 10,
  });
  // An idle pooled connection can be killed under us (a database restart, a failover, an admin):
  // pg then emits 'error' on the pool, which would crash the process if nobody listened. The pool
  // replaces the connection on the next query.
  pool.on('error', (err) => {
    if (process.env.TROUPE_DEBUG_DB) console.warn('troupe: idle database connection lost:', err.message);
  });
  pool.on('release', (_err, client) => (client as unknown as DeferredBeginClient).dropPendingBegin());
  const check = await pool.query<{ unsafe: boolean; who: string }>(
    'SELECT current_user AS who, rolsuper OR rolbypassrls AS unsafe FROM pg_roles WHERE rolname = current_user',
  );
  const who = check.rows[0];
  if (who?.unsafe) {
    await pool.end();
    throw new Error(`refusing to serve as ${who.who}: it bypasses row-level security`);
  }
  // A pooler that drops connection options (PgBouncer's ignore_startup_parameters, say) would leave
  // the login's own role, and with it the system role's policies in every tenant query.
  if (who?.who !== APP_ROLE) {
    await pool.end();
    throw new Error(
      `connections run as ${who?.who}, not ${APP_ROLE}: the connection option -c role=${APP_ROLE} did not reach the server (does a connection pooler drop startup options?)`,
    );
  }
  const prisma = new PrismaClient({ adapter: new PrismaPg(pool), log: [...prismaLog(opts)] });
  if (opts.onQuery) {
    const onQuery = opts.onQuery;
    (prisma as unknown as { $on(e: 'query', cb: (e: { query: string; params: string }) => void): void }).$on(
      'query',
      (e) => onQuery(e.query, e.params),
    );
  }
  return makeDatabase(
    'postgres',
    prisma,
    migrations,
    async () => {
      await prisma.$disconnect();
      await pool.end().catch(() => {});
    },
    poolScriptRunner(pool),
    opts.onQuery,
    // Never the whole pool: the rest stays free for GraphQL operations' transactions.
    Math.max(1, Math.min(opts.scriptSlots ?? 2, (opts.poolSize ?? 10) - 1)),
  );
}

async function openEmbedded(opts: DatabaseOptions): Promise<Database> {
  const unlock = opts.dataDir ? lockDataDir(opts.dataDir) : () => {};
  let db: PGlite | undefined;
  try {
    db = await openPGlite({ dataDir: opts.dataDir, snapshot: opts.snapshot });
    await db.exec('RESET ROLE');
    const migrations =
      opts.migrate === false ? { applied: [] } : await applyMigrations({ kind: 'pglite', db });
    // PGlite learns the array types at start-up: arrays of enums the migrations just created
    // (Webhook.events) would be sent as text ("malformed array literal") until it reads them again.
    if (migrations.applied.length > 0) await db.refreshArrayTypes();
    // PGlite's user is a superuser, which bypasses RLS even with FORCE: switch to the app role.
    await db.exec(`SET ROLE ${APP_ROLE}`);
    const prisma = new PrismaClient({
      adapter: scopedPGliteAdapter(new PrismaPGlite(db)),
      log: [...prismaLog(opts)],
    });
    if (opts.onQuery) {
      const onQuery = opts.onQuery;
      (
        prisma as unknown as { $on(e: 'query', cb: (e: { query: string; params: string }) => void): void }
      ).$on('query', (e) => onQuery(e.query, e.params));
    }
    const pglite = db;
    return makeDatabase(
      'pglite',
      prisma,
      migrations,
      async () => {
        await prisma.$disconnect();
        await pglite.close();
        unlock();
      },
      pgliteScriptRunner(pglite),
      opts.onQuery,
      1,
      pglite,
    );
  } catch (err) {
    await db?.close().catch(() => {});
    unlock();
    throw err;
  }
}

/**
 * Connections to the PGlite thread. Two keep its session busy (trivial runs in `troupe dev`, 20
 * clients: 148-158 runs/s against 117-124 with one, in alternating runs); a third added nothing.
 */
const EMBEDDED_CONNECTIONS = 2;

/**
 * Embedded PGlite served from a worker thread over a private Unix socket: the same database and
 * policies as in-process PGlite, with its boot overlapping the server's own start-up.
 */
async function openEmbeddedInWorker(
  w: { host: PGliteWorkerHost; unlock: () => void },
  opts: DatabaseOptions,
): Promise<Database> {
  const release = async () => {
    await w.host.close();
    w.unlock();
  };
  try {
    const { default: pg } = await import('pg');
    const { PrismaPg } = await import('@prisma/adapter-pg');
    // PGlite has one session, which the worker shares among connections a transaction at a time
    // (PGliteSessionServer): a second connection lets the next transaction wait there, ready to
    // run the moment the first one ends, instead of here until its answer has been read. PGlite's
    // user is a superuser: every connection becomes APP_ROLE before the pool hands it out.
    const baseConnect = pg.Client.prototype.connect as unknown as () => Promise<void>;
    class AppRoleClient extends pg.Client {}
    Object.defineProperty(AppRoleClient.prototype, 'connect', {
      value(this: InstanceType<typeof pg.Client>, callback?: (err: Error | null, c?: unknown) => void) {
        const done = baseConnect.call(this).then(() => this.query(`SET ROLE ${APP_ROLE}`));
        if (!callback) return done.then(() => this);
        done.then(
          () => callback(null, this),
          (err: Error) => callback(err),
        );
      },
    });
    const pool = new pg.Pool({
      Client: deferBegin(AppRoleClient),
      host: w.host.socketDir,
      port: 5432,
      user: 'postgres',
      database: 'postgres',
      max: EMBEDDED_CONNECTIONS,
      idleTimeoutMillis: 0,
    });
    pool.on('error', () => {});
    pool.on('release', (_err, client) => (client as unknown as DeferredBeginClient).dropPendingBegin());
    const prisma = new PrismaClient({ adapter: new PrismaPg(pool), log: [...prismaLog(opts)] });
    // While PGlite boots in its thread, load Prisma's query compiler here: the first query pays for
    // it otherwise. (The query fails until the socket is up; only the warm-up matters.)
    await prisma.$queryRawUnsafe('SELECT 1').catch(() => {});
    const { applied } = await w.host.ready;
    const check = await pool.query<{ unsafe: boolean }>(
      'SELECT rolsuper OR rolbypassrls AS unsafe FROM pg_roles WHERE rolname = current_user',
    );
    if (check.rows[0]?.unsafe !== false) {
      await pool.end();
      throw new Error('refusing to serve: the embedded database session bypasses row-level security');
    }
    if (opts.onQuery) {
      const onQuery = opts.onQuery;
      (
        prisma as unknown as { $on(e: 'query', cb: (e: { query: string; params: string }) => void): void }
      ).$on('query', (e) => onQuery(e.query, e.params));
    }
    return makeDatabase(
      'pglite',
      prisma,
      { applied },
      async () => {
        await prisma.$disconnect();
        await pool.end().catch(() => {});
        await release();
      },
      poolScriptRunner(pool),
      opts.onQuery,
      EMBEDDED_CONNECTIONS,
    );
  } catch (err) {
    await release();
    throw err;
  }
}
