import { errorFromGraphQLErrors, readGraphQLErrors } from '../transport/response-error';
import { retryDelay, retryPolicy } from '../transport/retry-policy';
import type { TroupeError } from '../troupe-error';
import { deviceOffline, onlineEvents } from './device-online';
import { sseTransport } from './sse-transport';
import type { StreamOptions, StreamSettings, StreamSpec, WebSocketConstructor } from './stream-context';
import type { SubscriptionSink, SubscriptionTransport } from './subscription-transport';
import { websocketTransport } from './websocket-transport';

/** A subscription up this long before it dropped counts as healthy: its reconnects start afresh. */
const HEALTHY_CONNECTION_MS = 10_000;

/** Offline, attempts come at most this often (`maxDelayMs: 0` must not spin). */
const OFFLINE_RETRY_MIN_MS = 100;

type Waiter<T> = { resolve: (result: IteratorResult<T>) => void; reject: (error: unknown) => void };

/**
 * A subscription as an async iterator that survives lost connections: it resubscribes with
 * backoff after the last sequence number seen and drops anything at or below it, so consumers see
 * every event exactly once. It subscribes over WebSocket and falls back to SSE when no WebSocket
 * can be established.
 */
export function resumableStream<TEvent extends { seq: number }>(
  settings: StreamSettings,
  spec: StreamSpec<TEvent>,
  options: StreamOptions | undefined,
): AsyncIterableIterator<TEvent> {
  const policy = retryPolicy(
    settings.reconnect === false
      ? false
      : { retries: 10, minDelayMs: 250, maxDelayMs: 5000, ...settings.reconnect },
  );
  const WebSocketImpl: WebSocketConstructor | undefined =
    settings.webSocketImpl ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
  const signal = options?.signal;
  let lastSeq = options?.afterSeq ?? 0;
  let useSse =
    settings.transport === 'sse' ||
    (settings.transport === 'auto' && (!WebSocketImpl || (settings.sseUntil ?? 0) > Date.now()));
  let failures = 0;
  /** When the stream last resubscribed with renewed credentials (at most once a second). */
  let renewedAt = Number.NEGATIVE_INFINITY;
  let timer: ReturnType<typeof setTimeout> | undefined;
  /** A reconnect is scheduled (`timer`): the network coming back makes it happen at once. */
  let reconnecting = false;
  let unsubscribe: (() => void) | undefined;

  // Events not yet taken, as an array with a moving head (shift() would be O(n) per event).
  let queue: TEvent[] = [];
  let head = 0;
  let waiter: Waiter<TEvent> | undefined;
  let ended = false;
  let failure: { error: unknown } | undefined;

  const finish = () => {
    if (ended) return;
    ended = true;
    clearTimeout(timer);
    reconnecting = false;
    unsubscribe?.();
    unsubscribe = undefined;
    signal?.removeEventListener('abort', onAbort);
    onlineEvents()?.removeEventListener('online', onOnline);
    const pending = waiter;
    waiter = undefined;
    if (!pending) return;
    if (failure && head >= queue.length) {
      const { error } = failure;
      failure = undefined;
      pending.reject(error);
    } else pending.resolve({ done: true, value: undefined });
  };
  const fail = (error: unknown) => {
    if (ended) return;
    failure = { error };
    finish();
  };
  function onAbort() {
    queue = [];
    head = 0;
    fail(signal?.reason);
  }
  // The device is back online: a reconnect waiting for its backoff happens now, with a fresh count
  // (the failures were the network's, not the server's).
  function onOnline() {
    if (!reconnecting || ended) return;
    clearTimeout(timer);
    failures = 0;
    reconnect();
  }
  const reconnect = () => {
    reconnecting = false;
    connect();
  };
  const scheduleReconnect = (delayMs: number) => {
    reconnecting = true;
    timer = setTimeout(reconnect, delayMs);
  };

  const connect = () => {
    if (ended) return;
    let current = true;
    // One WebSocket for all the client's streams, made by the first one that uses it.
    if (!useSse) settings.webSocket ??= websocketTransport(settings, WebSocketImpl as WebSocketConstructor);
    const transport = useSse ? sseTransport(settings) : (settings.webSocket as SubscriptionTransport);
    let established = false;
    let establishedAt = 0;
    // Credentials that worked for this subscription and then stopped (a session token that expired
    // while the stream ran): subscribe again at once with fresh ones from getToken, after the last
    // event. Credentials refused from the start are final, and so are credentials that stop again
    // within a second of a renewal (no loop against a server that keeps refusing them).
    const renew = (error: TroupeError) => {
      if (!settings.renewableAuthorization || error.code !== 'UNAUTHENTICATED' || !established) return false;
      if (Date.now() - renewedAt < 1000) return false;
      current = false;
      unsubscribe?.();
      unsubscribe = undefined;
      renewedAt = Date.now();
      connect();
      return true;
    };
    const sink: SubscriptionSink = {
      established() {
        established = true;
        establishedAt = Date.now();
      },
      next(payload) {
        if (!current || ended) return;
        const result = payload as { data?: Record<string, unknown> | null; errors?: unknown } | null;
        const errors = readGraphQLErrors(result?.errors);
        if (errors) {
          const error = errorFromGraphQLErrors(errors, undefined);
          if (!renew(error)) fail(error);
          return;
        }
        const event = result?.data?.[spec.field] as TEvent | undefined;
        if (!event) return;
        // The subscription delivers: reconnects count from zero again. (Not as soon as it is sent:
        // a connection accepted and dropped before any event would be retried for good.)
        failures = 0;
        // At or below the last seen: a replay after a reconnect.
        if (!(event.seq > lastSeq)) return;
        lastSeq = event.seq;
        if (waiter) {
          const pending = waiter;
          waiter = undefined;
          pending.resolve({ done: false, value: event });
        } else queue.push(event);
        if (spec.isLast?.(event)) finish();
      },
      error(error: TroupeError) {
        if (!current || ended) return;
        if (renew(error)) return;
        current = false;
        unsubscribe = undefined;
        if (error.code !== 'UNAVAILABLE') return fail(error);
        if (!useSse && settings.transport === 'auto' && (settings.sseUntil ?? 0) > Date.now()) {
          // No WebSocket here (a proxy that refuses upgrades): the transport said to use SSE.
          useSse = true;
          return connect();
        }
        // A connection that stayed up a while was healthy, events or not (a chat nobody writes in):
        // losing it starts the count afresh. One dropped soon after being accepted counts on.
        if (established && Date.now() - establishedAt >= HEALTHY_CONNECTION_MS) failures = 0;
        // The device has no network (a train tunnel, a closed laptop): that is not the server's
        // failure, and it can last for minutes. Try now and then without using up the retries;
        // the `online` event brings the stream back at once.
        if (policy.retries > 0 && deviceOffline())
          return scheduleReconnect(Math.max(policy.maxDelayMs, OFFLINE_RETRY_MIN_MS));
        if (failures >= policy.retries) return fail(error);
        scheduleReconnect(retryDelay(policy, failures++, undefined));
      },
      complete() {
        if (!current) return;
        current = false;
        unsubscribe = undefined;
        finish();
      },
    };
    unsubscribe = transport(
      { query: spec.query, operationName: spec.operationName, variables: spec.variables(lastSeq) },
      sink,
    );
  };

  const iterator: AsyncIterableIterator<TEvent> = {
    next() {
      if (head < queue.length) {
        const value = queue[head++] as TEvent;
        if (head === queue.length) {
          queue = [];
          head = 0;
        }
        return Promise.resolve({ done: false, value });
      }
      if (failure) {
        const { error } = failure;
        failure = undefined;
        return Promise.reject(error);
      }
      if (ended) return Promise.resolve({ done: true, value: undefined });
      return new Promise((resolve, reject) => {
        waiter = { resolve, reject };
      });
    },
    return() {
      queue = [];
      head = 0;
      failure = undefined;
      finish();
      return Promise.resolve({ done: true, value: undefined });
    },
    [Symbol.asyncIterator]() {
      return iterator;
    },
  };

  if (signal?.aborted) onAbort();
  else if (settings.transport === 'websocket' && !WebSocketImpl)
    // A setting no retry can fix: said at once, not after the reconnects' half minute.
    fail(
      new TypeError(
        "streamTransport 'websocket': this runtime has no WebSocket (Node before 22 has none). Pass webSocketImpl (e.g. the ws package's WebSocket), or leave streamTransport at 'auto' to stream over SSE.",
      ),
    );
  else {
    signal?.addEventListener('abort', onAbort, { once: true });
    onlineEvents()?.addEventListener('online', onOnline);
    connect();
  }
  return iterator;
}
