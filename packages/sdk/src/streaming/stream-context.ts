import type { Authorize } from '../transport/authorization';
import type { RetryOptions } from '../transport/retry-policy';
import type { SubscriptionTransport } from './subscription-transport';

/** A constructor of WHATWG-style WebSockets: `globalThis.WebSocket`, or `ws` on Node < 22. */
export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocketLike;

/** The part of the WebSocket API the SDK uses. */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((event: never) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onerror: ((event: never) => void) | null;
}

/** How streams reach the server. */
export type StreamTransport = 'auto' | 'websocket' | 'sse';

export interface StreamOptions {
  /** Only events after this sequence number (default 0: all). */
  afterSeq?: number;
  /** Ends the stream; a pending `next()` rejects with the signal's reason. */
  signal?: AbortSignal;
}

/** What a stream subscribes to and how it reads the events. */
export interface StreamSpec<TEvent extends { seq: number }> {
  query: string;
  operationName: string;
  /** Variables for a (re)subscription after `afterSeq`. */
  variables: (afterSeq: number) => Record<string, unknown>;
  /** The subscription's root field. */
  field: string;
  /** True for the event after which the stream ends. */
  isLast?: (event: TEvent) => boolean;
}

/** Settings shared by every stream of a client. */
export interface StreamSettings {
  endpoint: string;
  /** Streams call it with `'stream'`: see `Authorize`. */
  authorization: Authorize;
  /**
   * `authorization` can give new credentials (the client has `getToken`): a stream whose credentials
   * expire while it runs (a session token's end) resubscribes once with fresh ones.
   */
  renewableAuthorization?: boolean;
  fetch: typeof fetch;
  headers: Record<string, string> | undefined;
  webSocketImpl: WebSocketConstructor | undefined;
  transport: StreamTransport;
  reconnect: RetryOptions | false | undefined;
  /** A connection silent for this long (no event, no keep-alive) counts as lost. */
  idleTimeoutMs: number;
  /** How long the shared WebSocket stays open after its last subscription ended (default 1000). */
  lingerMs: number | undefined;
  /** The client's WebSocket transport: one socket for all its streams (made by the first stream). */
  webSocket?: SubscriptionTransport;
  /** Until then (ms since the epoch) streams use SSE at once: set when no WebSocket could be established. */
  sseUntil?: number;
}

export interface StreamContext {
  open<TEvent extends { seq: number }>(
    spec: StreamSpec<TEvent>,
    options: StreamOptions | undefined,
  ): AsyncIterableIterator<TEvent>;
}

/**
 * Streams load their machinery (WebSocket and SSE transports, reconnects) on first use, so a
 * client that never streams does not ship it.
 */
export function createStreamContext(settings: StreamSettings): StreamContext {
  return {
    open(spec, options) {
      let inner: Promise<AsyncIterableIterator<never>> | undefined;
      let finished = false;
      const load = () => {
        inner ??= import('./resumable-stream').then(
          (m) => m.resumableStream(settings, spec, options) as never,
        );
        return inner;
      };
      const iterator: AsyncIterableIterator<never> = {
        async next() {
          if (finished) return { done: true, value: undefined };
          return (await load()).next();
        },
        async return() {
          finished = true;
          if (inner) await (await inner).return?.();
          return { done: true, value: undefined };
        },
        [Symbol.asyncIterator]() {
          return iterator;
        },
      };
      return iterator;
    },
  };
}
