import type { Server } from 'node:http';
import { type ExecutionArgs, type ExecutionResult, GraphQLError } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { type WebSocket, WebSocketServer } from 'ws';
import { type AuthDeps, authenticate, bearerToken } from '../auth/authenticate.js';
import type { CredentialWatch } from '../auth/credential-watch.js';
import type { Principal } from '../auth/principal.js';
import { TroupeServerError } from '../errors.js';
import { isSharedResultStream, sharedResultJson } from './shared-event-execution.js';
import { type ShutdownGate, shuttingDownError } from './shutdown-gate.js';
import { EXPIRED_TOKEN_MESSAGE, revokedMessage } from './stream-credentials.js';
import { holdWritesThisTurn } from './write-coalescing.js';
import type { TroupeYoga } from './yoga-app.js';

/** WebSocket close codes of the graphql-ws protocol that Troupe answers with. */
export const CLOSE_UNAUTHORIZED = 4401;
export const CLOSE_FORBIDDEN = 4403;
/** The server is shutting down (the WebSocket protocol's "going away"): clients reconnect elsewhere. */
const CLOSE_GOING_AWAY = 1001;
/** How long a shutdown waits for clients to answer the WebSocket closing handshake. */
const CLOSE_HANDSHAKE_MS = 1000;

function tokenFrom(
  params: Readonly<Record<string, unknown>> | undefined,
  header: string | undefined,
): string | undefined {
  const raw =
    params?.authorization ??
    params?.Authorization ??
    (params?.token ? `Bearer ${String(params.token)}` : undefined);
  return bearerToken(typeof raw === 'string' ? raw : header);
}

/** Close reasons are limited to 123 bytes by the WebSocket protocol. */
const reason = (s: string) => Buffer.from(s).subarray(0, 120).toString();

/** What onSubscribe gives each operation as its root value: the enveloped pipeline and where it goes. */
interface OperationRoot {
  execute(args: ExecutionArgs): unknown;
  subscribe(args: ExecutionArgs): unknown;
  socket: WebSocket;
  id: string;
}

/** A WebSocket query or mutation the shutdown waits for. */
interface HeldOperation {
  /** Its execution has produced its result. */
  settled: boolean;
  release(): void;
}

/** Bytes waiting to be written to a socket above which sending the next event waits for them. */
const SEND_HIGH_WATER = 64 * 1024;

/**
 * Sends a stream of shared results (a run's or thread's events, see shared-event-execution.ts) on
 * the socket itself: each event's `next` message is the subscription's id around the event's JSON,
 * which is serialised once for all its subscribers, where graphql-ws would build and serialise the
 * message per subscriber. graphql-ws gets a stream that yields nothing and ends when the events end
 * (it then sends `complete`, as always); it ends this stream (return) when the client completes the
 * subscription or leaves. A client that reads slower than events come makes the events wait: once
 * more than SEND_HIGH_WATER bytes wait for it, the next event waits until its message is written.
 */
function sendDirectly(results: AsyncIterator<ExecutionResult>, socket: WebSocket, id: string) {
  const head = `{"id":${JSON.stringify(id)},"type":"next","payload":`;
  const done = { done: true as const, value: undefined };
  let sending: Promise<IteratorResult<never, undefined>> | undefined;
  const stream: AsyncGenerator<never, undefined> = {
    next() {
      sending ??= (async () => {
        try {
          for (let r = await results.next(); !r.done; r = await results.next()) {
            if (socket.readyState !== socket.OPEN) continue; // closing: graphql-ws ends the stream
            const message = `${head}${sharedResultJson(r.value)}}`;
            if (socket.bufferedAmount < SEND_HIGH_WATER) socket.send(message);
            else
              await new Promise<void>((resolve, reject) =>
                socket.send(message, (e) => (e ? reject(e) : resolve())),
              );
          }
        } catch (error) {
          // A write that failed (a stalled client that went away) or events that failed: the events
          // end here. graphql-ws does not return() a stream whose next() rejected, so without this
          // the run's bus subscription would outlive the client.
          await results.return?.();
          if (socket.readyState === socket.OPEN) throw error;
        }
        return done;
      })();
      return sending;
    },
    async return() {
      await results.return?.();
      return done;
    },
    async throw(error) {
      await results.return?.();
      throw error;
    },
    [Symbol.asyncIterator]() {
      return stream;
    },
  };
  return stream;
}

export interface WebSocketSubscriptions {
  /** Open WebSocket connections. */
  connections(): number;
  /** Bytes sent to clients that their sockets have not taken yet (clients that read slowly). */
  bufferedBytes(): number;
  close(): Promise<void>;
}

/**
 * GraphQL over WebSocket (graphql-ws protocol) on /graphql, through the same envelop pipeline as
 * HTTP. Credentials come in `connection_init`'s payload ({ authorization: "Bearer <key or token>" })
 * or the upgrade request's Authorization header; missing or bad ones close the socket with 4401,
 * credentials that may not subscribe (the admin key) with 4403.
 *
 * A connection keeps the identity it authenticated with only as long as its credentials live:
 * revoking its API key (or the key that issued its session token), on any server, closes it with
 * 4403; its session token's expiry closes it with 4401.
 */
export function attachWebSocketSubscriptions(
  http: Server,
  yoga: TroupeYoga,
  deps: AuthDeps & {
    credentialWatch: CredentialWatch;
    gate: ShutdownGate;
    /** The largest message a client may send (TROUPE_MAX_REQUEST_BYTES, as over HTTP); larger closes with 1009. */
    maxMessageBytes?: number;
  },
): WebSocketSubscriptions {
  // ws's own limit is 100 MiB, read and parsed before connection_init is authenticated.
  const wss = new WebSocketServer({
    server: http,
    path: '/graphql',
    maxPayload: deps.maxMessageBytes ?? 1_000_000,
  });
  // Every message sent on a connection in one turn leaves in one write: a run's events arrive in
  // batches (a trivial run's last four, and the subscription's `complete`, in one turn), and each
  // message was a system call of its own, ~9% of `troupe dev`'s main thread under load.
  wss.on('connection', (ws, request) => {
    const raw = request.socket;
    const send = ws.send.bind(ws) as (...args: unknown[]) => void;
    ws.send = ((...args: unknown[]) => {
      holdWritesThisTurn(raw);
      send(...args);
    }) as typeof ws.send;
  });
  const principals = new WeakMap<object, { principal: Principal; since: number }>();
  /**
   * Each socket's queries and mutations under way, by operation id (a client may reuse an id, so
   * several can share one): the shutdown waits for them.
   */
  const heldOperations = new WeakMap<WebSocket, Map<string, Set<HeldOperation>>>();
  const releaseOperation = (socket: WebSocket, id: string) => {
    const first = heldOperations.get(socket)?.get(id)?.values().next().value;
    first?.release();
  };
  const cleanup = useServer(
    {
      // Queries and mutations under way finish, and their results are sent, before the server
      // closes what they need (see ShutdownGate): held until graphql-ws completes the operation
      // (its `complete` handed to the socket), or, should that never come, until the execution
      // has ended and the socket has closed.
      execute: (args: ExecutionArgs) => {
        const root = args.rootValue as OperationRoot;
        const { socket } = root;
        const release = deps.gate.hold();
        let ops = heldOperations.get(socket);
        if (!ops) {
          const held = new Map<string, Set<HeldOperation>>();
          ops = held;
          heldOperations.set(socket, held);
          socket.once('close', () => {
            for (const set of held.values()) for (const op of set) if (op.settled) op.release();
          });
        }
        const set = ops.get(root.id) ?? new Set<HeldOperation>();
        ops.set(root.id, set);
        const op: HeldOperation = {
          settled: false,
          release: () => {
            set.delete(op);
            if (set.size === 0) ops.get(root.id) === set && ops.delete(root.id);
            release();
          },
        };
        set.add(op);
        const result = Promise.resolve().then(() => root.execute(args));
        result.then(
          () => {
            op.settled = true;
            if (socket.readyState !== socket.OPEN) op.release();
          },
          () => op.release(),
        );
        return result as never;
      },
      onComplete: (ctx, id) => releaseOperation(ctx.extra.socket, id),
      onError: (ctx, id) => releaseOperation(ctx.extra.socket, id),
      subscribe: async (args: ExecutionArgs) => {
        const root = args.rootValue as OperationRoot;
        const result = await root.subscribe(args);
        return (isSharedResultStream(result) ? sendDirectly(result, root.socket, root.id) : result) as never;
      },
      onConnect: async (ctx) => {
        const socket = ctx.extra.socket;
        if (deps.gate.closing) {
          socket.close(CLOSE_GOING_AWAY, 'The server is shutting down');
          return false;
        }
        const since = deps.credentialWatch.since();
        try {
          const principal = await authenticate(
            deps,
            tokenFrom(ctx.connectionParams, ctx.extra.request.headers.authorization),
          );
          if (principal.kind === 'admin') {
            socket.close(
              CLOSE_FORBIDDEN,
              'Forbidden: the admin key cannot subscribe; use a tenant key or session token',
            );
            return false;
          }
          const unwatch = deps.credentialWatch.watch(principal, since, {
            revoked: () => socket.close(CLOSE_FORBIDDEN, reason(revokedMessage(principal))),
            expired: () => socket.close(CLOSE_UNAUTHORIZED, reason(EXPIRED_TOKEN_MESSAGE)),
          });
          // The watch ends with the socket (a client gone while it authenticated: at once).
          if (socket.readyState === socket.CLOSED) unwatch();
          else socket.once('close', unwatch);
          principals.set(ctx, { principal, since });
          return true;
        } catch (err) {
          const message = err instanceof TroupeServerError ? err.message : 'Authentication failed';
          socket.close(CLOSE_UNAUTHORIZED, reason(`Unauthorized: ${message}`));
          return false;
        }
      },
      onSubscribe: async (ctx, id, payload) => {
        const auth = principals.get(ctx);
        if (!auth) return [new GraphQLError('Not authenticated')];
        if (deps.gate.closing) return [shuttingDownError()];
        const { schema, execute, subscribe, contextFactory, parse, validate } = yoga.getEnveloped({
          ...ctx,
          req: ctx.extra.request,
          socket: ctx.extra.socket,
          params: payload,
          principal: auth.principal,
          authenticatedSince: auth.since,
        });
        let document: ReturnType<typeof parse>;
        try {
          document = parse(payload.query);
        } catch (err) {
          return [err instanceof GraphQLError ? err : new GraphQLError('Syntax error')];
        }
        const errors = validate(schema, document);
        if (errors.length > 0) return errors;
        return {
          schema,
          operationName: payload.operationName ?? null,
          document,
          variableValues: payload.variables ?? null,
          contextValue: await contextFactory(),
          rootValue: { execute, subscribe, socket: ctx.extra.socket, id } satisfies OperationRoot,
        };
      },
    },
    wss,
  );
  return {
    connections: () => wss.clients.size,
    bufferedBytes() {
      let n = 0;
      for (const client of wss.clients) n += client.bufferedAmount;
      return n;
    },
    async close() {
      // "Going away", after what was sent before: clients reconnect (elsewhere) and resume. One that
      // does not answer the closing handshake within a second is cut off.
      const open = [...wss.clients];
      for (const client of open) client.close(CLOSE_GOING_AWAY, 'The server is shutting down');
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.all(
          open.map((c) =>
            c.readyState === c.CLOSED ? undefined : new Promise((resolve) => c.once('close', resolve)),
          ),
        ),
        new Promise((resolve) => {
          timer = setTimeout(resolve, CLOSE_HANDSHAKE_MS);
        }),
      ]);
      clearTimeout(timer);
      for (const client of wss.clients) client.terminate();
      await cleanup.dispose();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}
