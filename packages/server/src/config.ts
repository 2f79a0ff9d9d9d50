import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { generateAdminKey } from './auth/api-keys.js';
import { DEFAULT_WORKER_CONCURRENCY } from './runs/run-queue.js';

export type Mode = 'dev' | 'serve' | 'worker' | 'embedded';

/** Everything the server reads from its environment, documented in the README's table. */
export interface TroupeConfig {
  mode: Mode;
  port: number;
  host: string;
  /** Postgres; undefined means embedded PGlite in dataDir. */
  databaseUrl?: string;
  redisUrl?: string;
  /** Prefix of the run queue's keys and of the pub/sub channels in Redis (TROUPE_QUEUE_PREFIX). */
  queuePrefix: string;
  /**
   * Runs one process executes at once (TROUPE_WORKER_CONCURRENCY; default 32, since runs mostly
   * wait on the LLM): a `troupe worker`, or a server that executes its own runs (`troupe dev`,
   * `troupe serve` without REDIS_URL, an embedded server).
   */
  workerConcurrency: number;
  /**
   * How long a worker's lock on a run lasts (TROUPE_WORKER_LOCK_MS, default 4000): a run whose worker
   * died is handed to another worker after at most about 1.5 times this.
   */
  workerLockMs: number;
  /** How often servers check QUEUED runs against the Redis queue (TROUPE_QUEUE_RECONCILE_MS, default 30 s). */
  queueReconcileMs: number;
  dataDir: string;
  /** Hash-compared against bearer tokens that start with trpa_. */
  adminKey?: string;
  /** Signs session tokens. */
  secret: string;
  graphiql: boolean;
  /** Error details (stack, original message) in responses: dev only. */
  exposeErrors: boolean;
  migrate: boolean;
  /** Postgres: how long a migration waits for a table's lock before it fails, unchanged (0: no limit). */
  migrateLockTimeoutMs: number;
  dbPoolSize: number;
  /** Postgres: group-commit transactions of hot-path scripts in flight at once (see ScriptBatcher). */
  dbScriptSlots: number;
  /** Origins allowed by CORS; empty means same-origin only. */
  corsOrigins: string[];
  maxRequestBytes: number;
  /** Outbound webhooks: attempts per delivery (TROUPE_WEBHOOK_MAX_ATTEMPTS) and per-attempt limit (TROUPE_WEBHOOK_TIMEOUT_MS). */
  webhookMaxAttempts: number;
  webhookTimeoutMs: number;
  /**
   * Outbound webhooks may go to loopback, private, link-local and other non-public addresses
   * (TROUPE_WEBHOOK_ALLOW_PRIVATE). Default: true for `troupe dev` (receivers under test run on the
   * developer's machine), false everywhere else, embedded servers included.
   */
  webhookAllowPrivate: boolean;
  /**
   * The embedder documents and searches use (TROUPE_EMBEDDINGS): "local" (default: offline feature
   * hashing, lexical matching, no model needed), "openai:<model>" or "ollama:<model>".
   */
  embeddings: string;
  /** Largest document upload in bytes (TROUPE_DOCUMENT_MAX_BYTES, default 25 MB). */
  documentMaxBytes: number;
}

export interface ConfigOverrides {
  port?: number;
  host?: string;
  dataDir?: string;
  migrate?: boolean;
  graphiql?: boolean;
}

function readOrCreate(file: string, make: () => string): { value: string; created: boolean } {
  if (existsSync(file)) return { value: readFileSync(file, 'utf8').trim(), created: false };
  mkdirSync(path.dirname(file), { recursive: true });
  const value = make();
  writeFileSync(file, `${value}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  return { value, created: true };
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** TROUPE_MIGRATE_LOCK_TIMEOUT_MS (also read by `troupe migrate`, which has no other configuration). */
export function migrateLockTimeoutMs(env: NodeJS.ProcessEnv = process.env): number {
  const ms = int(env, 'TROUPE_MIGRATE_LOCK_TIMEOUT_MS', 10_000);
  // Postgres's lock_timeout is an int of milliseconds.
  if (ms > 2_147_483_647)
    throw new ConfigError(
      `TROUPE_MIGRATE_LOCK_TIMEOUT_MS must be at most 2147483647 (0: no limit), got ${ms}`,
    );
  return ms;
}

function int(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0)
    throw new ConfigError(`${name} must be a non-negative integer, got "${raw}"`);
  return n;
}

function bool(env: NodeJS.ProcessEnv, name: string): boolean | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  if (/^(1|true|yes|on)$/i.test(raw)) return true;
  if (/^(0|false|no|off)$/i.test(raw)) return false;
  throw new ConfigError(`${name} must be true or false, got "${raw}"`);
}

export interface LoadedConfig {
  config: TroupeConfig;
  /** Set when `troupe dev` generated the admin key on this start: print it once. */
  generatedAdminKey?: string;
}

/**
 * A connection URL that Node cannot parse fails every connection with a bare "Invalid URL" (the
 * usual cause: a password with "/", "?", "#" or "@" that is not percent-encoded). Said here, without
 * printing the URL (it holds the password).
 */
function checkUrl(name: string, url: string): void {
  try {
    new URL(url);
  } catch {
    throw new ConfigError(
      `${name} is not a valid URL. A password (or user name) with characters such as / ? # @ : must be percent-encoded (encodeURIComponent), or generate one with hex characters only (openssl rand -hex 32).`,
    );
  }
}

/** Builds the configuration for a mode from the environment and command-line overrides. */
export function loadConfig(mode: Mode, overrides: ConfigOverrides = {}, env = process.env): LoadedConfig {
  // Empty variables count as unset (a compose file's `${X:-}`): an empty TROUPE_HOST had bound
  // every interface, an empty TROUPE_DATA_DIR the current folder.
  const dataDir = path.resolve(overrides.dataDir ?? (env.TROUPE_DATA_DIR || '.troupe'));
  const databaseUrl = env.DATABASE_URL || undefined;
  if (databaseUrl && /^postgres(ql)?:\/\//.test(databaseUrl)) checkUrl('DATABASE_URL', databaseUrl);
  if (env.REDIS_URL && /^rediss?:\/\//.test(env.REDIS_URL)) checkUrl('REDIS_URL', env.REDIS_URL);
  const local = mode === 'dev' || mode === 'embedded';
  let generatedAdminKey: string | undefined;

  let adminKey = env.TROUPE_ADMIN_KEY || undefined;
  if (!adminKey && local) {
    const r = readOrCreate(path.join(dataDir, 'admin-key'), generateAdminKey);
    adminKey = r.value;
    if (r.created) generatedAdminKey = r.value;
  }
  if (adminKey && adminKey.length < 24)
    throw new ConfigError('TROUPE_ADMIN_KEY must be at least 24 characters');
  // The server tells the admin key from API keys by its prefix: any other key could never log in.
  if (adminKey && !adminKey.startsWith('trpa_'))
    throw new ConfigError(
      'TROUPE_ADMIN_KEY must start with "trpa_" (e.g. trpa_ followed by: openssl rand -hex 24)',
    );

  let secret = env.TROUPE_SECRET || undefined;
  if (!secret) {
    if (!local) {
      throw new ConfigError(
        'TROUPE_SECRET is required for `troupe serve` and `troupe worker` (at least 32 random characters; ' +
          'every server instance must share it). Generate one with: openssl rand -base64 48',
      );
    }
    secret = readOrCreate(path.join(dataDir, 'secret'), () => randomBytes(48).toString('base64url')).value;
  }
  if (secret.length < 32) throw new ConfigError('TROUPE_SECRET must be at least 32 characters');

  const embeddings = env.TROUPE_EMBEDDINGS?.trim() || 'local';
  if (!/^(local(:\d+)?|openai:\S+|ollama:\S+)$/.test(embeddings)) {
    throw new ConfigError(
      `TROUPE_EMBEDDINGS must be "local", "local:<dimensions>", "openai:<model>" or "ollama:<model>", got "${embeddings}"`,
    );
  }
  const production = env.NODE_ENV === 'production';
  const workerConcurrency = int(env, 'TROUPE_WORKER_CONCURRENCY', DEFAULT_WORKER_CONCURRENCY);
  if (workerConcurrency < 1) throw new ConfigError('TROUPE_WORKER_CONCURRENCY must be at least 1, got 0');
  return {
    config: {
      mode,
      port: overrides.port ?? int(env, 'PORT', 4000),
      host: overrides.host ?? (env.TROUPE_HOST || (local ? '127.0.0.1' : '0.0.0.0')),
      databaseUrl,
      redisUrl: env.REDIS_URL || undefined,
      queuePrefix: env.TROUPE_QUEUE_PREFIX || 'troupe',
      workerConcurrency,
      workerLockMs: int(env, 'TROUPE_WORKER_LOCK_MS', 4000),
      queueReconcileMs: Math.max(100, int(env, 'TROUPE_QUEUE_RECONCILE_MS', 30_000)),
      dataDir,
      adminKey,
      secret,
      graphiql: overrides.graphiql ?? bool(env, 'TROUPE_GRAPHIQL') ?? mode === 'dev',
      exposeErrors: !production && (bool(env, 'TROUPE_EXPOSE_ERRORS') ?? local),
      migrate: overrides.migrate ?? bool(env, 'TROUPE_MIGRATE') ?? true,
      migrateLockTimeoutMs: migrateLockTimeoutMs(env),
      dbPoolSize: int(env, 'TROUPE_DB_POOL_SIZE', 10),
      dbScriptSlots: Math.max(1, int(env, 'TROUPE_DB_SCRIPT_SLOTS', 2)),
      corsOrigins: (env.TROUPE_CORS_ORIGINS ?? '')
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean),
      maxRequestBytes: int(env, 'TROUPE_MAX_REQUEST_BYTES', 1_000_000),
      webhookMaxAttempts: Math.max(1, int(env, 'TROUPE_WEBHOOK_MAX_ATTEMPTS', 6)),
      webhookTimeoutMs: Math.max(1, int(env, 'TROUPE_WEBHOOK_TIMEOUT_MS', 10_000)),
      webhookAllowPrivate: bool(env, 'TROUPE_WEBHOOK_ALLOW_PRIVATE') ?? mode === 'dev',
      embeddings,
      documentMaxBytes: Math.max(1, int(env, 'TROUPE_DOCUMENT_MAX_BYTES', 25 * 1024 * 1024)),
    },
    generatedAdminKey,
  };
}
