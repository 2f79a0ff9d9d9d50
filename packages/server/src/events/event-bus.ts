import { EventEmitter } from 'node:events';

/**
 * Fan-out of live messages between processes (Redis pub/sub) or inside one (embedded mode).
 * Delivery is best effort: subscribers that must not miss anything pair it with the durable log.
 */
export interface EventBus {
  publish(channel: string, message: string): Promise<void>;
  /** Resolves once the subscription is active; the returned function ends it. */
  subscribe(
    channel: string,
    onMessage: (message: string) => void,
    opts?: SubscribeOptions,
  ): Promise<() => Promise<void>>;
  /** Called after the bus lost and regained its connection: subscribers may have missed messages. */
  onReconnect(listener: () => void): () => void;
  /** Live subscriptions (for leak checks and metrics), less those made `uncounted`. */
  subscriberCount(): number;
  close(): Promise<void>;
}

export interface SubscribeOptions {
  /**
   * Not counted by subscriberCount: a subscription the server holds for its whole life (auth cache
   * invalidation), not one of the per-stream subscriptions that count tracks.
   */
  uncounted?: boolean;
}

/** The in-process bus of embedded mode: same semantics, no network. */
export function createInProcessEventBus(): EventBus {
  const emitter = new EventEmitter();
  emitter.setMaxListeners(0);
  let count = 0;
  return {
    async publish(channel, message) {
      emitter.emit(channel, message);
    },
    async subscribe(channel, onMessage, opts) {
      emitter.on(channel, onMessage);
      const counted = opts?.uncounted ? 0 : 1;
      count += counted;
      let active = true;
      return async () => {
        if (!active) return;
        active = false;
        count -= counted;
        emitter.off(channel, onMessage);
      };
    },
    onReconnect() {
      return () => {};
    },
    subscriberCount: () => count,
    async close() {
      emitter.removeAllListeners();
      count = 0;
    },
  };
}
