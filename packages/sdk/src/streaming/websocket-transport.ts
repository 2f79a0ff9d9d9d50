import { errorFromGraphQLErrors, readGraphQLErrors } from '../transport/response-error';
import { TroupeError, type TroupeErrorCode } from '../troupe-error';
import type { StreamSettings, WebSocketConstructor, WebSocketLike } from './stream-context';
import type { SubscriptionTransport } from './subscription-transport';

const OPEN = 1;
const connectTimeoutMs = 10_000;

// Close codes of the graphql-ws protocol that retrying cannot fix.
const closeCodes: Readonly<Record<number, TroupeErrorCode>> = {
  4400: 'BAD_INPUT',
  4401: 'UNAUTHENTICATED',
  4403: 'FORBIDDEN',
  4429: 'RATE_LIMITED',
};

/**
 * GraphQL over WebSocket (the graphql-ws protocol, `graphql-transport-ws`): one socket per
 * subscription, credentials in `connection_init`.
 */
export function websocketTransport(
  settings: StreamSettings,
  WebSocketImpl: WebSocketConstructor,
): SubscriptionTransport {
  const url = settings.endpoint.replace(/^http/i, 'ws');
  return (request, sink) => {
    let socket: WebSocketLike | undefined;
    let ended = false;
    const send = (message: object) => {
      if (socket?.readyState === OPEN) socket.send(JSON.stringify(message));
    };
    let pinger: ReturnType<typeof setInterval> | undefined;
    const end = () => {
      ended = true;
      clearTimeout(timer);
      clearInterval(pinger);
      socket?.close(1000, 'Normal Closure');
    };
    const fail = (error: TroupeError) => {
      if (ended) return;
      end();
      sink.error(error);
    };
    const timer = setTimeout(
      () =>
        fail(
          new TroupeError(`No WebSocket connection to ${url} within ${connectTimeoutMs} ms`, {
            code: 'UNAVAILABLE',
          }),
        ),
      connectTimeoutMs,
    );

    settings.authorization().then((token) => {
      if (ended) return;
      try {
        socket = new WebSocketImpl(url, 'graphql-transport-ws');
      } catch (cause) {
        return fail(new TroupeError(`Could not open a WebSocket to ${url}`, { code: 'UNAVAILABLE', cause }));
      }
      socket.onopen = () =>
        send({ type: 'connection_init', payload: token ? { authorization: `Bearer ${token}` } : {} });
      socket.onmessage = (event) => {
        if (ended) return;
        sink.alive();
        let message: { type?: unknown; id?: unknown; payload?: unknown };
        try {
          message = JSON.parse(String(event.data));
        } catch (cause) {
          return fail(
            new TroupeError('The server sent a malformed WebSocket message', { code: 'INTERNAL', cause }),
          );
        }
        switch (message.type) {
          case 'next':
            if (message.id === '1') sink.next(message.payload);
            return;
          case 'connection_ack':
            clearTimeout(timer);
            // The server's keep-alives are WebSocket ping frames, which browsers do not surface:
            // protocol pings, answered with pongs, show the connection still works.
            pinger = setInterval(() => send({ type: 'ping' }), settings.idleTimeoutMs / 3);
            send({ id: '1', type: 'subscribe', payload: request });
            return sink.established();
          case 'ping':
            return send({ type: 'pong' });
          case 'error':
            return fail(
              errorFromGraphQLErrors(
                readGraphQLErrors(message.payload) ?? [{ message: 'The subscription failed' }],
                undefined,
              ),
            );
          case 'complete':
            end();
            return sink.complete();
        }
      };
      socket.onclose = (event) => {
        const code = closeCodes[event.code] ?? 'UNAVAILABLE';
        fail(
          new TroupeError(event.reason || `The WebSocket connection closed (${event.code})`, {
            code,
          }),
        );
      };
      // An error event is always followed by a close event.
      socket.onerror = () => {};
    }, fail);

    return () => {
      if (ended) return;
      send({ id: '1', type: 'complete' });
      end();
    };
  };
}
