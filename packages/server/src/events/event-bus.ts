import { EventEmitter } from 'node:events';

/**
 * Fan-out of live messages between processes (Redis pub/sub) or inside one (embedded mode).
 * Delivery is best effort: subscribers that must not miss anything pair it with the durable log.
 */
export interface EventBus {
  publish(channel: string, message: string): Promise<void>;
  /** Resolves once the subscription is active; the returned function ends it. */
  subscribe(channel: string, onMessage: (message: string) => void): Promise<() => Promise<void>>;
  /** Called after the bus lost and regained its connection: subscribers may have missed messages. */
  onReconnect(listener: () => void): () => void;
  /** Live subscriptions (for leak checks and metrics). */
  subscriberCount(): number;
  close(): Promise<void>;
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
    async subscribe(channel, onMessage) {
      emitter.on(channel, onMessage);
      count++;
      let active = true;
      return async () => {
        if (!active) return;
        active = false;
        count--;
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
