import {
  createTroupeClient,
  type TroupeClient,
  type TroupeClientOptions,
  type WebSocketConstructor,
} from '@troupe/sdk';
import { inject } from 'vitest';
import WebSocket from 'ws';

const { url, adminKey, controlUrl } = inject('troupe');

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
  return createTroupeClient({
    url,
    apiKey: apiKey.secret,
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
