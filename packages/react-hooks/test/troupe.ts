import {
  createTroupeClient,
  type TroupeClient,
  type TroupeClientOptions,
  type WebSocketConstructor,
} from '@troupe/sdk';
import { inject } from 'vitest';
import WebSocket from 'ws';

const { url, adminKey, controlUrl } = inject('troupe');

/** The real server's GraphQL endpoint. */
export const serverUrl = url;

/** Live subscriptions the real server holds now. */
export async function subscribers(): Promise<number> {
  return ((await (await fetch(controlUrl)).json()) as { subscribers: number }).subscribers;
}

/** Waits until the server holds exactly `count` live subscriptions. */
export async function waitForSubscribers(count: number, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const now = await subscribers();
    if (now === count) return;
    if (Date.now() > deadline)
      throw new Error(`expected ${count} live subscriptions, the server holds ${now}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** A tenant of its own, and a client for it (WebSocket streams through `ws`). */
export async function tenantClient(
  name: string,
  options: Partial<TroupeClientOptions> = {},
): Promise<TroupeClient> {
  const admin = createTroupeClient({ url, apiKey: adminKey });
  const { apiKey } = await admin.tenants.create({ name });
  return keyClient(apiKey.secret, options);
}

/** Another client of the tenant `of` is for, with a key of its own (and a WebSocket of its own). */
export async function sameTenantClient(
  of: TroupeClient,
  options: Partial<TroupeClientOptions> = {},
): Promise<TroupeClient> {
  const { secret } = await of.apiKeys.create({ name: `key-${Math.random()}`, scopes: ['READ', 'WRITE'] });
  return keyClient(secret, options);
}

function keyClient(apiKey: string, options: Partial<TroupeClientOptions> = {}): TroupeClient {
  return createTroupeClient({
    url,
    apiKey,
    webSocketImpl: WebSocket as unknown as WebSocketConstructor,
    reconnect: { minDelayMs: 10, maxDelayMs: 50 },
    ...options,
  });
}

export const CREW = {
  name: 'Writers',
  agents: [
    { name: 'researcher', role: 'Researcher', model: { provider: 'OPENAI' as const, name: 'm' } },
    { name: 'writer', role: 'Writer', model: { provider: 'OPENAI' as const, name: 'm' } },
  ],
  tasks: [
    { name: 'research', description: 'Research {{topic}}', agent: 'researcher' },
    { name: 'write', description: 'Write about {{topic}}', agent: 'writer', dependsOn: ['research'] },
  ],
};

export const WRITE_TEXT = Array.from({ length: 30 }, (_, i) => `w${i}`).join(' ');

interface GraphQLRequest {
  operationName?: string;
  variables?: Record<string, unknown>;
}

/**
 * A `fetch` that holds the answers to the GraphQL requests `match` picks (a slow network): the
 * server has handled each one, the client gets the answer only when the test lets it go.
 */
export function holdAnswers(match: (request: GraphQLRequest) => boolean) {
  const held: Array<() => void> = [];
  const fetchHeld: typeof fetch = async (input, init) => {
    const response = await fetch(input, init);
    if (match(JSON.parse(String(init?.body)) as GraphQLRequest)) {
      await new Promise<void>((resolve) => held.push(resolve));
    }
    return response;
  };
  return {
    fetch: fetchHeld,
    /** How many answers were held so far. */
    held: () => held.length,
    /** Lets the answer to the `index`-th held request (in the order they came) through. */
    release: (index: number) => held[index]?.(),
  };
}
