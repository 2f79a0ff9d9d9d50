import { Redis } from 'ioredis';
import type { EventBus } from './event-bus.js';

export interface RedisEventBusOptions {
  url: string;
  /** Prefix of every channel name (isolates deployments and tests sharing one Redis). */
  prefix?: string;
  /**
   * How long subscribe() waits for Redis to confirm a new channel before it resolves anyway (the
   * subscription is made when Redis is back, and onReconnect listeners then re-read the log).
   * Default 1 s.
   */
  subscribeWaitMs?: number;
}

/** Redis could not be reached when the process started (it retries by itself after that). */
export class RedisUnreachableError extends Error {
  override name = 'RedisUnreachableError';
  constructor(url: string, cause: Error) {
    // The host only: the URL may carry a password.
    let where = 'REDIS_URL';
    try {
      const host = new URL(url).host;
      if (host) where = `${host} (REDIS_URL)`;
    } catch {}
    const code = (cause as NodeJS.ErrnoException).code ?? '';
    const network = ['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'ECONNRESET'];
    const hint = network.includes(code) ? ' Is Redis running there?' : '';
    super(`cannot reach Redis at ${where}: ${cause.message.replace(/\.?$/, '.')}${hint}`, { cause });
  }
}

/**
 * Redis pub/sub: one publisher and one subscriber connection per process, channels shared by
 * reference count. After a reconnect, listeners registered with onReconnect are told so that
 * streams can re-read the durable log for anything published while the link was down.
 */
export async function createRedisEventBus(opts: RedisEventBusOptions): Promise<EventBus> {
  const prefix = opts.prefix ?? 'troupe:';
  // Auto-pipelining: messages published in the same tick (a batch of a run's events) go out in one
  // write, in order. Live messages are best effort (the durable log has every event): while Redis
  // is away a publish waits in ioredis's offline queue (a blip costs nothing) for at most 2 s,
  // where it could wait ~20 s before.
  const pub = new Redis(opts.url, {
    lazyConnect: true,
    maxRetriesPerRequest: 3,
    enableAutoPipelining: true,
    commandTimeout: 2000,
  });
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
  // connect() rejects with "Connection is closed."; the reason (refused, unknown host, refused
  // password) arrives as an 'error' event.
  let reason: Error | undefined;
  const remember = (err: Error) => (reason ??= err);
  pub.on('error', remember);
  sub.on('error', remember);
  try {
    await Promise.all([pub.connect(), sub.connect()]);
  } catch (err) {
    pub.disconnect();
    sub.disconnect();
    throw new RedisUnreachableError(opts.url, reason ?? (err as Error));
  } finally {
    pub.off('error', remember);
    sub.off('error', remember);
  }
  // Per channel: its handlers, and Redis's confirmation of the SUBSCRIBE that every subscriber of
  // the channel waits for (so none returns before the channel is live, nor after it was dropped).
  const handlers = new Map<string, Set<(m: string) => void>>();
  const confirmed = new Map<string, Promise<void>>();
  const subscribeWaitMs = opts.subscribeWaitMs ?? 1000;
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
        const fresh = new Set<(m: string) => void>();
        set = fresh;
        handlers.set(key, fresh);
        const subscribed = sub.subscribe(key).then(
          () => {},
          (err) => {
            // Not subscribed: the next subscriber of the channel tries again.
            if (handlers.get(key) === fresh) {
              handlers.delete(key);
              confirmed.delete(key);
            }
            throw err;
          },
        );
        // Awaited by the channel's subscribers, if any still wait: never an unhandled rejection.
        subscribed.catch(() => {});
        confirmed.set(key, subscribed);
      }
      // In the set before the wait: a subscriber of the same channel leaving meanwhile must not
      // find it empty and unsubscribe the channel under this one.
      set.add(onMessage);
      // Redis away: the SUBSCRIBE waits for it (ioredis sends it on reconnect) but the caller need
      // not: it reads the durable log meanwhile, and again once the bus reconnects.
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          confirmed.get(key),
          new Promise<void>((resolve) => {
            timer = setTimeout(resolve, subscribeWaitMs);
          }),
        ]);
      } catch (err) {
        set.delete(onMessage);
        throw err;
      } finally {
        clearTimeout(timer);
      }
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
          confirmed.delete(key);
          // Not waited for: with Redis away it waits for Redis (ioredis sends it on reconnect, in
          // order with any later SUBSCRIBE), and a stream must end without it.
          sub.unsubscribe(key).catch(() => {});
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
      confirmed.clear();
      reconnectListeners.clear();
      count = 0;
      await Promise.all([pub.quit().catch(() => pub.disconnect()), sub.quit().catch(() => sub.disconnect())]);
    },
  };
}
