import type { AuthCache } from '../auth/auth-cache.js';
import type { Principal, TenantPrincipal } from '../auth/principal.js';
import type { Database, ScriptRows, Tx } from '../db/database.js';
import type { SqlText } from '../db/sql-text.js';
import type { EmbedderSource } from '../documents/document-ingest.js';
import { TroupeServerError } from '../errors.js';
import type { EventBus } from '../events/event-bus.js';
import type { RunExecutor } from '../runs/run-executor.js';

export interface ServerSettings {
  secret: string;
  adminKey?: string;
  /** Webhook URLs may name non-public addresses (TROUPE_WEBHOOK_ALLOW_PRIVATE). Default false. */
  webhookAllowPrivate?: boolean;
}

/** The GraphQL context of one operation. */
export interface Context {
  principal: Principal;
  /** How the operation came: a WebSocket connection (graphql-ws) or an HTTP request (SSE included). */
  transport: 'http' | 'websocket';
  /**
   * The credential watch's revocation counter when the principal was authenticated: a subscription
   * set up later still ends if its key was revoked in between (see credential-watch.ts).
   */
  authenticatedSince: number;
  database: Database;
  settings: ServerSettings;
  /** This server instance's cache of live API keys: revoking a key invalidates it. */
  authCache: AuthCache;
  /**
   * The operation's tenant-scoped transaction (queries and mutations). Row-level security limits
   * it to the caller's tenant; a mutation that ends with an error is rolled back whole.
   */
  db: Tx;
  /**
   * Runs statements in the same transaction as ctx.db, as one message (Database.script): for hot
   * paths. The first thing sent in the transaction carries its BEGIN and tenant setting along.
   */
  script(statements: readonly SqlText[]): Promise<ScriptRows[]>;
  /**
   * For a mutation's one atomic write, or a query's one read: in an operation whose only field is
   * this one, and before anything else was read or written, the statements run in a transaction of their own,
   * committed when this resolves (shared with other scripts under load: Database.script), and
   * `committed` is true: the write stays even if the operation fails later, so what must follow it
   * (enqueueing a run, say) is the caller's to do at once, not an afterCommit hook's. Anywhere else,
   * the same as script(), and `committed` is false.
   */
  commitScript(statements: readonly SqlText[]): Promise<{ rows: ScriptRows[]; committed: boolean }>;
  /**
   * Runs fn once the operation's transaction has committed (never if it rolls back). */
  afterCommit: (fn: () => void | Promise<void>) => void;
  /** Run execution and live events. */
  runs: RunServices;
  documents: DocumentServices;
  /**
   * The HTTP request (yoga's initial context); its signal aborts when the client goes away. Absent
   * on WebSocket operations.
   */
  request?: Request;
}

export interface DocumentServices {
  /** The embedder of TROUPE_EMBEDDINGS (loaded on first use). */
  embedder: EmbedderSource;
  /** Tells this process's ingest loop, if it runs one, that a document is waiting. */
  wake(): void;
  /** Largest document in bytes (TROUPE_DOCUMENT_MAX_BYTES). */
  maxBytes: number;
}

export interface RunServices {
  bus: EventBus;
  executor: RunExecutor;
}

export function tenantOf(ctx: Context): TenantPrincipal {
  if (ctx.principal.kind === 'admin') {
    throw new TroupeServerError(
      'FORBIDDEN',
      'The admin key can only create tenants; use a tenant API key for this.',
    );
  }
  return ctx.principal;
}

/** ctx.script for principals without a tenant: a clear error, never a query. */
export function noTenantScript(): Promise<ScriptRows[]> {
  return Promise.reject(
    new TroupeServerError('FORBIDDEN', 'This operation needs a tenant API key or session token.'),
  );
}

/** A Tx stand-in for principals without a tenant: any use is a clear error, never a query. */
export const NO_TENANT_DB = new Proxy({} as Tx, {
  get(_t, prop) {
    if (prop === 'then') return undefined;
    throw new TroupeServerError('FORBIDDEN', 'This operation needs a tenant API key or session token.');
  },
});
