import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ProviderSettings } from '@troupe/agents';
import { type AuthCache, type AuthCacheOptions, startAuthCache } from './auth/auth-cache.js';
import { type CredentialWatch, createCredentialWatch } from './auth/credential-watch.js';
import { recheckRevocations } from './auth/revocation-recheck.js';
import { ConfigError, type TroupeConfig } from './config.js';
import { type Database, type DatabaseOptions, openDatabase } from './db/database.js';
import {
  type DocumentIngest,
  type DocumentIngestOptions,
  startDocumentIngest,
} from './documents/document-ingest.js';
import { embedderSource } from './documents/document-search.js';
import { handleDocumentUpload } from './documents/upload-endpoint.js';
import { createInProcessEventBus, type EventBus } from './events/event-bus.js';
import { createRedisEventBus } from './events/redis-event-bus.js';
import { sendJson } from './http/json-response.js';
import { createShutdownGate, SHUTTING_DOWN_MESSAGE } from './http/shutdown-gate.js';
import { serveUnsizedBody } from './http/unsized-body.js';
import { attachWebSocketSubscriptions, type WebSocketSubscriptions } from './http/websocket-subscriptions.js';
import { createYogaApp, type TroupeYoga } from './http/yoga-app.js';
import { createInProcessExecutor, type RunExecutor, recoverUnfinishedRuns } from './runs/run-executor.js';
import { handleInboundHook } from './webhooks/inbound-hook-endpoint.js';
import {
  startWebhookDispatcher,
  type WebhookDispatcher,
  type WebhookDispatcherOptions,
} from './webhooks/webhook-dispatcher.js';

/** How often live connections' keys are checked for revocation in the database, bus or not. */
const REVOCATION_RECHECK_MS = 30_000;

export interface TroupeServer {
  /** e.g. http://127.0.0.1:4000 */
  url: string;
  database: Database;
  yoga: TroupeYoga;
  http: Server;
  bus: EventBus;
  /** This instance's cache of live API keys (evicted on revocation through the bus). */
  authCache: AuthCache;
  /** This instance's WebSocket connections and HTTP streams by key: revocation and expiry end them. */
  credentialWatch: CredentialWatch;
  executor: RunExecutor;
  websockets: WebSocketSubscriptions;
  /** The webhook delivery loop, where this process runs one (runs executing here). */
  webhooks?: WebhookDispatcher;
  /** The document processing loop, where this process runs one (runs executing here). */
  documents?: DocumentIngest;
  close(): Promise<void>;
}

export interface StartServerOptions {
  /** Use this database instead of opening one from the config (tests, embedding). */
  database?: Database;
  /** How often live connections' keys are checked for revocation in the database (tests). Default 30 s. */
  revocationRecheckMs?: number;
  /** PGlite snapshot to boot from (tests). */
  snapshot?: Blob;
  /** PGlite booting in a worker thread (troupe dev). */
  worker?: DatabaseOptions['worker'];
  onQuery?: DatabaseOptions['onQuery'];
  /** LLM providers for runs executed in this process (default: from the environment). */
  providers?: ProviderSettings;
  /** Live event fan-out (default: Redis when REDIS_URL is set, else in-process). */
  bus?: EventBus;
  /** The API key cache's entry lifetime and size (tests). */
  authCache?: AuthCacheOptions;
  /**
   * Where runs execute: in this process, or on `troupe worker` processes fed through the Redis
   * queue. Default: workers for `troupe serve` with REDIS_URL, else this process.
   */
  runsOn?: 'this-process' | 'workers';
  /**
   * When runs execute in this process: resume the runs left unfinished in the database at start.
   * Default true; only one such process may serve a database.
   */
  recoverRuns?: boolean;
  /** When runs execute in this process: how a failed execution is tried again (tests). */
  executionRetry?: { attempts: number; delayMs: number };
  /**
   * The webhook delivery loop: on by default where runs execute in this process (`troupe worker`
   * runs it otherwise); false turns it off; an object tunes it.
   */
  webhooks?: boolean | Partial<Omit<WebhookDispatcherOptions, 'database' | 'secret'>>;
  /**
   * The document processing loop: on by default where runs execute in this process (`troupe worker`
   * runs it otherwise); false turns it off; an object tunes it.
   */
  documents?: boolean | Partial<Omit<DocumentIngestOptions, 'database' | 'embedder'>>;
}

/** How long a shutdown waits for the requests and operations under way to finish. */
const DRAIN_MS = 5000;

/** Every request that comes while the server shuts down gets 503 and the connection's end. */
function refuseWhileClosing(
  req: IncomingMessage,
  res: ServerResponse,
  path: string | undefined,
  corsOrigins: string[] | undefined,
): void {
  // Readable by the browser apps allowed to call this server (as yoga's answers would be).
  const origin = req.headers.origin;
  if (origin && corsOrigins?.includes(origin)) {
    res.setHeader('access-control-allow-origin', origin);
    res.setHeader('vary', 'Origin');
  }
  const body =
    path === '/health'
      ? { status: 'shutting down' }
      : path === '/graphql'
        ? { errors: [{ message: SHUTTING_DOWN_MESSAGE, extensions: { code: 'UNAVAILABLE' } }] }
        : { error: { code: 'UNAVAILABLE', message: SHUTTING_DOWN_MESSAGE } };
  sendJson(res, 503, body, true);
}

/**
 * Opens the database (applying migrations unless told not to) and serves GraphQL on /graphql and
 * readiness on /health. Listens only once everything is ready.
 */
export async function startServer(
  config: TroupeConfig,
  opts: StartServerOptions = {},
): Promise<TroupeServer> {
  const database =
    opts.database ??
    (await openDatabase({
      databaseUrl: config.databaseUrl,
      dataDir: config.databaseUrl ? undefined : config.dataDir,
      snapshot: opts.snapshot,
      worker: opts.worker,
      migrate: config.migrate,
      migrateLockTimeoutMs: config.migrateLockTimeoutMs,
      poolSize: config.dbPoolSize,
      scriptSlots: config.dbScriptSlots,
      onQuery: opts.onQuery,
    }));
  // Workers need the database too: on the embedded one (one process's data folder) runs execute
  // here, Redis or not (they had been queued for workers that could never start).
  const runsOn =
    opts.runsOn ??
    (config.mode === 'serve' && config.redisUrl && config.databaseUrl ? 'workers' : 'this-process');
  if (runsOn === 'workers' && !config.redisUrl)
    throw new ConfigError('Runs on workers need REDIS_URL (the queue between servers and workers).');
  const bus =
    opts.bus ??
    (config.redisUrl
      ? await createRedisEventBus({ url: config.redisUrl, prefix: `${config.queuePrefix}:` })
      : createInProcessEventBus());
  // Subscribed before the server listens: no request is served by a cache deaf to revocations.
  const authCache = await startAuthCache(bus, opts.authCache);
  // A revocation this instance learns of (its own or another's, through the bus) ends the
  // WebSocket connections and streams the key authenticated here.
  const credentialWatch = createCredentialWatch();
  authCache.onInvalidate(credentialWatch.revoke);
  // Revocations published while the bus was disconnected reached no one here: once it is back,
  // the keys behind live connections are checked against the database.
  let rechecking = false;
  const recheck = () => {
    // One at a time: with many tenants a check can outlast the interval.
    if (rechecking) return;
    rechecking = true;
    void recheckRevocations(database, credentialWatch)
      .catch((err) => console.error('troupe: checking live connections for revoked keys failed:', err))
      .finally(() => {
        rechecking = false;
      });
  };
  const stopReconnectRecheck = bus.onReconnect(recheck);
  // And now and then whatever the bus says: a revocation whose publish failed, or servers sharing a
  // database without Redis, would otherwise leave another server's live connections open for good
  // (queries and mutations on a WebSocket too). HTTP requests see a revocation within the key
  // cache's lifetime.
  const recheckTimer = setInterval(recheck, opts.revocationRecheckMs ?? REVOCATION_RECHECK_MS);
  recheckTimer.unref();
  const stopRevocationRecheck = () => {
    stopReconnectRecheck();
    clearInterval(recheckTimer);
  };
  const embedder = embedderSource(config.embeddings, opts.providers);
  const executor =
    runsOn === 'workers'
      ? // BullMQ loads only where it is used: `troupe dev` starts without it.
        (await import('./runs/bullmq-executor.js')).createBullMqExecutor({
          database,
          bus,
          redisUrl: config.redisUrl!,
          prefix: config.queuePrefix,
          reconcileMs: config.queueReconcileMs,
        })
      : createInProcessExecutor({
          database,
          bus,
          providers: opts.providers,
          embedder,
          concurrency: Math.max(1, config.workerConcurrency),
          ...(opts.executionRetry ? { retry: opts.executionRetry } : {}),
        });
  const webhooks =
    (opts.webhooks ?? runsOn === 'this-process')
      ? startWebhookDispatcher({
          database,
          secret: config.secret,
          maxAttempts: config.webhookMaxAttempts,
          timeoutMs: config.webhookTimeoutMs,
          allowPrivate: config.webhookAllowPrivate,
          ...(typeof opts.webhooks === 'object' ? opts.webhooks : {}),
        })
      : undefined;
  const ingest =
    (opts.documents ?? runsOn === 'this-process')
      ? startDocumentIngest({
          database,
          embedder,
          ...(typeof opts.documents === 'object' ? opts.documents : {}),
        })
      : undefined;
  const documents = { embedder, wake: () => ingest?.wake(), maxBytes: config.documentMaxBytes };
  const uploadOptions = {
    database,
    settings: { secret: config.secret, adminKey: config.adminKey },
    authCache,
    maxBytes: config.documentMaxBytes,
    corsOrigins: config.corsOrigins,
    onCreated: documents.wake,
  };
  const hookOptions = {
    database,
    secret: config.secret,
    executor,
    bus,
    maxBodyBytes: Math.min(config.maxRequestBytes, 1_000_000),
  };
  const settings = {
    secret: config.secret,
    adminKey: config.adminKey,
    webhookAllowPrivate: config.webhookAllowPrivate,
  };
  const gate = createShutdownGate();
  const yoga = createYogaApp({
    database,
    authCache,
    credentialWatch,
    runs: { bus, executor },
    documents,
    settings,
    graphiql: config.graphiql,
    exposeErrors: config.exposeErrors,
    corsOrigins: config.corsOrigins,
    plugins: [gate.plugin],
  });
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0];
    // A CORS preflight is still answered (by yoga, at once): the browser then reads the 503.
    if (gate.closing && req.method !== 'OPTIONS')
      return refuseWhileClosing(req, res, path, config.corsOrigins);
    gate.admit(res);
    if (path === '/health') {
      database.prisma.$queryRawUnsafe('SELECT 1').then(
        () => sendJson(res, 200, { status: 'ok', database: database.kind }),
        () => sendJson(res, 503, { status: 'database unavailable' }),
      );
      return;
    }
    if (path?.startsWith('/hooks/')) return void handleInboundHook(hookOptions, req, res, path);
    if (path === '/documents' || path?.startsWith('/documents/'))
      return void handleDocumentUpload(uploadOptions, req, res, path);
    const tooLarge = () =>
      sendJson(res, 413, {
        errors: [
          {
            message: `Request body too large: at most ${config.maxRequestBytes} bytes.`,
            extensions: { code: 'BAD_INPUT' },
          },
        ],
      });
    const length = Number(req.headers['content-length'] ?? 0);
    if (length > config.maxRequestBytes) return tooLarge();
    if (path !== '/graphql') {
      return sendJson(res, 404, {
        errors: [
          {
            message: `Not found: ${path}. GraphQL is served on /graphql.`,
            extensions: { code: 'NOT_FOUND' },
          },
        ],
      });
    }
    // A chunked body has no length to check up front: it is counted as it arrives.
    if (req.headers['content-length'] === undefined && req.headers['transfer-encoding'] !== undefined) {
      return serveUnsizedBody(yoga, req, res, config.maxRequestBytes, tooLarge);
    }
    yoga(req, res);
  };
  const http = createServer(handler);
  const websockets = attachWebSocketSubscriptions(http, yoga, {
    database,
    settings,
    authCache,
    credentialWatch,
    gate,
    maxMessageBytes: config.maxRequestBytes,
  });
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(config.port, config.host, () => {
      http.off('error', reject);
      resolve();
    });
  });
  if (runsOn === 'this-process' && opts.recoverRuns !== false) {
    // Runs this process left unfinished when it last stopped resume now (after their last finished task).
    recoverUnfinishedRuns(database, executor).then(
      (n) => {
        if (n > 0) console.log(`troupe: resuming ${n} unfinished run${n === 1 ? '' : 's'}`);
      },
      (err) => console.error('troupe: unfinished runs could not be resumed:', err),
    );
  }
  const addr = http.address() as AddressInfo;
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  return {
    url: `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${addr.port}`,
    database,
    yoga,
    http,
    bus,
    authCache,
    credentialWatch,
    executor,
    websockets,
    ...(webhooks ? { webhooks } : {}),
    ...(ingest ? { documents: ingest } : {}),
    async close() {
      // What is under way (a startRun between its insert and its enqueue, an inbound hook) finishes
      // while the executor and the database are still open; what comes now is refused.
      if (!(await gate.close(DRAIN_MS)))
        console.warn(`troupe: requests still in progress after ${DRAIN_MS / 1000} s of shutdown are cut off`);
      await websockets.close();
      await executor.close();
      await webhooks?.close();
      await ingest?.close();
      await new Promise<void>((resolve) => {
        http.close(() => resolve());
        http.closeAllConnections();
      });
      stopRevocationRecheck();
      await authCache.close();
      if (!opts.bus) await bus.close();
      if (!opts.database) await database.close();
    },
  };
}
