import { Redis } from 'ioredis';
import type { EventBus } from './event-bus.js';

export interface RedisEventBusOptions {
  url: string;
  /** Prefix of every channel name (isolates deployments and tests sharing one Redis). */
  prefix?: string;
}

/**
 * Redis pub/sub: one publisher and one subscriber connection per process, channels shared by
 * reference count. After a reconnect, listeners registered with onReconnect are told so that
 * streams can re-read the durable log for anything published while the link was down.
 */
export async function createRedisEventBus(opts: RedisEventBusOptions): Promise<EventBus> {
  const prefix = opts.prefix ?? 'troupe:';
  // Auto-pipelining: messages published in the same tick (a batch of a run's events) go out in one
  // write, in order.
  const pub = new Redis(opts.url, { lazyConnect: true, maxRetriesPerRequest: 3, enableAutoPipelining: true });
  // Named (CLIENT LIST shows which connection is a Troupe server's subscriber).
  const sub = new Redis(opts.url, {
    lazyConnect: true,
    maxRetriesPerRequest: null,
    connectionName: `${prefix.replace(/[^\w:.-]/g, '_')}bus-sub`,
  });
  // ioredis reconnects by itself; errors while it does must not crash the process.
  const onError = (err: Error) => {
    if (process.env.TROUPE_DEBUG_REDIS) console.warn('troupe: redis:', err.message);
  };
  pub.on('error', onError);
  sub.on('error', onError);
  await Promise.all([pub.connect(), sub.connect()]);
  const handlers = new Map<string, Set<(m: string) => void>>();
  const reconnectListeners = new Set<() => void>();
  let count = 0;
  let readyOnce = false;
  sub.on('message', (channel: string, message: string) => {
    const set = handlers.get(channel);
    if (set) for (const h of set) h(message);
  });
  sub.on('ready', () => {
    // ioredis re-subscribes by itself (autoResubscribe); tell streams they may have missed messages.
    if (readyOnce) for (const l of reconnectListeners) l();
    readyOnce = true;
  });
  readyOnce = true;
  return {
    async publish(channel, message) {
      await pub.publish(prefix + channel, message);
    },
    async subscribe(channel, onMessage, opts) {
      const key = prefix + channel;
      let set = handlers.get(key);
      if (!set) {
        set = new Set();
        handlers.set(key, set);
        await sub.subscribe(key);
      }
      set.add(onMessage);
      const counted = opts?.uncounted ? 0 : 1;
      count += counted;
      let active = true;
      return async () => {
        if (!active) return;
        active = false;
        count -= counted;
        const s = handlers.get(key);
        s?.delete(onMessage);
        if (s && s.size === 0) {
          handlers.delete(key);
          await sub.unsubscribe(key).catch(() => {});
        }
      };
    },
    onReconnect(listener) {
      reconnectListeners.add(listener);
      return () => reconnectListeners.delete(listener);
    },
    subscriberCount: () => count,
    async close() {
      handlers.clear();
      reconnectListeners.clear();
      count = 0;
      await Promise.all([pub.quit().catch(() => pub.disconnect()), sub.quit().catch(() => sub.disconnect())]);
    },
  };
}
