import { GraphQLError } from 'graphql';
import { createYoga, maskError, type Plugin, type YogaServerInstance } from 'graphql-yoga';
import type { AuthCache } from '../auth/auth-cache.js';
import { authenticate, bearerToken } from '../auth/authenticate.js';
import type { CredentialWatch } from '../auth/credential-watch.js';
import type { Principal } from '../auth/principal.js';
import type { Database } from '../db/database.js';
import {
  type Context,
  type DocumentServices,
  NO_TENANT_DB,
  noTenantScript,
  type RunServices,
  type ServerSettings,
} from '../graphql/context.js';
import { queryLimitsRule } from '../graphql/query-limits.js';
import { schema } from '../graphql/schema.js';
import { useSharedEventExecution } from './shared-event-execution.js';
import { useCredentialEnd } from './stream-credentials.js';
import { useTenantTransaction } from './tenant-transaction-plugin.js';

export interface YogaAppOptions {
  database: Database;
  settings: ServerSettings;
  /** This server instance's cache of live API keys. */
  authCache: AuthCache;
  /** This server instance's long-lived streams by key: revoking the key ends them. */
  credentialWatch: CredentialWatch;
  runs: RunServices;
  documents: DocumentServices;
  graphiql: boolean;
  exposeErrors: boolean;
  corsOrigins?: string[];
  /** Envelop plugins that come before the server's own (the shutdown gate). */
  plugins?: Plugin[];
}

export type TroupeYoga = YogaServerInstance<Record<string, unknown>, Context>;

/**
 * Pothos rejects malformed global ids (`node(id: "garbage")`, an unknown type name) with a
 * PothosValidationError that carries no code: answer it as BAD_INPUT, like our own id checks.
 */
function badGlobalIdAsBadInput(error: unknown, message: string, isDev?: boolean): Error {
  if (error instanceof GraphQLError && error.originalError?.name === 'PothosValidationError') {
    return new GraphQLError(error.message, {
      nodes: error.nodes,
      source: error.source,
      positions: error.positions,
      path: error.path,
      extensions: { code: 'BAD_INPUT' },
    });
  }
  return maskError(error, message, isDev);
}

/** What an unexpected error says to clients (yoga's default masked message). */
const UNEXPECTED_ERROR = 'Unexpected error.';

/** The GraphQL endpoint (/graphql). Every operation is authenticated. */
export function createYogaApp(opts: YogaAppOptions): TroupeYoga {
  return createYoga<Record<string, unknown>, Context>({
    schema,
    graphqlEndpoint: '/graphql',
    healthCheckEndpoint: '/yoga-health',
    landingPage: false,
    logging: false,
    // The HTTP handler (server.ts) answers 413 before yoga sees a body over TROUPE_MAX_REQUEST_BYTES,
    // by its Content-Length or by counting a chunked one as it arrives. Yoga's own limit piped every
    // request's body through a TransformStream as well (a stream pipeline, an AbortController and
    // a DOMException at its end: ~1% of `troupe dev`'s CPU on trivial runs).
    maxRequestBodySize: false,
    graphiql: opts.graphiql
      ? { title: 'Troupe GraphiQL', headers: JSON.stringify({ Authorization: 'Bearer <your key>' }) }
      : false,
    maskedErrors: {
      isDev: opts.exposeErrors,
      maskError: badGlobalIdAsBadInput,
      errorMessage: UNEXPECTED_ERROR,
    },
    cors: opts.corsOrigins?.length ? { origin: opts.corsOrigins, credentials: false } : false,
    context: async (initial) => {
      // WebSocket connections authenticate once, at connection_init (see websocket-subscriptions.ts).
      const ws = initial as { principal?: Principal; authenticatedSince?: number };
      const authenticatedSince = ws.principal ? (ws.authenticatedSince ?? 0) : opts.credentialWatch.since();
      const principal =
        ws.principal ?? (await authenticate(opts, bearerToken(initial.request.headers.get('authorization'))));
      return {
        principal,
        transport: ws.principal ? ('websocket' as const) : ('http' as const),
        authenticatedSince,
        database: opts.database,
        settings: opts.settings,
        authCache: opts.authCache,
        db: NO_TENANT_DB,
        script: noTenantScript,
        commitScript: () => noTenantScript().then((rows) => ({ rows, committed: false })),
        runs: opts.runs,
        documents: opts.documents,
        afterCommit: (fn: () => void | Promise<void>) => void fn(),
      };
    },
    plugins: [
      {
        onValidate({ addValidationRule }: { addValidationRule: (rule: typeof queryLimitsRule) => void }) {
          addValidationRule(queryLimitsRule);
        },
      },
      ...(opts.plugins ?? []),
      useTenantTransaction(),
      useCredentialEnd(opts.credentialWatch),
      // Last: it masks its own results (see there), as `maskedErrors` above would.
      useSharedEventExecution((error) => badGlobalIdAsBadInput(error, UNEXPECTED_ERROR, opts.exposeErrors)),
    ],
  });
}
