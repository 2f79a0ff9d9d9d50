import type { ServerResponse } from 'node:http';
import { GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';

export const SHUTTING_DOWN_MESSAGE =
  'The server is shutting down; try again (another instance, or this one once it is back).';

/**
 * A server shutting down finishes the work under way before it closes what that work needs (the
 * run executor, the database): a `startRun` in flight when SIGTERM came used to create its run and
 * then fail with an internal error, since the executor was already closed. New work is turned away
 * with UNAVAILABLE (HTTP 503), which changes nothing and which clients may retry elsewhere.
 *
 * Waited for: HTTP requests until their response ends, and WebSocket operations (queries,
 * mutations) until their result has been sent. Not waited for: subscriptions (over SSE or WebSocket),
 * which live as long as their run; the shutdown ends them.
 */
export interface ShutdownGate {
  /** True once close() was called: new requests and operations are refused. */
  readonly closing: boolean;
  /** Counts an HTTP request until its response ends (or turns out to be a subscription's stream). */
  admit(res: ServerResponse): void;
  /**
   * Counts a WebSocket operation until the returned release is called (once its result and its
   * `complete` message are handed to the socket, or the socket is gone). Calling it again does nothing.
   */
  hold(): () => void;
  /** The envelop plugin that tells subscriptions (long-lived, not waited for) from the rest. */
  plugin: Plugin;
  /**
   * Refuses new work from now on; resolves once the work under way has ended (true), or after
   * `ms` with some still going (false).
   */
  close(ms: number): Promise<boolean>;
}

/** The error a refused operation gets (GraphQL over WebSocket). */
export const shuttingDownError = () =>
  new GraphQLError(SHUTTING_DOWN_MESSAGE, { extensions: { code: 'UNAVAILABLE' } });

export function createShutdownGate(): ShutdownGate {
  let closing = false;
  const requests = new Set<ServerResponse>();
  let operations = 0;
  let drained: (() => void) | undefined;
  let closed: Promise<boolean> | undefined;
  const check = () => {
    if (drained && requests.size === 0 && operations === 0) drained();
  };
  return {
    get closing() {
      return closing;
    },
    admit(res) {
      requests.add(res);
      res.once('close', () => {
        requests.delete(res);
        check();
      });
    },
    hold() {
      operations++;
      let held = true;
      return () => {
        if (!held) return;
        held = false;
        // Counted to the end of the turn: what was handed to the socket just now is written first.
        setImmediate(() => {
          operations--;
          check();
        });
      };
    },
    plugin: {
      // First among the plugins: later ones (the shared event execution) end the chain.
      onSubscribe({ args }) {
        const res = (args.contextValue as { res?: unknown }).res;
        if (res && requests.delete(res as ServerResponse)) check();
      },
    },
    close(ms) {
      if (closed) return closed;
      closing = true;
      if (requests.size === 0 && operations === 0) {
        closed = Promise.resolve(true);
        return closed;
      }
      closed = new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => {
          drained = undefined;
          resolve(false);
        }, ms);
        drained = () => {
          drained = undefined;
          clearTimeout(timer);
          resolve(true);
        };
      });
      return closed;
    },
  };
}
