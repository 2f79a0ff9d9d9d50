import { errorFromGraphQLErrors, readGraphQLErrors } from '../transport/response-error';
import { TroupeError, type TroupeErrorCode } from '../troupe-error';
import { deviceOffline } from './device-online';
import type { StreamSettings, WebSocketConstructor, WebSocketLike } from './stream-context';
import type { SubscriptionRequest, SubscriptionSink, SubscriptionTransport } from './subscription-transport';

const OPEN = 1;
const connectTimeoutMs = 10_000;
/** How long a client's streams use SSE at once after no WebSocket could be established. */
const sseForMs = 5 * 60_000;

// Close codes of the graphql-ws protocol that retrying cannot fix.
const closeCodes: Readonly<Record<number, TroupeErrorCode>> = {
  4400: 'BAD_INPUT',
  4401: 'UNAUTHENTICATED',
  4403: 'FORBIDDEN',
  4429: 'RATE_LIMITED',
};

/** One graphql-ws connection and the subscriptions it carries, by message id. */
interface Connection {
  /** The credentials it was opened with (its `connection_init`): the server scopes it by them. */
  readonly token: string | undefined;
  add(id: string, request: SubscriptionRequest, sink: SubscriptionSink): void;
  remove(id: string): void;
}

/**
 * GraphQL over WebSocket (the graphql-ws protocol, `graphql-transport-ws`): every subscription of a
 * client shares one socket, multiplexed by message id. The socket opens on the first subscription
 * (credentials in `connection_init`) and closes `lingerMs` after the last one ends. Credentials
 * are asked for each new subscription: one with other credentials than the socket's (another end
 * user signed in, a token limited to another thread) opens a socket of its own, as the server
 * decides what a socket may see by the credentials it was opened with. When the socket is lost, every subscription on it gets an `UNAVAILABLE` error and
 * resubscribes (after its own last event) on the next socket; a socket that fails before
 * `connection_ack`, on a client whose WebSocket never worked, sends the client's streams to SSE.
 */
export function websocketTransport(
  settings: StreamSettings,
  WebSocketImpl: WebSocketConstructor,
): SubscriptionTransport {
  const url = settings.endpoint.replace(/^http/i, 'ws');
  let current: Connection | undefined;
  let nextId = 0;
  let worked = false;

  const connect = (token: string | undefined): Connection => {
    const subscriptions = new Map<string, [SubscriptionRequest, SubscriptionSink]>();
    let socket: WebSocketLike | undefined;
    let acked = false;
    let ended = false;
    const offlineAtStart = deviceOffline();
    let linger: ReturnType<typeof setTimeout> | undefined;
    let pinger: ReturnType<typeof setInterval> | undefined;
    const send = (message: object) => {
      if (socket?.readyState === OPEN) socket.send(JSON.stringify(message));
    };
    const start = (id: string, request: SubscriptionRequest, sink: SubscriptionSink) => {
      send({ id, type: 'subscribe', payload: request });
      sink.established();
    };
    const take = (id: unknown) => {
      const subscription = subscriptions.get(id as string);
      if (subscriptions.delete(id as string) && !subscriptions.size) {
        linger = setTimeout(end, settings.lingerMs ?? 1000);
      }
      return subscription?.[1];
    };
    // Closes the socket; the subscriptions still on it fail with `error` (none on a linger close).
    // `socketFailed` false (getToken failed): no move to SSE, the WebSocket was not to blame.
    const end = (error?: TroupeError, socketFailed = true) => {
      if (ended) return;
      ended = true;
      if (current === connection) current = undefined;
      clearTimeout(timer);
      clearTimeout(linger);
      clearInterval(pinger);
      clearInterval(watchdog);
      socket?.close(1000, 'Normal Closure');
      if (!error) return;
      // (Not when the device was offline: nothing could connect, WebSocket or not.)
      if (!worked && socketFailed && error.code === 'UNAVAILABLE' && !offlineAtStart && !deviceOffline())
        settings.sseUntil = Date.now() + sseForMs;
      const sinks = [...subscriptions.values()];
      subscriptions.clear();
      for (const [, sink] of sinks) sink.error(error);
    };
    const lost = (message: string) => end(new TroupeError(message, { code: 'UNAVAILABLE' }));
    const timer = setTimeout(
      () => lost(`No WebSocket connection to ${url} within ${connectTimeoutMs} ms`),
      connectTimeoutMs,
    );
    // A half-open connection (a dead network, a sleeping laptop) can stay silent forever: the
    // server's keep-alives stop arriving. A full idleTimeoutMs without a message counts as lost.
    // (A counter checked by an interval: cheaper than resetting a timer on every message.)
    let activity = 0;
    let checked = -1;
    const watchdog = setInterval(() => {
      if (activity === checked) lost('The stream connection went silent');
      checked = activity;
    }, settings.idleTimeoutMs);
    // Opened once the connection holds its first subscription (the caller adds it next): a socket
    // that cannot even be created fails that subscription.
    const open = () => {
      if (ended) return;
      try {
        socket = new WebSocketImpl(url, 'graphql-transport-ws');
      } catch (cause) {
        return end(new TroupeError(`Could not open a WebSocket to ${url}`, { code: 'UNAVAILABLE', cause }));
      }
      socket.onopen = () =>
        send({ type: 'connection_init', payload: token ? { authorization: `Bearer ${token}` } : {} });
      socket.onmessage = (event) => {
        if (ended) return;
        activity++;
        let message: { type?: unknown; id?: unknown; payload?: unknown };
        try {
          message = JSON.parse(String(event.data));
        } catch (cause) {
          return end(
            new TroupeError('The server sent a malformed WebSocket message', { code: 'INTERNAL', cause }),
          );
        }
        switch (message.type) {
          case 'next':
            return subscriptions.get(message.id as string)?.[1].next(message.payload);
          case 'connection_ack':
            acked = worked = true;
            clearTimeout(timer);
            // The server's keep-alives are WebSocket ping frames, which browsers do not surface:
            // protocol pings, answered with pongs, show the connection still works.
            pinger = setInterval(() => send({ type: 'ping' }), settings.idleTimeoutMs / 3);
            for (const [id, [request, sink]] of subscriptions) start(id, request, sink);
            return;
          case 'ping':
            return send({ type: 'pong' });
          case 'error':
            return take(message.id)?.error(
              errorFromGraphQLErrors(
                readGraphQLErrors(message.payload) ?? [{ message: 'The subscription failed' }],
                undefined,
              ),
            );
          case 'complete':
            return take(message.id)?.complete();
        }
      };
      socket.onclose = (event) =>
        end(
          new TroupeError(event.reason || `The WebSocket connection closed (${event.code})`, {
            code: closeCodes[event.code] ?? 'UNAVAILABLE',
          }),
        );
      // An error event is always followed by a close event.
      socket.onerror = () => {};
    };
    void Promise.resolve().then(open);

    const connection: Connection = {
      token,
      add(id, request, sink) {
        clearTimeout(linger);
        subscriptions.set(id, [request, sink]);
        if (acked) start(id, request, sink);
      },
      remove(id) {
        // The server knows the subscription only once it was sent (after connection_ack).
        if (subscriptions.has(id) && acked) send({ id, type: 'complete' });
        take(id);
      },
    };
    return connection;
  };

  return (request, sink) => {
    const id = String(++nextId);
    let connection: Connection | undefined;
    let removed = false;
    settings.authorization('stream').then(
      (token) => {
        if (removed) return;
        // Other credentials than the current socket's: a socket of their own (the old one closes
        // once its streams are done).
        if (!current || current.token !== token) current = connect(token);
        connection = current;
        connection.add(id, request, sink);
      },
      // getToken failed: the socket is not to blame (no move to SSE).
      (error: TroupeError) => {
        if (!removed) sink.error(error);
      },
    );
    return () => {
      removed = true;
      connection?.remove(id);
    };
  };
}
