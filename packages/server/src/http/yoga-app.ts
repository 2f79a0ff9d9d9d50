import { createYoga, type YogaServerInstance } from 'graphql-yoga';
import { authenticate, bearerToken } from '../auth/authenticate.js';
import type { Database } from '../db/database.js';
import { type Context, NO_TENANT_DB, type ServerSettings } from '../graphql/context.js';
import { schema } from '../graphql/schema.js';
import { useTenantTransaction } from './tenant-transaction-plugin.js';

export interface YogaAppOptions {
  database: Database;
  settings: ServerSettings;
  graphiql: boolean;
  exposeErrors: boolean;
  corsOrigins?: string[];
}

export type TroupeYoga = YogaServerInstance<Record<string, unknown>, Context>;

/** The GraphQL endpoint (/graphql). Every operation is authenticated. */
export function createYogaApp(opts: YogaAppOptions): TroupeYoga {
  return createYoga<Record<string, unknown>, Context>({
    schema,
    graphqlEndpoint: '/graphql',
    healthCheckEndpoint: '/yoga-health',
    landingPage: false,
    logging: false,
    graphiql: opts.graphiql
      ? { title: 'Troupe GraphiQL', headers: JSON.stringify({ Authorization: 'Bearer <your key>' }) }
      : false,
    maskedErrors: { isDev: opts.exposeErrors },
    cors: opts.corsOrigins?.length ? { origin: opts.corsOrigins, credentials: false } : false,
    context: async ({ request }) => {
      const principal = await authenticate(
        opts.database,
        opts.settings,
        bearerToken(request.headers.get('authorization')),
      );
      return { principal, database: opts.database, settings: opts.settings, db: NO_TENANT_DB };
    },
    plugins: [useTenantTransaction()],
  });
}
