// Prisma's schema engine compiled to WebAssembly, driven from Node with a driver adapter.
// It needs no native binary, so migrations work offline, on Postgres and on PGlite alike.
import { randomUUID } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { PGlite } from '@electric-sql/pglite';
import type { SqlMigrationAwareDriverAdapterFactory } from '@prisma/driver-adapter-utils';
import { bindMigrationAwareSqlAdapterFactory } from '@prisma/driver-adapter-utils';
import type pg from 'pg';

const require = createRequire(import.meta.url);

/** The subset of the wasm SchemaEngine API we use. */
export interface SchemaEngine {
  applyMigrations(input: {
    migrationsList: MigrationsList;
    filters: Filters;
  }): Promise<{ appliedMigrationNames: string[] }>;
  diff(input: DiffInput): Promise<{ exitCode: number; stdout: string }>;
  free(): void;
}
interface Filters {
  externalTables: string[];
  externalEnums: string[];
}
type DiffTarget =
  | ({ tag: 'migrations' } & MigrationsList)
  | { tag: 'schemaDatamodel'; files: { path: string; content: string }[] }
  | { tag: 'schemaDatasource'; files: { path: string; content: string }[]; configDir: string }
  | { tag: 'empty' };
interface DiffInput {
  from: DiffTarget;
  to: DiffTarget;
  script: boolean;
  exitCode: boolean;
  filters: Filters;
}
export interface MigrationsList {
  baseDir: string;
  lockfile: { path: string; content: string | null };
  migrationDirectories: {
    path: string;
    migrationFile: { path: string; content: { tag: 'ok'; value: string } | { tag: 'error'; value: string } };
  }[];
  shadowDbInitScript: string;
}

export const FILTERS: Filters = { externalTables: [], externalEnums: [] };

interface WasmBindings {
  __wbg_set_wasm(exports: WebAssembly.Exports): void;
  SchemaEngine: { new: (opts: unknown, log: (l: string) => void, adapter: unknown) => Promise<SchemaEngine> };
}

// wasm-bindgen's glue module holds a single wasm instance: instantiate it once per process, even
// when this file is loaded as several module instances (test runners, bundles).
const CACHE = Symbol.for('troupe.schemaEngineWasm');

/**
 * The engine's timers (its async runtime's timeouts, ~10 s) outlive it: a process that migrated and
 * has nothing else to do stayed up until they fired. They are kept here and cleared once no engine
 * is left (the wasm instance, and with it these, is shared by every engine in the process).
 */
const TIMERS = Symbol.for('troupe.schemaEngineTimers');
/** Shared by every copy of this module, as the wasm instance whose timers they are. */
const timersHolder = globalThis as {
  [TIMERS]?: { timers: Set<ReturnType<typeof setTimeout>>; live: number };
};
timersHolder[TIMERS] ??= { timers: new Set(), live: 0 };
const shared = timersHolder[TIMERS];
const engineTimers = shared.timers;

function loadBindings(): Promise<WasmBindings> {
  const g = globalThis as { [CACHE]?: Promise<WasmBindings> };
  g[CACHE] ??= (async () => {
    const dir = path.dirname(require.resolve('@prisma/schema-engine-wasm/schema_engine_bg'));
    // wasm-bindgen's panic hook writes into this global.
    const g = globalThis as { PRISMA_WASM_PANIC_REGISTRY?: object };
    g.PRISMA_WASM_PANIC_REGISTRY ??= {
      message: '',
      set_message(this: { message: string }, m: string) {
        this.message = `RuntimeError: ${m}`;
      },
      get(this: { message: string }) {
        return this.message;
      },
    };
    const bg = (await import('@prisma/schema-engine-wasm/schema_engine_bg')) as unknown as WasmBindings;
    const mod = new WebAssembly.Module(readFileSync(path.join(dir, 'schema_engine_bg.wasm')));
    const imports: Record<string, unknown> = { ...bg };
    for (const name of Object.keys(imports))
      if (name.startsWith('__wbg_setTimeout_'))
        imports[name] = (f: () => void, ms: number) => {
          const timer = setTimeout(() => {
            engineTimers.delete(timer);
            f();
          }, ms >>> 0);
          engineTimers.add(timer);
          return timer;
        };
    const instance = new WebAssembly.Instance(mod, {
      './schema_engine_bg.js': imports as WebAssembly.ModuleImports,
    });
    bg.__wbg_set_wasm(instance.exports);
    (instance.exports.__wbindgen_start as () => void)();
    return bg;
  })();
  return g[CACHE];
}

export async function createSchemaEngine(
  adapterFactory: SqlMigrationAwareDriverAdapterFactory,
  schemaPath?: string,
): Promise<SchemaEngine> {
  const bg = await loadBindings();
  const datamodels = schemaPath ? [[schemaPath, readFileSync(schemaPath, 'utf8')]] : undefined;
  const logs: string[] = [];
  const engine = await bg.SchemaEngine.new(
    { datamodels },
    (l) => {
      if (process.env.TROUPE_DEBUG_MIGRATIONS) console.error('[schema-engine]', l);
      logs.push(l);
    },
    bindMigrationAwareSqlAdapterFactory(adapterFactory),
  );
  shared.live++;
  const free = engine.free.bind(engine);
  let freed = false;
  engine.free = () => {
    if (freed) return;
    freed = true;
    free();
    if (--shared.live > 0) return;
    for (const timer of engineTimers) clearTimeout(timer);
    engineTimers.clear();
  };
  return engine;
}

export function loadMigrationsList(migrationsDir: string): MigrationsList {
  const lockPath = path.join(migrationsDir, 'migration_lock.toml');
  const dirs = existsSync(migrationsDir)
    ? readdirSync(migrationsDir)
        .filter((d) => statSync(path.join(migrationsDir, d)).isDirectory())
        .sort()
    : [];
  return {
    baseDir: migrationsDir,
    lockfile: {
      path: 'migration_lock.toml',
      content: existsSync(lockPath) ? readFileSync(lockPath, 'utf8') : null,
    },
    migrationDirectories: dirs.map((d) => {
      const f = path.join(migrationsDir, d, 'migration.sql');
      return {
        path: d,
        migrationFile: {
          path: 'migration.sql',
          content: existsSync(f)
            ? { tag: 'ok' as const, value: readFileSync(f, 'utf8') }
            : { tag: 'error' as const, value: 'missing' },
        },
      };
    }),
    shadowDbInitScript: '',
  };
}

type PrismaPgAdapter = Awaited<
  ReturnType<InstanceType<typeof import('@prisma/adapter-pg').PrismaPg>['connect']>
>;

/**
 * @prisma/adapter-pg 7.10 rejects Postgres "char" columns (OID 18) that the schema describer reads.
 * Map them to text on the shared queryable prototype (idempotent).
 */
async function patchCharOid(adapter: PrismaPgAdapter): Promise<void> {
  let proto = Object.getPrototypeOf(adapter) as Record<string, unknown> | null;
  while (proto && !Object.hasOwn(proto, 'performIO')) proto = Object.getPrototypeOf(proto);
  if (!proto || proto.__troupeCharPatched) return;
  const orig = proto.performIO as (...a: unknown[]) => Promise<{ fields?: { dataTypeID: number }[] }>;
  proto.performIO = async function (this: unknown, ...args: unknown[]) {
    const res = await orig.apply(this, args);
    for (const f of res.fields ?? []) if (f.dataTypeID === 18) f.dataTypeID = 25;
    return res;
  };
  proto.__troupeCharPatched = true;
}

/**
 * adapter-pg's executeScript splits a script on every ";" (breaking DO $$ blocks and strings) and
 * runs the pieces one by one. Send the script as one simple query instead: Postgres runs a
 * multi-statement simple query as one implicit transaction, so a failing migration changes nothing.
 */
function wholeScript<A extends PrismaPgAdapter>(adapter: A, prefix = ''): A {
  const a = adapter as unknown as { client: pg.Pool | pg.Client; onError(e: unknown): never };
  adapter.executeScript = async (script: string) => {
    try {
      await a.client.query(prefix + script);
    } catch (err) {
      a.onError(err);
    }
  };
  return adapter;
}

/**
 * A migration-aware adapter factory for Postgres. Unlike PrismaPg's own, its shadow database
 * really is a separate, throw-away database, dropped after its pool is closed.
 */
export async function pgMigrationFactory(
  connectionString: string,
  opts: {
    /**
     * How long each migration script's statements wait for a lock (SET LOCAL lock_timeout: the
     * script's own transaction only, not the engine's bookkeeping); undefined: the session's.
     */
    lockTimeoutMs?: number;
  } = {},
): Promise<SqlMigrationAwareDriverAdapterFactory> {
  const scriptPrefix =
    opts.lockTimeoutMs === undefined
      ? ''
      : `SET LOCAL lock_timeout = '${Math.trunc(opts.lockTimeoutMs)}ms';\n`;
  const { PrismaPg } = await import('@prisma/adapter-pg');
  const { default: Pg } = await import('pg');
  const admin = async (sql: string) => {
    const c = new Pg.Client({ connectionString });
    await c.connect();
    try {
      await c.query(sql);
    } finally {
      await c.end();
    }
  };
  const main = new PrismaPg({ connectionString });
  const probe = await main.connect();
  await patchCharOid(probe);
  await probe.dispose();
  const open = new Set<PrismaPgAdapter>();
  return {
    provider: 'postgres',
    adapterName: main.adapterName,
    async connect() {
      const adapter = wholeScript(await main.connect(), scriptPrefix);
      open.add(adapter);
      return adapter;
    },
    /** Ends the engine's connections (a failed script can leave one holding locks). */
    async dispose() {
      await Promise.all([...open].map((a) => a.dispose().catch(() => {})));
      open.clear();
    },
    async connectToShadowDb() {
      const database = `troupe_shadow_${randomUUID().replaceAll('-', '')}`;
      await admin(`CREATE DATABASE "${database}"`);
      const url = new URL(connectionString);
      url.pathname = `/${database}`;
      const shadow = wholeScript(await new PrismaPg({ connectionString: url.toString() }).connect());
      const dispose = shadow.dispose.bind(shadow);
      shadow.dispose = async () => {
        await dispose();
        await admin(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
      };
      return shadow;
    },
  } as SqlMigrationAwareDriverAdapterFactory & { dispose(): Promise<void> };
}

/**
 * A migration-aware adapter factory for PGlite. pglite-prisma-adapter 0.7.2 does not await
 * executeScript (a failing migration would be recorded as applied) and gives its shadow database
 * no extensions; both are fixed here.
 */
export async function pgliteMigrationFactory(
  db: PGlite,
): Promise<SqlMigrationAwareDriverAdapterFactory & { lastScriptError?: Error }> {
  const { PGlite: PGliteCtor } = await import('@electric-sql/pglite');
  const { vector } = await import('@electric-sql/pglite-pgvector');
  const { PrismaPGlite } = await import('pglite-prisma-adapter');
  const holder: { lastScriptError?: Error } = {};
  const fixed = async (target: PGlite) => {
    const adapter = await new PrismaPGlite(target).connect();
    adapter.executeScript = async (script: string) => {
      try {
        await target.exec(script);
      } catch (err) {
        // The engine reports adapter errors only as "External error id#N": keep the real one.
        holder.lastScriptError = err as Error;
        throw err;
      }
    };
    return adapter;
  };
  return {
    get lastScriptError() {
      return holder.lastScriptError;
    },
    provider: 'postgres',
    adapterName: 'pglite-prisma-adapter',
    connect: () => fixed(db),
    async connectToShadowDb() {
      const shadow = await PGliteCtor.create({ extensions: { vector } });
      const adapter = await fixed(shadow);
      const dispose = adapter.dispose.bind(adapter);
      adapter.dispose = async () => {
        await dispose();
        await shadow.close();
      };
      return adapter;
    },
  } as unknown as SqlMigrationAwareDriverAdapterFactory;
}
