import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import {
  createTroupeClient,
  isTroupeError,
  type RunEvent,
  type TroupeClient,
  type TroupeClientOptions,
  type WebSocketConstructor,
} from '../src/index';
import { startTroupeTestServer, type TroupeTestServer, TWO_TASK_CREW } from './support/troupe-server';

// Every stream of a client shares one WebSocket (graphql-ws multiplexes subscriptions by id).
// The sockets are counted by a wrapper around `ws` given as `webSocketImpl`.

let server: TroupeTestServer;
let apiKey: string;
let crewId: string;

const words = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}${i}`).join(' ');
const RESEARCH_TEXT = words('r', 20);
const WRITE_TEXT = words('w', 20);

/** The test LLM answers only once the gate opens: runs wait, their streams stay live. */
let gate: { promise: Promise<void>; open: () => void };
function closeGate() {
  let open = () => {};
  const promise = new Promise<void>((resolve) => {
    open = resolve;
  });
  gate = { promise, open };
}

/** A `ws` wrapper that counts the sockets made, and notes when each closed. */
function countedWebSocket() {
  const sockets: WebSocket[] = [];
  const closedAt: number[] = [];
  class CountedWebSocket extends WebSocket {
    constructor(url: string, protocols?: string | string[]) {
      super(url, protocols);
      const index = sockets.push(this) - 1;
      this.on('close', () => {
        closedAt[index] = Date.now();
      });
    }
  }
  return { impl: CountedWebSocket as unknown as WebSocketConstructor, sockets, closedAt };
}

function client(options: Partial<TroupeClientOptions> = {}): TroupeClient {
  return createTroupeClient({
    url: server.url,
    apiKey,
    webSocketImpl: WebSocket as unknown as WebSocketConstructor,
    reconnect: { minDelayMs: 10, maxDelayMs: 50 },
    ...options,
  });
}

async function collect<T>(iterable: AsyncIterable<T>, onEach?: (item: T) => void): Promise<T[]> {
  const items: T[] = [];
  for await (const item of iterable) {
    items.push(item);
    onEach?.(item);
  }
  return items;
}

async function startRuns(n: number): Promise<string[]> {
  const troupe = client();
  return Promise.all(
    Array.from(
      { length: n },
      async (_, i) => (await troupe.runs.start({ crewId, inputs: { topic: `t${i}` } })).id,
    ),
  );
}

/** The run's whole log as stored (replayed over SSE by a client of its own), and its output. */
async function expectStoredLog(runId: string, events: RunEvent[]) {
  const stored = await collect(client({ streamTransport: 'sse' }).runs.stream(runId));
  expect(events.map((e) => e.seq)).toEqual(stored.map((_e, i) => i + 1));
  expect(events).toEqual(stored);
  expect(events.at(-1)).toMatchObject({ type: 'RUN_SUCCEEDED', data: { output: WRITE_TEXT } });
  expect((await client().runs.get(runId))?.output).toBe(WRITE_TEXT);
}

beforeAll(async () => {
  server = await startTroupeTestServer();
  server.llm.setFallback(async (request) => {
    await gate.promise;
    const research = JSON.stringify(request.body).includes('Research ');
    return { text: research ? RESEARCH_TEXT : WRITE_TEXT, chunkDelayMs: 5 };
  });
  apiKey = await server.createTenant('sdk-shared-websocket');
  crewId = (await client().crews.create(TWO_TASK_CREW)).id;
}, 60_000);
afterAll(async () => {
  gate?.open();
  await server?.close();
});
beforeEach(() => {
  closeGate();
});
afterEach(() => {
  // Runs a failed test left waiting must not hold the worker.
  gate.open();
});

describe('one WebSocket per client', () => {
  it('carries 5 concurrent run streams on 1 socket, each with exactly its own log', async () => {
    const { impl, sockets } = countedWebSocket();
    const troupe = client({ webSocketImpl: impl });
    const runIds = await startRuns(5);
    const streams = runIds.map((id) => collect(troupe.runs.stream(id)));
    await server.waitForSubscribers(5);
    expect(sockets).toHaveLength(1);
    gate.open();
    const logs = await Promise.all(streams);
    for (const [i, id] of runIds.entries()) await expectStoredLog(id, logs[i]!);
    expect(sockets).toHaveLength(1);
    await server.waitForSubscribers(0);
  });

  it('resumes all 5 streams on a new socket when the shared one dies mid-run: no event lost or doubled', async () => {
    const { impl, sockets } = countedWebSocket();
    // A session token source: asked again for the new socket.
    let tokens = 0;
    const troupe = client({
      apiKey: undefined,
      getToken: () => {
        tokens++;
        return apiKey;
      },
      webSocketImpl: impl,
    });
    const runIds = await startRuns(5);
    let subscribersAtKill = -1;
    const streams = runIds.map((id) =>
      collect(troupe.runs.stream(id), (event) => {
        // Kill the shared socket (no close handshake) at the first token of any run.
        if (event.type === 'TOKEN' && subscribersAtKill < 0) {
          subscribersAtKill = server.subscriberCount();
          sockets[0]?.terminate();
        }
      }),
    );
    await server.waitForSubscribers(5);
    gate.open();
    const logs = await Promise.all(streams);
    // Every stream was live on the socket that died: all 5 resubscribed on the second socket.
    expect(subscribersAtKill).toBe(5);
    expect(sockets).toHaveLength(2);
    // Asked for each stream, on each socket.
    expect(tokens).toBe(10);
    for (const [i, id] of runIds.entries()) await expectStoredLog(id, logs[i]!);
    await server.waitForSubscribers(0);
  });

  it('a stream with other credentials than the open socket has (another user signed in) gets a socket of its own', async () => {
    const { impl, sockets } = countedWebSocket();
    // Another tenant's key: the first socket, opened with the first key, cannot see its runs.
    const otherKey = await server.createTenant(`sdk-shared-websocket-other-${Math.random()}`);
    const other = createTroupeClient({ url: server.url, apiKey: otherKey });
    const otherCrew = (await other.crews.create(TWO_TASK_CREW)).id;
    const otherRun = (await other.runs.start({ crewId: otherCrew, inputs: { topic: 'other' } })).id;
    let token = apiKey;
    const troupe = client({ apiKey: undefined, getToken: () => token, webSocketImpl: impl });
    const [mine] = await startRuns(1);
    const first = collect(troupe.runs.stream(mine!));
    await server.waitForSubscribers(1);
    // The user changes while the first stream is still open on its socket.
    token = otherKey;
    const second = collect(troupe.runs.stream(otherRun));
    await server.waitForSubscribers(2);
    expect(sockets).toHaveLength(2);
    gate.open();
    const [a, b] = await Promise.all([first, second]);
    expect(a.at(-1)).toMatchObject({ type: 'RUN_SUCCEEDED' });
    expect(b.at(-1)).toMatchObject({ type: 'RUN_SUCCEEDED', data: { output: WRITE_TEXT } });
    await server.waitForSubscribers(0);
  });

  it("streamTransport 'websocket' on a runtime without WebSocket fails the stream at once, saying what to do", async () => {
    // As on Node 20 (Node 22 and later have a global WebSocket).
    vi.stubGlobal('WebSocket', undefined);
    try {
      const troupe = createTroupeClient({ url: server.url, apiKey, streamTransport: 'websocket' });
      const [runId] = await startRuns(1);
      const t0 = Date.now();
      const error = await collect(troupe.runs.stream(runId!)).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(TypeError);
      expect(String(error)).toMatch(/no WebSocket.*webSocketImpl/);
      // Not after the reconnects (10 of them, up to 5 s apart).
      expect(Date.now() - t0).toBeLessThan(2000);
    } finally {
      vi.unstubAllGlobals();
      gate.open();
    }
  });

  it('ends only the stream that is closed: the others keep streaming on the same socket', async () => {
    const { impl, sockets } = countedWebSocket();
    const troupe = client({ webSocketImpl: impl });
    const runIds = await startRuns(5);
    const controller = new AbortController();
    const seenByAborted: RunEvent[] = [];
    const aborted = collect(troupe.runs.stream(runIds[0]!, { signal: controller.signal }), (e) =>
      seenByAborted.push(e),
    );
    const others = runIds.slice(1).map((id) => collect(troupe.runs.stream(id)));
    await server.waitForSubscribers(5);
    controller.abort(new Error('user left'));
    await expect(aborted).rejects.toThrow('user left');
    // (A server-side stream cancelled while it reads the log ends at its next poll, up to 5 s later.)
    await server.waitForSubscribers(4, 10_000);
    const seenAtAbort = seenByAborted.length;
    gate.open();
    const logs = await Promise.all(others);
    for (const [i, id] of runIds.slice(1).entries()) await expectStoredLog(id, logs[i]!);
    expect(seenByAborted).toHaveLength(seenAtAbort);
    expect(sockets).toHaveLength(1);
    await server.waitForSubscribers(0);
  });

  it('closes the socket streamLingerMs after the last stream ended, and reuses it before', async () => {
    gate.open();
    const [runId] = await startRuns(1);
    await collect(client().runs.stream(runId!));
    const { impl, sockets, closedAt } = countedWebSocket();
    const lingerMs = 400;
    const troupe = client({ webSocketImpl: impl, streamLingerMs: lingerMs });

    await collect(troupe.runs.stream(runId!));
    await new Promise((resolve) => setTimeout(resolve, lingerMs / 4));
    // A stream soon after the last one ended reuses the socket.
    await collect(troupe.runs.stream(runId!, { afterSeq: 3 }));
    const ended = Date.now();
    expect(sockets).toHaveLength(1);
    expect(sockets[0]?.readyState).toBe(WebSocket.OPEN);
    // The client closes it, not before the linger time.
    await expect.poll(() => closedAt[0], { timeout: lingerMs + 3000 }).toBeDefined();
    expect(closedAt[0]! - ended).toBeGreaterThanOrEqual(lingerMs - 20);

    // A stream after that opens a new socket.
    await collect(troupe.runs.stream(runId!, { afterSeq: 3 }));
    expect(sockets).toHaveLength(2);
  });
});

describe('sticky SSE fallback', () => {
  it('after a WebSocket failed to connect, later streams of the client go to SSE at once, for 5 minutes', async () => {
    let constructed = 0;
    class RefusedWebSocket {
      readyState = 0;
      onopen = null;
      onmessage = null;
      onerror: (() => void) | null = null;
      onclose: ((event: { code: number; reason: string }) => void) | null = null;
      constructor() {
        constructed++;
        setTimeout(() => {
          this.onerror?.();
          this.onclose?.({ code: 1006, reason: '' });
        }, 5);
      }
      send() {}
      close() {}
    }
    gate.open();
    const runIds = await startRuns(3);
    const troupe = client({ webSocketImpl: RefusedWebSocket as unknown as WebSocketConstructor });
    // Streams started together wait for the same (failing) socket, then all move to SSE.
    const first = await Promise.all(runIds.slice(0, 2).map((id) => collect(troupe.runs.stream(id))));
    expect(constructed).toBe(1);
    // A later stream does not try the WebSocket again.
    const later = await collect(troupe.runs.stream(runIds[2]!));
    expect(constructed).toBe(1);
    for (const [i, id] of runIds.entries()) await expectStoredLog(id, [...first, later][i]!);
    // 5 minutes later, a new stream tries the WebSocket again (and falls back again).
    const now = Date.now();
    vi.spyOn(Date, 'now').mockImplementation(() => now + 5 * 60_000 + 1);
    try {
      await expectStoredLog(runIds[0]!, await collect(troupe.runs.stream(runIds[0]!)));
    } finally {
      vi.restoreAllMocks();
    }
    expect(constructed).toBe(2);
    await server.waitForSubscribers(0);
  });
});

describe('a socket the server closes for its credentials', () => {
  it.each([
    ['a bad key', 'UNAUTHENTICATED', (): string => 'trp_nope'],
    ['the admin key', 'FORBIDDEN', (): string => server.adminKey],
  ] as const)(
    'with %s, every stream on it fails with %s and nothing reconnects',
    async (_what, code, key) => {
      gate.open();
      const runIds = await startRuns(5);
      const { impl, sockets } = countedWebSocket();
      const troupe = client({ apiKey: key(), webSocketImpl: impl });
      const results = await Promise.all(
        runIds.map((id) =>
          collect(troupe.runs.stream(id)).then(
            () => undefined,
            (error: unknown) => error,
          ),
        ),
      );
      for (const error of results) {
        expect(isTroupeError(error) && error.code).toBe(code);
      }
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(sockets).toHaveLength(1);
      await server.waitForSubscribers(0);
    },
  );
});
