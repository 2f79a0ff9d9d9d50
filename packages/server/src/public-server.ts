import type { Server } from 'node:http';
import type { TroupeConfig } from './config.js';
import { startServer as start } from './server.js';

/** A running Troupe server. */
export interface TroupeServerHandle {
  /** Base URL, e.g. http://127.0.0.1:4000 (GraphQL on /graphql, readiness on /health). */
  readonly url: string;
  readonly http: Server;
  /** Live event-bus subscriptions: one per GraphQL subscription (WebSocket or SSE) following live events. */
  subscriberCount(): number;
  /** Stops accepting requests, closes the database and releases the data folder. */
  close(): Promise<void>;
}

/** Starts a Troupe server in this process: the programmatic form of `troupe dev` / `troupe serve`. */
export async function startTroupeServer(config: TroupeConfig): Promise<TroupeServerHandle> {
  const s = await start(config);
  return { url: s.url, http: s.http, subscriberCount: () => s.bus.subscriberCount(), close: () => s.close() };
}
