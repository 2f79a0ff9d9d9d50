import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import {
  collectText,
  createTroupeClient,
  isTroupeError,
  type RunEvent,
  runStateOf,
  type TroupeClient,
  type TroupeClientOptions,
  TroupeError,
  type WebSocketConstructor,
} from '../src/index';
import { startTcpProxy, type TcpProxy } from './support/tcp-proxy';
import { startTroupeTestServer, type TroupeTestServer, TWO_TASK_CREW } from './support/troupe-server';

let server: TroupeTestServer;
let apiKey: string;
let crewId: string;

const words = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}${i}`).join(' ');
const RESEARCH_TEXT = words('r', 30);
const WRITE_TEXT = words('w', 30);
const fastReconnect = { minDelayMs: 10, maxDelayMs: 50 };

function client(options: Partial<TroupeClientOptions> = {}): TroupeClient {
  return createTroupeClient({
    url: server.url,
    apiKey,
    webSocketImpl: WebSocket as unknown as WebSocketConstructor,
    reconnect: fastReconnect,
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

/** Cuts the proxy's connections at the first token of each task (twice in a two-task run). */
function cutInEachTask(proxy: TcpProxy) {
  const cutTasks = new Set<string>();
  return {
    onEvent(event: RunEvent) {
      if (event.type === 'TOKEN' && !cutTasks.has(event.data.taskName)) {
        cutTasks.add(event.data.taskName);
        proxy.cut();
      }
    },
    count: () => cutTasks.size,
  };
}

function expectWholeLog(events: RunEvent[]) {
  expect(events.map((e) => e.seq)).toEqual(events.map((_e, i) => i + 1));
  expect(events.at(-1)?.type).toBe('RUN_SUCCEEDED');
}

beforeAll(async () => {
  server = await startTroupeTestServer();
  server.llm.setFallback((request) => {
    const research = JSON.stringify(request.body).includes('Research ');
    // About 2.4 s a task: long enough for a 2 s session token to expire mid-stream.
    const slow = JSON.stringify(request.body).includes('slow-renewal');
    return { text: research ? RESEARCH_TEXT : WRITE_TEXT, chunkDelayMs: slow ? 80 : 8 };
  });
  apiKey = await server.createTenant('sdk-runs');
  crewId = (await client().crews.create(TWO_TASK_CREW)).id;
}, 60_000);
afterAll(async () => {
  await server?.close();
});
afterEach(() => {
  vi.unstubAllGlobals();
});

describe('runs resource', () => {
  it('starts, gets, lists, cancels and retries runs', async () => {
    const troupe = client();
    const run = await troupe.runs.start({ crewId, inputs: { topic: 'otters' }, idempotencyKey: 'k1' });
    expect(run).toMatchObject({ status: 'QUEUED', inputs: { topic: 'otters' }, idempotencyKey: 'k1' });
    expect((await troupe.runs.start({ crewId, inputs: { topic: 'otters' }, idempotencyKey: 'k1' })).id).toBe(
      run.id,
    );
    await expect(troupe.runs.get(run.id)).resolves.toMatchObject({ id: run.id, crew: { id: crewId } });
    await expect(troupe.runs.get('UnVuOjk5OTk5')).resolves.toBeNull();

    expect((await troupe.runs.cancel(run.id)).id).toBe(run.id);
    // A running run is aborted where it executes: its stream ends with RUN_CANCELLED.
    expect((await collect(troupe.runs.stream(run.id))).at(-1)?.type).toBe('RUN_CANCELLED');
    await expect(troupe.runs.get(run.id)).resolves.toMatchObject({ status: 'CANCELLED' });
    const page = await troupe.runs.list({ first: 10, crewId, status: 'CANCELLED' });
    expect(page.nodes.map((r) => r.id)).toContain(run.id);

    const retried = await troupe.runs.retry(run.id);
    expect(retried.status).toBe('QUEUED');
    // The log continues after the cancellation: follow the retry from its lastSeq.
    const events = await collect(troupe.runs.stream(run.id, { afterSeq: retried.lastSeq }));
    expect(events[0]?.seq).toBe(retried.lastSeq + 1);
    expect(events.at(-1)?.type).toBe('RUN_SUCCEEDED');
    const done = await troupe.runs.get(run.id);
    expect(done).toMatchObject({ status: 'SUCCEEDED', output: WRITE_TEXT });
    expect(done?.taskRuns.map((t) => [t.task.name, t.status, t.output])).toEqual([
      ['research', 'SUCCEEDED', RESEARCH_TEXT],
      ['write', 'SUCCEEDED', WRITE_TEXT],
    ]);
    // From the start, the whole log: through the cancellation to the retry's end.
    const all = await collect(troupe.runs.stream(run.id));
    expect(all.map((e) => e.seq)).toEqual(all.map((_e, i) => i + 1));
    expect(all.map((e) => e.type)).toContain('RUN_CANCELLED');
    expect(all.at(-1)?.type).toBe('RUN_SUCCEEDED');
  });

  it('approves a task waiting for approval with respond()', async () => {
    const troupe = client();
    const crew = await troupe.crews.create({
      ...TWO_TASK_CREW,
      name: 'Reviewed',
      tasks: TWO_TASK_CREW.tasks.map((t) => (t.name === 'research' ? { ...t, requiresApproval: true } : t)),
    });
    const run = await troupe.runs.start({ crewId: crew.id, inputs: { topic: 'owls' } });
    const states = troupe.runs.watch(run.id);
    let approved = false;
    let last: Awaited<ReturnType<typeof states.next>>['value'];
    for await (const state of states) {
      last = state;
      if (state.approval && !approved) {
        approved = true;
        expect(state.status).toBe('WAITING_FOR_APPROVAL');
        expect(state.approval).toMatchObject({ taskName: 'research', output: RESEARCH_TEXT });
        const responded = await troupe.runs.respond({
          runId: run.id,
          taskRunId: state.approval.taskRunId!,
          approved: true,
        });
        expect(responded.id).toBe(run.id);
      }
    }
    expect(approved).toBe(true);
    expect(last).toMatchObject({ status: 'SUCCEEDED', output: WRITE_TEXT, approval: null });
  });
});

describe('a crew with a retry policy', () => {
  it('streams through RUN_RETRYING to the next attempt, and watch() shows the retry', async () => {
    const troupe = client();
    const crew = await troupe.crews.create({
      ...TWO_TASK_CREW,
      name: 'Retried',
      retry: { maxAttempts: 2, backoffMs: 50 },
    });
    // The provider retries a 503 three times itself; the fourth fails the attempt.
    const unavailable = { error: { status: 503, message: 'overloaded', headers: { 'retry-after': '0' } } };
    server.llm.enqueue(unavailable, unavailable, unavailable, unavailable);
    const run = await troupe.runs.start({ crewId: crew.id, inputs: { topic: 'retry' } });
    const states = await collect(troupe.runs.watch(run.id));
    const retrying = states.find((s) => s.status === 'QUEUED' && s.error);
    expect(retrying?.error?.message).toMatch(/overloaded/);
    expect(states.at(-1)).toMatchObject({ status: 'SUCCEEDED', output: WRITE_TEXT, error: null });
    const events = await collect(troupe.runs.stream(run.id));
    expect(events.filter((e) => e.type === 'RUN_RETRYING')).toHaveLength(1);
    expect(events.filter((e) => e.type === 'RUN_STARTED')).toHaveLength(2);
  });
});

describe('runs.stream over WebSocket', () => {
  it('streams every event once, in order, ends with the run, and leaves no subscription', async () => {
    const troupe = client();
    const run = await troupe.runs.start({ crewId, inputs: { topic: 'ws' } });
    const events = await collect(troupe.runs.stream(run.id));
    expectWholeLog(events);
    const stored = await troupe.runs.get(run.id);
    expect(stored?.lastSeq).toBe(events.length);
    const state = runStateOf(events);
    expect(state).toMatchObject({
      status: 'SUCCEEDED',
      output: stored?.output,
      textByTask: { research: RESEARCH_TEXT, write: WRITE_TEXT },
    });
    expect(state.usage.totalTokens).toBe(stored?.usage.totalTokens);
    expect(state.usage.totalTokens).toBeGreaterThan(0);
    await server.waitForSubscribers(0);
  });

  it('uses globalThis.WebSocket when there is one (browsers, edge, Node 22+)', async () => {
    const opened: string[] = [];
    class GlobalWebSocket extends WebSocket {
      constructor(url: string, protocols?: string | string[]) {
        super(url, protocols);
        opened.push(url);
      }
    }
    vi.stubGlobal('WebSocket', GlobalWebSocket);
    const troupe = client({ webSocketImpl: undefined });
    const run = await troupe.runs.start({ crewId, inputs: { topic: 'global' } });
    expectWholeLog(await collect(troupe.runs.stream(run.id)));
    expect(opened).toEqual([`${server.url.replace('http', 'ws')}/graphql`]);
  });

  it('resumes after afterSeq, and collectText joins the tokens (of one task)', async () => {
    const troupe = client();
    const run = await troupe.runs.start({ crewId, inputs: { topic: 'resume' } });
    const all = await collect(troupe.runs.stream(run.id));
    const rest = await collect(troupe.runs.stream(run.id, { afterSeq: 5 }));
    expect(rest.map((e) => e.seq)).toEqual(all.slice(5).map((e) => e.seq));
    expect(await collectText(troupe.runs.stream(run.id), { task: 'write' })).toBe(WRITE_TEXT);
    expect(await collectText(all)).toBe(RESEARCH_TEXT + WRITE_TEXT);
  });

  it('survives its connection being cut twice mid-run: no event lost or doubled', async () => {
    const proxy = await startTcpProxy(server.url);
    try {
      // Only the stream goes through the proxy.
      const troupe = client({ url: proxy.url });
      const run = await client().runs.start({ crewId, inputs: { topic: 'cut' } });
      const cuts = cutInEachTask(proxy);
      const events = await collect(troupe.runs.stream(run.id), cuts.onEvent);
      expect(cuts.count()).toBe(2);
      expectWholeLog(events);
      // 3 connections: the stream really reconnected twice.
      expect(proxy.accepted()).toBe(3);
      const stored = await client().runs.get(run.id);
      expect(events).toHaveLength(stored!.lastSeq);
      expect(runStateOf(events).output).toBe(stored?.output);
      expect(await collectText(events, { task: 'write' })).toBe(stored?.taskRuns[1]?.output);
      expect(await collectText(events, { task: 'research' })).toBe(stored?.taskRuns[0]?.output);
      await server.waitForSubscribers(0);
    } finally {
      await proxy.close();
    }
  });

  it('keeps a quiet WebSocket connection (pings answered), and reopens one that went silent', async () => {
    const proxy = await startTcpProxy(server.url);
    try {
      server.llm.enqueue({ hang: true });
      const run = await client().runs.start({ crewId, inputs: { topic: 'quiet' } });
      const troupe = client({ url: proxy.url, streamIdleTimeoutMs: 900 });
      const before = proxy.accepted();
      const seen: RunEvent[] = [];
      const done = collect(troupe.runs.stream(run.id), (e) => seen.push(e));
      await expect.poll(() => seen.length).toBe(2);
      await new Promise((r) => setTimeout(r, 2700)); // the run is stuck: nothing but pings, 3x the limit
      expect(proxy.accepted() - before).toBe(1);
      await client().runs.cancel(run.id);
      expect((await done).at(-1)?.type).toBe('RUN_CANCELLED');
    } finally {
      await proxy.close();
    }
  });

  it('reopens a connection that went silent (no events, no keep-alives)', async () => {
    const proxy = await startTcpProxy(server.url);
    try {
      for (const streamTransport of ['websocket', 'sse'] as const) {
        // Only the stream goes through the proxy.
        const troupe = client({ url: proxy.url, streamTransport, streamIdleTimeoutMs: 300 });
        const run = await client().runs.start({ crewId, inputs: { topic: `silent-${streamTransport}` } });
        const before = proxy.accepted();
        const events = await collect(troupe.runs.stream(run.id), (event) => {
          if (event.seq === 10) proxy.freeze();
        });
        expectWholeLog(events);
        // The frozen connection was given up and another opened (a busy machine may add one more
        // when a quiet spell outlasts the 300 ms limit: the log stays exact either way).
        expect(proxy.accepted() - before).toBeGreaterThanOrEqual(2);
        expect(runStateOf(events).output).toBe((await client().runs.get(run.id))?.output);
      }
    } finally {
      await proxy.close();
    }
  });

  it('unsubscribes when the loop breaks, and when the signal aborts', async () => {
    const troupe = client();
    server.llm.enqueue({ hang: true });
    const run = await troupe.runs.start({ crewId, inputs: { topic: 'break' } });
    for await (const event of troupe.runs.stream(run.id)) {
      if (event.type === 'TASK_STARTED') break;
    }
    await server.waitForSubscribers(0);

    const controller = new AbortController();
    const stream = troupe.runs.stream(run.id, { signal: controller.signal });
    const seen: RunEvent[] = [];
    const done = collect(stream, (e) => seen.push(e));
    await server.waitForSubscribers(1);
    await expect.poll(() => seen.length).toBe(2);
    controller.abort(new Error('user left'));
    await expect(done).rejects.toThrow('user left');
    await server.waitForSubscribers(0);
    expect(seen.map((e) => e.type)).toEqual(['RUN_STARTED', 'TASK_STARTED']);
    await troupe.runs.cancel(run.id);
  });
});

describe('reconnects', () => {
  it.each([
    ['websocket', 'connection_ack'],
    ['sse', 'text/event-stream'],
  ] as const)(
    'over %s: a connection accepted and dropped before any event is retried only within the budget',
    async (streamTransport, accepted) => {
      const proxy = await startTcpProxy(server.url);
      const controller = new AbortController();
      try {
        server.llm.enqueue({ hang: true });
        const run = await client().runs.start({ crewId, inputs: { topic: `dropped-${streamTransport}` } });
        let afterSeq = 0;
        for await (const event of client().runs.stream(run.id)) {
          afterSeq = event.seq;
          if (event.type === 'TASK_STARTED') break;
        }
        // From now on the proxy drops each connection 50 ms after the server accepted the stream;
        // the run is stuck: no event comes after afterSeq.
        proxy.cutAfter(accepted, 50);
        const troupe = client({
          url: proxy.url,
          streamTransport,
          reconnect: { ...fastReconnect, retries: 3 },
        });
        const outcome = await Promise.race([
          collect(troupe.runs.stream(run.id, { afterSeq, signal: controller.signal })).then(
            () => 'ended',
            (e: unknown) => e,
          ),
          new Promise((resolve) => setTimeout(() => resolve('still reconnecting'), 5000)),
        ]);
        expect(isTroupeError(outcome) && outcome.code).toBe('UNAVAILABLE');
        // The first connection and 3 reconnects.
        expect(proxy.accepted()).toBe(4);
        await client().runs.cancel(run.id);
      } finally {
        controller.abort();
        await proxy.close();
      }
    },
  );
});

/**
 * A browser's view of the network for the SDK: `navigator.onLine` and the window's `online` event
 * (Node has neither).
 */
function browserNetwork() {
  const window = new EventTarget();
  const navigator = { onLine: true };
  vi.stubGlobal('navigator', navigator);
  vi.stubGlobal('addEventListener', window.addEventListener.bind(window));
  vi.stubGlobal('removeEventListener', window.removeEventListener.bind(window));
  return {
    offline(proxy: TcpProxy) {
      navigator.onLine = false;
      window.dispatchEvent(new Event('offline'));
      proxy.down(true);
    },
    online(proxy: TcpProxy) {
      proxy.down(false);
      navigator.onLine = true;
      window.dispatchEvent(new Event('online'));
    },
  };
}

describe('a device that goes offline (browsers)', () => {
  it('keeps trying while offline without using up its retries, then resumes: no event lost or doubled', async () => {
    const network = browserNetwork();
    const proxy = await startTcpProxy(server.url);
    try {
      // The run may well end while the device is offline: the stream resumes from the stored log.
      const run = await client().runs.start({ crewId, inputs: { topic: 'offline' } });
      const troupe = client({ url: proxy.url, reconnect: { retries: 2, minDelayMs: 10, maxDelayMs: 50 } });
      let wentOffline = false;
      const events = await collect(troupe.runs.stream(run.id), (event) => {
        if (event.type !== 'TOKEN' || wentOffline) return;
        wentOffline = true;
        network.offline(proxy);
        setTimeout(() => network.online(proxy), 1000);
      });
      // A second of attempts (every 100 ms at most offline): more than the 2 a server outage gets.
      expect(proxy.refused()).toBeGreaterThan(3);
      expectWholeLog(events);
      const stored = await client().runs.get(run.id);
      expect(events).toHaveLength(stored!.lastSeq);
    } finally {
      await proxy.close();
    }
  });

  it('reconnects as soon as the device is back online, not after its backoff', async () => {
    const network = browserNetwork();
    const proxy = await startTcpProxy(server.url);
    const controller = new AbortController();
    try {
      server.llm.enqueue({ hang: true });
      const run = await client().runs.start({ crewId, inputs: { topic: 'back-online' } });
      // Offline, the next attempt would come after 20 s.
      const troupe = client({
        url: proxy.url,
        reconnect: { retries: 2, minDelayMs: 20_000, maxDelayMs: 20_000 },
      });
      const events: RunEvent[] = [];
      const done = collect(troupe.runs.stream(run.id, { signal: controller.signal }), (event) => {
        events.push(event);
        if (event.type === 'TASK_STARTED') network.offline(proxy);
      }).catch(() => undefined);
      await vi.waitFor(() => expect(proxy.connections()).toBe(0), { timeout: 5000 });
      await new Promise((resolve) => setTimeout(resolve, 300));
      const acceptedOffline = proxy.accepted();
      network.online(proxy);
      // The stream is back on a new connection long before 20 s; the cancel's event reaches it.
      await vi.waitFor(() => expect(proxy.accepted()).toBe(acceptedOffline + 1), { timeout: 5000 });
      await vi.waitFor(() => expect(proxy.connections()).toBe(1), { timeout: 5000 });
      await client().runs.cancel(run.id);
      await vi.waitFor(() => expect(events.at(-1)?.type).toBe('RUN_CANCELLED'), { timeout: 5000 });
      expect(events.map((e) => e.seq)).toEqual(events.map((_e, i) => i + 1));
      await done;
    } finally {
      controller.abort();
      await proxy.close();
    }
  });

  it('a first stream opened offline uses the WebSocket once back online (offline is no reason for SSE)', async () => {
    const network = browserNetwork();
    const proxy = await startTcpProxy(server.url);
    try {
      network.offline(proxy);
      const run = await client().runs.start({ crewId, inputs: { topic: 'opened-offline' } });
      const troupe = client({ url: proxy.url, reconnect: { retries: 2, minDelayMs: 10, maxDelayMs: 50 } });
      setTimeout(() => network.online(proxy), 500);
      const events = await collect(troupe.runs.stream(run.id));
      expect(proxy.refused()).toBeGreaterThan(2);
      expectWholeLog(events);
      expect(proxy.saw('connection_ack')).toBe(true);
      expect(proxy.saw('text/event-stream')).toBe(false);
    } finally {
      await proxy.close();
    }
  });
});

describe('runs.stream over SSE', () => {
  it('uses SSE without a WebSocket implementation (like Node 20)', async () => {
    vi.stubGlobal('WebSocket', undefined);
    const troupe = client({ webSocketImpl: undefined });
    const run = await troupe.runs.start({ crewId, inputs: { topic: 'sse' } });
    const events = await collect(troupe.runs.stream(run.id));
    expectWholeLog(events);
    expect(runStateOf(events).textByTask).toEqual({ research: RESEARCH_TEXT, write: WRITE_TEXT });
    await server.waitForSubscribers(0);
  });

  it('falls back to SSE when no WebSocket can be established', async () => {
    const opened: string[] = [];
    class RefusedWebSocket {
      readyState = 0;
      onopen = null;
      onmessage = null;
      onerror: (() => void) | null = null;
      onclose: ((event: { code: number; reason: string }) => void) | null = null;
      constructor(url: string) {
        opened.push(url);
        setTimeout(() => {
          this.onerror?.();
          this.onclose?.({ code: 1006, reason: '' });
        }, 1);
      }
      send() {}
      close() {}
    }
    const troupe = client({ webSocketImpl: RefusedWebSocket as unknown as WebSocketConstructor });
    const run = await troupe.runs.start({ crewId, inputs: { topic: 'fallback' } });
    const events = await collect(troupe.runs.stream(run.id));
    expectWholeLog(events);
    expect(opened).toEqual([`${server.url.replace('http', 'ws')}/graphql`]);
    // The client remembers: the next stream goes to SSE at once.
    await collect(troupe.runs.stream(run.id, { afterSeq: events.length - 1 }));
    expect(opened).toHaveLength(1);
  });

  it('survives its connection being cut twice mid-run', async () => {
    const proxy = await startTcpProxy(server.url);
    try {
      const troupe = client({ url: proxy.url, streamTransport: 'sse' });
      const run = await client().runs.start({ crewId, inputs: { topic: 'sse-cut' } });
      const cuts = cutInEachTask(proxy);
      const events = await collect(troupe.runs.stream(run.id), cuts.onEvent);
      expect(cuts.count()).toBe(2);
      expectWholeLog(events);
      expect(proxy.accepted()).toBe(3);
      const stored = await client().runs.get(run.id);
      expect(events).toHaveLength(stored!.lastSeq);
      expect(runStateOf(events).output).toBe(stored?.output);
      await server.waitForSubscribers(0);
    } finally {
      await proxy.close();
    }
  });
});

describe('stream access', () => {
  it.each(['websocket', 'sse'] as const)(
    'over %s: a session token that expires mid-stream is renewed through getToken, the stream goes on',
    async (streamTransport) => {
      const minted: string[] = [];
      const getToken = async () => {
        const { token } = await client().sessionTokens.create({ subject: 'renewal', ttlSeconds: 2 });
        minted.push(token);
        return token;
      };
      const troupe = client({ apiKey: undefined, getToken, streamTransport });
      const run = await client().runs.start({ crewId, inputs: { topic: `slow-renewal-${streamTransport}` } });
      const events = await collect(troupe.runs.stream(run.id));
      expectWholeLog(events);
      // The first token expired while the run streamed (the server ends such a stream): others followed.
      expect(minted.length).toBeGreaterThan(1);
      expect(await collectText(events, { task: 'write' })).toBe((await client().runs.get(run.id))?.output);
      await server.waitForSubscribers(0);
    },
    20_000,
  );

  it('a token that getToken cannot renew ends the stream with UNAUTHENTICATED', async () => {
    const { token } = await client().sessionTokens.create({ subject: 'fixed', ttlSeconds: 2 });
    const troupe = client({ apiKey: undefined, getToken: () => token, streamTransport: 'websocket' });
    const run = await client().runs.start({ crewId, inputs: { topic: 'slow-renewal-fixed' } });
    const error = await collect(troupe.runs.stream(run.id)).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isTroupeError(error) && error.code).toBe('UNAUTHENTICATED');
    await client().runs.cancel(run.id);
  }, 20_000);

  it.each(['websocket', 'sse'] as const)(
    'over %s: a getToken that fails while the network comes back is tried again, the stream goes on',
    async (streamTransport) => {
      const proxy = await startTcpProxy(server.url);
      try {
        let offline = false;
        let failed = 0;
        const getToken = () => {
          if (!offline) return apiKey;
          if (++failed === 2) offline = false;
          throw new TypeError('fetch failed');
        };
        // Only the stream goes through the proxy.
        const troupe = client({ url: proxy.url, apiKey: undefined, getToken, streamTransport });
        const run = await client().runs.start({ crewId, inputs: { topic: `token-blip-${streamTransport}` } });
        const events = await collect(troupe.runs.stream(run.id), (event) => {
          if (event.type === 'TOKEN' && !offline && failed === 0) {
            offline = true;
            proxy.cut();
          }
        });
        expectWholeLog(events);
        expect(failed).toBe(2);
        expect(proxy.accepted()).toBe(2);
      } finally {
        await proxy.close();
      }
    },
  );

  it('a getToken that keeps failing ends the stream UNAVAILABLE after the reconnects; a TroupeError from it at once', async () => {
    const run = await client().runs.start({ crewId, inputs: { topic: 'token-down' } });
    let calls = 0;
    const down = client({
      apiKey: undefined,
      reconnect: { ...fastReconnect, retries: 2 },
      getToken: () => {
        calls++;
        throw new TypeError('fetch failed');
      },
    });
    const error = await collect(down.runs.stream(run.id)).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isTroupeError(error) && error.code).toBe('UNAVAILABLE');
    expect((error as Error).cause).toBeInstanceOf(TypeError);
    expect(calls).toBe(3);

    let signedOutCalls = 0;
    const signedOut = client({
      apiKey: undefined,
      getToken: () => {
        signedOutCalls++;
        throw new TroupeError('signed out', { code: 'UNAUTHENTICATED' });
      },
    });
    const final = await collect(signedOut.runs.stream(run.id)).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isTroupeError(final) && final.code).toBe('UNAUTHENTICATED');
    expect(signedOutCalls).toBe(1);
    // The stream below reads the whole log: the run went on all along.
    expectWholeLog(await collect(client().runs.stream(run.id)));
  });

  async function streamError(troupe: TroupeClient, runId: string) {
    try {
      await collect(troupe.runs.stream(runId));
    } catch (error) {
      expect(isTroupeError(error)).toBe(true);
      return error as { code: string };
    }
    throw new Error('expected the stream to fail');
  }

  it.each(['websocket', 'sse'] as const)(
    'over %s: another tenant gets NOT_FOUND, a bad key UNAUTHENTICATED, the admin key FORBIDDEN',
    async (streamTransport) => {
      const run = await client().runs.start({ crewId, inputs: { topic: 'private' } });
      const otherKey = await server.createTenant(`other-${streamTransport}`);
      const token = await client({ apiKey: otherKey }).sessionTokens.create({ subject: 'u1' });
      expect(
        (
          await streamError(
            client({ apiKey: undefined, getToken: () => token.token, streamTransport }),
            run.id,
          )
        ).code,
      ).toBe('NOT_FOUND');
      expect((await streamError(client({ apiKey: otherKey, streamTransport }), run.id)).code).toBe(
        'NOT_FOUND',
      );
      expect((await streamError(client({ apiKey: 'trp_nope', streamTransport }), run.id)).code).toBe(
        'UNAUTHENTICATED',
      );
      if (streamTransport === 'websocket') {
        expect((await streamError(client({ apiKey: server.adminKey, streamTransport }), run.id)).code).toBe(
          'FORBIDDEN',
        );
      }
      await server.waitForSubscribers(0);
    },
  );
});
