import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseCliArgs } from './cli-args.js';
import { ConfigError, loadConfig, type Mode, migrateLockTimeoutMs } from './config.js';
import { DataDirLockedError, lockDataDir } from './db/data-dir-lock.js';
import { MigrationError } from './db/migration-error.js';
import { packageRoot } from './db/package-paths.js';
import { EmbeddedDatabaseError, type PGliteWorkerHost, startPGliteWorker } from './db/pglite-worker-host.js';
import { DEV_HEAP_GROWING_PERCENT, limitHeapGrowth } from './heap-growth.js';
import { onStopSignals } from './stop-signals.js';
import { applyWasmTier, DEV_WASM_TIERING_BUDGET, devWasmTier, type WasmTier } from './wasm-tier.js';

const HELP = `troupe — the embeddable multi-agent platform

Usage:
  troupe dev     [--port 4000] [--host 127.0.0.1] [--data-dir .troupe] [--no-migrate]
                 Everything in one process, no configuration: embedded PostgreSQL (PGlite with
                 pgvector) in the data folder, GraphiQL at /graphql. Uses Postgres if DATABASE_URL is set.
                 Runs execute in this process, also when REDIS_URL is set.
  troupe serve   [--port 4000] [--host 0.0.0.0] [--no-migrate] [--graphiql]
                 Production server: Postgres from DATABASE_URL (PGlite in --data-dir otherwise).
                 Needs TROUPE_SECRET; TROUPE_ADMIN_KEY enables createTenant.
                 With REDIS_URL (and DATABASE_URL), runs are queued for \`troupe worker\` processes.
  troupe worker  [--concurrency 32]
                 Executes queued runs. Needs DATABASE_URL, REDIS_URL and TROUPE_SECRET; SIGTERM lets
                 runs in progress finish (10 s), then hands the rest to another worker.
  troupe migrate [--status] [--data-dir .troupe]
                 Applies pending migrations to DATABASE_URL (or the data folder's PGlite).
  troupe --version | --help

Environment: see the README's configuration table.`;

function version(): string {
  return (JSON.parse(readFileSync(path.join(packageRoot(), 'package.json'), 'utf8')) as { version: string })
    .version;
}

function fail(message: string, code = 1): never {
  console.error(`troupe: ${message}`);
  process.exit(code);
}

async function serve(
  mode: Mode,
  values: Record<string, string | boolean | undefined>,
  wasm: WasmTier | undefined,
): Promise<void> {
  const stopSignals = onStopSignals({ graceMs: 10_000, announce: (signal) => `\n${signal}: shutting down` });
  const port = values.port === undefined ? undefined : Number(values.port);
  if (port !== undefined && (!Number.isInteger(port) || port < 0 || port > 65535))
    fail(`--port must be 0-65535, got "${values.port}"`, 64);
  const { config, generatedAdminKey } = loadConfig(mode, {
    port,
    host: values.host as string | undefined,
    dataDir: values['data-dir'] as string | undefined,
    migrate: values['no-migrate'] ? false : undefined,
    graphiql: values.graphiql ? true : undefined,
  });
  const t0 = performance.now();
  // Embedded: PGlite boots (and migrates) in a worker thread while this thread loads the GraphQL
  // stack; the two overlap on separate cores.
  let worker: { host: PGliteWorkerHost; unlock: () => void } | undefined;
  if (!config.databaseUrl) {
    const unlock = lockDataDir(config.dataDir);
    const host = startPGliteWorker({
      dataDir: config.dataDir,
      migrate: config.migrate,
      workerUrl: new URL('./pglite-worker.js', import.meta.url),
      // Nothing works without it: say so and exit, so that a process manager starts it again
      // (runs left unfinished are resumed at the next start).
      onStopped: (err) => {
        console.error(
          `troupe: the embedded database stopped: ${err instanceof Error ? err.message : String(err)}`,
        );
        unlock();
        process.exit(1);
      },
    });
    worker = { host, unlock };
  }
  const { startServer } = await import('./server.js');
  const server = await startServer(config, { worker });
  const ms = Math.round(performance.now() - t0);
  stopSignals.started(() => server.close());

  const db = config.databaseUrl
    ? `Postgres (${hostOf(config.databaseUrl)})`
    : `PGlite in ${config.dataDir} (WebAssembly: ${wasm ? `${wasm} compiler` : "node's flags"})`;
  const banner = [
    `Troupe ${version()} ${mode} server ready in ${ms} ms`,
    `  GraphQL   ${server.url}/graphql${config.graphiql ? '  (GraphiQL in the browser)' : ''}`,
    `  Health    ${server.url}/health`,
    `  Database  ${db}`,
  ];
  if (server.database.migrations.applied.length)
    banner.push(`  Migrated  ${server.database.migrations.applied.join(', ')}`);
  if (mode === 'dev' && config.databaseUrl)
    banner.push(
      '',
      '  Note: `troupe dev` executes runs in this process, and on start resumes the unfinished runs it',
      '  finds in this database. Never point it at a database that `troupe worker` processes serve',
      '  (an unset DATABASE_URL gives it a database of its own in the data folder).',
    );
  if (generatedAdminKey) {
    banner.push(
      '',
      `  Admin key (shown once, kept in ${path.join(config.dataDir, 'admin-key')}):`,
      `    ${generatedAdminKey}`,
      '  Create a tenant:  mutation { createTenant(input: {name: "me"}) { apiKey { secret } } }',
    );
  }
  // One write, so a reader never sees half a banner.
  process.stdout.write(`${banner.join('\n')}\n`);
}

async function worker(values: Record<string, string | boolean | undefined>): Promise<void> {
  let active = () => 0;
  const stopSignals = onStopSignals({
    graceMs: 30_000,
    announce: (signal) => `\n${signal}: finishing ${active()} run(s), then shutting down`,
  });
  const flag = values.concurrency as string | undefined;
  const concurrency = flag === undefined ? undefined : Number(flag);
  if (concurrency !== undefined && (!Number.isInteger(concurrency) || concurrency < 1))
    fail(`--concurrency must be a positive integer, got "${flag}"`, 64);
  const { config } = loadConfig('worker');
  if (!config.databaseUrl)
    fail('`troupe worker` needs DATABASE_URL (the Postgres database the server uses).');
  if (!config.redisUrl) fail('`troupe worker` needs REDIS_URL (the queue it takes runs from).');
  const workers = concurrency ?? config.workerConcurrency;
  if (workers < 1) fail(`TROUPE_WORKER_CONCURRENCY must be at least 1, got ${workers}`);
  if (config.workerLockMs < 500)
    fail(`TROUPE_WORKER_LOCK_MS must be at least 500, got ${config.workerLockMs}`);
  const [{ openDatabase }, { createRedisEventBus }, { startRunWorker }, { startWebhookDispatcher }] =
    await Promise.all([
      import('./db/database.js'),
      import('./events/redis-event-bus.js'),
      import('./runs/run-worker.js'),
      import('./webhooks/webhook-dispatcher.js'),
    ]);
  const database = await openDatabase({
    databaseUrl: config.databaseUrl,
    migrate: config.migrate,
    migrateLockTimeoutMs: config.migrateLockTimeoutMs,
    poolSize: config.dbPoolSize,
    scriptSlots: config.dbScriptSlots,
  });
  const bus = await createRedisEventBus({ url: config.redisUrl, prefix: `${config.queuePrefix}:` });
  const runWorker = await startRunWorker({
    database,
    bus,
    redisUrl: config.redisUrl,
    prefix: config.queuePrefix,
    concurrency: workers,
    lockMs: config.workerLockMs,
  });
  // Workers also send webhook deliveries (the servers only queue them, with the runs' outcomes).
  const webhooks = startWebhookDispatcher({
    database,
    secret: config.secret,
    maxAttempts: config.webhookMaxAttempts,
    timeoutMs: config.webhookTimeoutMs,
    allowPrivate: config.webhookAllowPrivate,
  });
  // Workers also process uploaded documents (the servers only store them).
  const [{ startDocumentIngest }, { embedderSource }] = await Promise.all([
    import('./documents/document-ingest.js'),
    import('./documents/document-search.js'),
  ]);
  const documents = startDocumentIngest({ database, embedder: embedderSource(config.embeddings) });
  active = () => runWorker.active();
  stopSignals.started(async () => {
    await runWorker.close();
    await webhooks.close();
    await documents.close();
    await bus.close();
    await database.close();
  });
  process.stdout.write(
    `Troupe ${version()} worker ready: ${workers} run(s) at once\n` +
      `  Database  Postgres (${hostOf(config.databaseUrl)})\n` +
      `  Queue     ${config.queuePrefix}:runs on ${hostOf(config.redisUrl)}\n`,
  );
}

/** A connection URL's host for a banner; never the URL itself (it may hold a password). */
function hostOf(url: string): string {
  try {
    return new URL(url).host || 'local socket';
  } catch {
    // ioredis takes forms URL does not (a socket path, a bare port).
    return 'as configured';
  }
}

async function migrate(values: Record<string, string | boolean | undefined>): Promise<void> {
  const { applyMigrations, pendingMigrations } = await import('./db/migrate.js');
  const databaseUrl = process.env.DATABASE_URL;
  if (databaseUrl) {
    const target = { kind: 'postgres' as const, url: databaseUrl };
    if (values.status) return status(await pendingMigrations(target));
    report((await applyMigrations(target, undefined, { lockTimeoutMs: migrateLockTimeoutMs() })).applied);
    return;
  }
  const dataDir = path.resolve(
    (values['data-dir'] as string | undefined) ?? process.env.TROUPE_DATA_DIR ?? '.troupe',
  );
  if (values.status && !existsSync(path.join(dataDir, 'pgdata', 'PG_VERSION'))) {
    // Asking is not creating: with no database there yet, every migration is pending.
    const [{ loadMigrationsList }, { migrationsDir }] = await Promise.all([
      import('./db/schema-engine.js'),
      import('./db/package-paths.js'),
    ]);
    status(loadMigrationsList(migrationsDir()).migrationDirectories.map((d) => d.path));
    console.log(`(No database in ${dataDir} yet: \`troupe migrate\` or \`troupe dev\` creates it.)`);
    return;
  }
  const unlock = lockDataDir(dataDir);
  const { openPGlite } = await import('./db/pglite.js');
  const db = await openPGlite({ dataDir });
  try {
    const target = { kind: 'pglite' as const, db };
    if (values.status) status(await pendingMigrations(target));
    else report((await applyMigrations(target)).applied);
  } finally {
    await db.close();
    unlock();
  }
}

function status(pending: string[]): void {
  console.log(pending.length ? `Pending migrations:\n  ${pending.join('\n  ')}` : 'Database is up to date.');
}

function report(applied: string[]): void {
  console.log(
    applied.length ? `Applied:\n  ${applied.join('\n  ')}` : 'Database is up to date: nothing to apply.',
  );
}

/**
 * A server whose output pipe or terminal closed (`troupe dev | head`, a log collector that went away) goes on,
 * and shuts down gracefully when told: what it would have printed is dropped. Node otherwise
 * throws the write's EPIPE, and the process died in the middle of its shutdown, without finishing
 * or handing back its runs or closing the database.
 */
function outliveClosedOutput(stream: NodeJS.WriteStream): void {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    // EIO: the terminal it wrote to is gone (SIGHUP).
    if (err.code !== 'EPIPE' && err.code !== 'EIO' && err.code !== 'ERR_STREAM_DESTROYED') throw err;
  });
}

export async function main(argv = process.argv.slice(2)): Promise<void> {
  let parsed: ReturnType<typeof parseCliArgs>;
  try {
    parsed = parseCliArgs(argv);
  } catch (err) {
    fail(`${(err as Error).message}\n\n${HELP}`, 64);
  }
  const { positionals } = parsed;
  const values = parsed.values as Record<string, string | boolean | undefined>;
  if (values.version) return void console.log(version());
  const command = positionals[0];
  if (values.help || !command) return void console.log(HELP);
  try {
    let wasm: WasmTier | undefined;
    if (command === 'dev' || command === 'serve' || command === 'worker') {
      outliveClosedOutput(process.stdout);
      outliveClosedOutput(process.stderr);
      limitHeapGrowth(command === 'dev' ? DEV_HEAP_GROWING_PERCENT : 0);
      wasm =
        command === 'dev'
          ? applyWasmTier(() => devWasmTier(), DEV_WASM_TIERING_BUDGET)
          : applyWasmTier('optimizing');
    }
    if (command === 'dev') await serve('dev', values, wasm);
    else if (command === 'serve') await serve('serve', values, wasm);
    else if (command === 'worker') await worker(values);
    else if (command === 'migrate') {
      await migrate(values);
      // Done, whatever a library may have left scheduled (Prisma's schema engine left ~10 s timers).
      await new Promise<void>((resolve) => process.stdout.write('', () => resolve()));
      process.exit(0);
    } else fail(`unknown command "${command}"\n\n${HELP}`, 64);
  } catch (err) {
    if (
      err instanceof ConfigError ||
      err instanceof DataDirLockedError ||
      err instanceof MigrationError ||
      err instanceof EmbeddedDatabaseError ||
      (err as Error).name === 'RedisUnreachableError' ||
      (err as Error).name === 'TroupeServerError'
    )
      fail((err as Error).message);
    if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE')
      fail(`port already in use: ${(err as Error).message}. Pass --port.`);
    if ((err as NodeJS.ErrnoException).code === 'ECONNREFUSED') {
      fail(`cannot reach the database (${(err as Error).message}). Is Postgres running at DATABASE_URL?`);
    }
    throw err;
  }
}
