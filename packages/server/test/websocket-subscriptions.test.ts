import { request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { createOpenAICompatibleTestServer, type OpenAICompatibleTestServer } from '@troupe/agents/testing';
import { type Client, createClient } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import WebSocket from 'ws';
import { startTestServer, type TestServer } from './support/backend.js';
import { CREATE_CREW, createTenant, gqlOk, SAMPLE_CREW } from './support/graphql-client.js';

let llm: OpenAICompatibleTestServer;
let server: TestServer;
let key: string;
let otherKey: string;
let crewId: string;

const EVENTS =
  'subscription($runId: ID!, $afterSeq: Int) { runEvents(runId: $runId, afterSeq: $afterSeq) { seq type delta } }';
const CREW = {
  ...SAMPLE_CREW,
  agents: SAMPLE_CREW.agents.map((a) => ({ ...a, model: { provider: 'OPENAI', name: 'm' } })),
};

beforeAll(async () => {
  llm = await createOpenAICompatibleTestServer();
  llm.setFallback(() => ({ text: 'alpha beta gamma delta', chunkDelayMs: 5 }));
  server = await startTestServer({ providers: { openai: { baseUrl: llm.url, apiKey: 'test' } } });
  ({ key } = await createTenant(server.url, server.admin, 'ws'));
  ({ key: otherKey } = await createTenant(server.url, server.admin, 'other'));
  crewId = (await gqlOk(server.url, CREATE_CREW, { input: CREW }, key)).createCrew.crew.id;
});
afterAll(async () => {
  await server?.closeAll();
  await llm?.close();
});

function client(connectionParams: Record<string, unknown> | undefined): {
  c: Client;
  closed: Promise<{ code: number; reason: string }>;
} {
  let resolveClosed!: (v: { code: number; reason: string }) => void;
  const closed = new Promise<{ code: number; reason: string }>((r) => {
    resolveClosed = r;
  });
  const c = createClient({
    url: `${server.url.replace('http', 'ws')}/graphql`,
    webSocketImpl: WebSocket,
    connectionParams,
    lazy: false,
    retryAttempts: 0,
    onNonLazyError: () => {},
    on: {
      closed: (e) =>
        resolveClosed({ code: (e as CloseEvent).code, reason: String((e as CloseEvent).reason) }),
    },
  });
  return { c, closed };
}

function collect(c: Client, query: string, variables: Record<string, unknown>) {
  return new Promise<{ events: any[]; error?: unknown }>((resolve) => {
    const events: any[] = [];
    c.subscribe(
      { query, variables },
      {
        next: (v) => (v.errors ? resolve({ events, error: v.errors }) : events.push(v.data!.runEvents)),
        error: (error) => resolve({ events, error }),
        complete: () => resolve({ events }),
      },
    );
  });
}

async function startRun(topic: string): Promise<string> {
  const d = await gqlOk(
    server.url,
    'mutation($input: StartRunInput!) { startRun(input: $input) { run { id } } }',
    { input: { crewId, inputs: { topic } } },
    key,
  );
  return d.startRun.run.id;
}

describe('GraphQL over WebSocket (graphql-ws)', () => {
  test('missing or bad credentials close the connection with 4401; the admin key with 4403', async () => {
    for (const params of [
      undefined,
      { authorization: 'Bearer trp_nope' },
      { authorization: 'Bearer x.y.z' },
    ]) {
      const { c, closed } = client(params);
      const e = await closed;
      expect(e.code).toBe(4401);
      expect(e.reason).toMatch(/^Unauthorized: /);
      await c.dispose();
    }
    const { c, closed } = client({ authorization: `Bearer ${server.admin}` });
    expect((await closed).code).toBe(4403);
    await c.dispose();
  });

  test('a message larger than the request limit is refused before it is read whole: closed with 1009', async () => {
    // ws's own limit is 100 MiB, read and parsed before connection_init is authenticated.
    const ws = new WebSocket(`${server.url.replace('http', 'ws')}/graphql`, 'graphql-transport-ws');
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
    ws.send(JSON.stringify({ type: 'connection_init', payload: { pad: 'x'.repeat(2_000_000) } }));
    expect(await closed).toBe(1009);
  });

  test('a run streams over WebSocket in order, resumes from a sequence number, and completes', async () => {
    const runId = await startRun('ws');
    const { c } = client({ authorization: `Bearer ${key}` });
    try {
      const all = await collect(c, EVENTS, { runId, afterSeq: 0 });
      expect(all.error).toBeUndefined();
      expect(all.events.map((e) => e.seq)).toEqual(all.events.map((_e, i) => i + 1));
      expect(all.events.at(-1).type).toBe('RUN_SUCCEEDED');
      const rest = await collect(c, EVENTS, { runId, afterSeq: 5 });
      expect(rest.events.map((e) => e.seq)).toEqual(all.events.slice(5).map((e) => e.seq));
    } finally {
      await c.dispose();
    }
  });

  test('another tenant’s key cannot watch the run, and closed sockets leave no subscription behind', async () => {
    const runId = await startRun('private');
    const { c } = client({ authorization: `Bearer ${otherKey}` });
    try {
      const r = await collect(c, EVENTS, { runId });
      expect(JSON.stringify(r.error)).toMatch(/NOT_FOUND/);
      expect(r.events).toEqual([]);
    } finally {
      await c.dispose();
    }
    await server.executor.idle();
    for (
      let i = 0;
      i < 50 && (server.bus.subscriberCount() > 0 || server.websockets.connections() > 0);
      i++
    ) {
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(server.bus.subscriberCount()).toBe(0);
    expect(server.websockets.connections()).toBe(0);
  });

  test('a client that stops reading holds back neither the run nor other subscribers, is owed a bounded backlog, and gets every event once, in order, when it reads again', async () => {
    const { runId, chunks } = await startBulkRun('bulk');
    const slow = await rawSubscriber({ runId, afterSeq: 0 });
    const gone = await rawSubscriber({ runId, afterSeq: 0 }); // stops reading, then leaves
    const { c } = client({ authorization: `Bearer ${key}` });
    let maxBuffered = 0;
    const sampler = setInterval(() => {
      maxBuffered = Math.max(maxBuffered, server.websockets.bufferedBytes());
    }, 5);
    try {
      await Promise.all([slow.first, gone.first]);
      slow.ws.pause(); // reads nothing more: the kernel's buffers fill, then the server's
      gone.ws.pause();
      const fast = await collect(c, EVENTS, { runId, afterSeq: 0 });
      expect(fast.error).toBeUndefined();
      expect(fast.events.at(-1).type).toBe('RUN_SUCCEEDED');
      expect(tokenText(fast.events)).toBe(chunks.join(''));
      // The stalled clients were owed bytes their sockets would not take (so this test does stall
      // them), and the server kept only a bounded backlog for each: under 64 KB, then the message
      // that went over, then the one waiting for it (and the other client's, being written).
      expect(slow.done).toBeFalsy();
      expect(maxBuffered).toBeGreaterThan(0);
      const largest = Math.max(...fast.events.map((e) => (e.delta?.length ?? 0) + 1024));
      expect(maxBuffered).toBeLessThan(2 * (64 * 1024 + 2 * largest) + largest);
      // One stalled client leaves: what was owed to it goes with it.
      gone.ws.terminate();
      slow.ws.resume();
      await slow.completed;
      expect(slow.error).toBeUndefined();
      expect(slow.events.map((e) => e.seq)).toEqual(fast.events.map((e) => e.seq));
      expect(tokenText(slow.events)).toBe(chunks.join(''));
      slow.ws.close();
      await c.dispose();
      await waitFor(() => server.bus.subscriberCount() === 0 && server.websockets.connections() === 0);
      expect(server.websockets.bufferedBytes()).toBe(0);
    } finally {
      clearInterval(sampler);
      await c.dispose();
      slow.ws.terminate();
      gone.ws.terminate();
    }
  });
});

/**
 * A run that streams 6 MB of tokens: more than the kernel buffers between the server and a client
 * that stops reading. Paced, so that the server's token batches (one per 50 ms) stay well under a
 * megabyte each.
 */
async function startBulkRun(name: string): Promise<{ runId: string; chunks: string[] }> {
  const crew = {
    ...CREW,
    name,
    agents: [CREW.agents[0]!],
    tasks: [{ ...CREW.tasks[0]!, dependsOn: undefined }],
  };
  const bulkCrewId = (await gqlOk(server.url, CREATE_CREW, { input: crew }, key)).createCrew.crew.id;
  const chunks = Array.from(
    { length: 384 },
    (_, i) => `${String(i).padStart(4, '0')}${'x'.repeat(16 * 1024 - 5)} `,
  );
  llm.enqueue({ text: chunks, firstChunkDelayMs: 300, chunkDelayMs: 4 });
  const d = await gqlOk(
    server.url,
    'mutation($input: StartRunInput!) { startRun(input: $input) { run { id } } }',
    { input: { crewId: bulkCrewId, inputs: { topic: name } } },
    key,
  );
  return { runId: d.startRun.run.id, chunks };
}

const tokenText = (events: any[]) =>
  events
    .filter((e) => e.type === 'TOKEN')
    .map((e) => e.delta)
    .join('');

async function waitFor(condition: () => boolean, ms = 5000) {
  const until = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > until) throw new Error(`not within ${ms} ms: ${condition}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A graphql-ws subscriber by hand, on a socket the test can stop reading from. */
async function rawSubscriber(variables: Record<string, unknown>) {
  const ws = new WebSocket(`${server.url.replace('http', 'ws')}/graphql`, 'graphql-transport-ws');
  const state = {
    ws,
    events: [] as any[],
    error: undefined as unknown,
    done: false,
    first: undefined as unknown as Promise<void>,
    completed: undefined as unknown as Promise<void>,
  };
  let first!: () => void;
  let completed!: () => void;
  state.first = new Promise<void>((r) => (first = r));
  state.completed = new Promise<void>((r) => (completed = r));
  ws.on('message', (data) => {
    const m = JSON.parse(String(data));
    if (m.type === 'connection_ack')
      ws.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: EVENTS, variables } }));
    else if (m.type === 'next') {
      if (m.payload.errors) state.error = m.payload.errors;
      else state.events.push(m.payload.data.runEvents);
      first();
    } else if (m.type === 'error' || m.type === 'complete') {
      if (m.type === 'error') state.error = m.payload;
      state.done = true;
      first();
      completed();
    }
  });
  ws.on('close', () => {
    state.done = true;
    first();
    completed();
  });
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  ws.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${key}` } }));
  return state;
}

test('an SSE client that stops reading holds back neither the run nor other subscribers, is owed a bounded backlog, and gets every event once, in order, when it reads again', async () => {
  const { sseSubscribe } = await import('./support/sse-client.js');
  const { runId, chunks } = await startBulkRun('bulk-sse');
  // What the server has written to the stalled client's response and the kernel has not taken.
  const responses: ServerResponse[] = [];
  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    if (req.headers.accept?.includes('text/event-stream')) responses.push(res);
  };
  server.http.on('request', onRequest);
  const slow = rawSseSubscriber({ runId, afterSeq: 0 });
  let maxBuffered = 0;
  const sampler = setInterval(() => {
    for (const res of responses) maxBuffered = Math.max(maxBuffered, res.writableLength);
  }, 5);
  try {
    await slow.first;
    slow.pause(); // reads nothing more: the kernel's buffers fill, then the server's
    const fast: any[] = [];
    for await (const r of sseSubscribe(server.url, EVENTS, { runId, afterSeq: 0 }, key)) {
      expect(r.errors).toBeUndefined();
      fast.push(r.data.runEvents);
    }
    expect(fast.at(-1).type).toBe('RUN_SUCCEEDED');
    expect(tokenText(fast)).toBe(chunks.join(''));
    // The stalled client was owed bytes its socket would not take (so this test does stall it),
    // and the server held at most its stream's high-water mark and the event being written.
    expect(slow.done).toBe(false);
    expect(maxBuffered).toBeGreaterThan(0);
    const largest = Math.max(...fast.map((e) => (e.delta?.length ?? 0) + 1024));
    expect(maxBuffered).toBeLessThan(64 * 1024 + 2 * largest);
    slow.resume();
    await slow.completed;
    expect(slow.error).toBeUndefined();
    expect(slow.events.map((e) => e.seq)).toEqual(fast.map((e) => e.seq));
    expect(tokenText(slow.events)).toBe(chunks.join(''));
    await waitFor(() => server.bus.subscriberCount() === 0);
  } finally {
    clearInterval(sampler);
    server.http.off('request', onRequest);
    slow.destroy();
  }
});

test('subscribers of one run with different selections each get exactly their own fields, live and replayed alike', async () => {
  const runId = await startRun('fan-out shapes');
  const a = client({ authorization: `Bearer ${key}` });
  const b = client({ authorization: `Bearer ${key}` });
  try {
    const shapes = {
      typesOnly: 'subscription($runId: ID!) { runEvents(runId: $runId) { seq type } }',
      withText: 'subscription($runId: ID!) { runEvents(runId: $runId) { seq delta taskRunId } }',
      aliased: 'subscription($runId: ID!) { runEvents(runId: $runId) { n: seq kind: type } }',
    };
    const [typesOnly, withText, aliased, again] = await Promise.all([
      collect(a.c, shapes.typesOnly, { runId }),
      collect(b.c, shapes.withText, { runId }),
      collect(a.c, shapes.aliased, { runId }),
      collect(b.c, shapes.typesOnly, { runId }),
    ]);
    for (const r of [typesOnly, withText, aliased, again]) expect(r.error).toBeUndefined();
    expect(typesOnly.events.length).toBeGreaterThan(3);
    expect(Object.keys(typesOnly.events[0]).sort()).toEqual(['seq', 'type']);
    expect(Object.keys(withText.events[0]).sort()).toEqual(['delta', 'seq', 'taskRunId']);
    expect(Object.keys(aliased.events[0]).sort()).toEqual(['kind', 'n']);
    // Every subscriber saw the whole log, 1..n, in order.
    const n = typesOnly.events.length;
    for (const seqs of [
      typesOnly.events.map((e) => e.seq),
      withText.events.map((e) => e.seq),
      aliased.events.map((e) => e.n),
      again.events.map((e) => e.seq),
    ])
      expect(seqs).toEqual(Array.from({ length: n }, (_, i) => i + 1));
    expect(again.events).toEqual(typesOnly.events);
    expect(aliased.events.map((e) => e.kind)).toEqual(typesOnly.events.map((e) => e.type));
    expect(withText.events.map((e) => e.delta ?? '').join('')).toContain('alpha beta gamma delta');
  } finally {
    await a.c.dispose();
    await b.c.dispose();
  }
});

test('subscribers of one document whose variables pick different fields (@include) each get their own', async () => {
  const runId = await startRun('directive shapes');
  const a = client({ authorization: `Bearer ${key}` });
  const b = client({ authorization: `Bearer ${key}` });
  try {
    const doc =
      'subscription($runId: ID!, $text: Boolean!) { runEvents(runId: $runId) { seq type delta @include(if: $text) } }';
    const [withText, without] = await Promise.all([
      collect(a.c, doc, { runId, text: true }),
      collect(b.c, doc, { runId, text: false }),
    ]);
    for (const r of [withText, without]) expect(r.error).toBeUndefined();
    expect(withText.events.length).toBeGreaterThan(3);
    expect(without.events.map((e) => e.seq)).toEqual(withText.events.map((e) => e.seq));
    for (const e of withText.events) expect(Object.keys(e).sort()).toEqual(['delta', 'seq', 'type']);
    for (const e of without.events) expect(Object.keys(e).sort()).toEqual(['seq', 'type']);
    expect(withText.events.map((e) => e.delta ?? '').join('')).toContain('alpha beta gamma delta');
  } finally {
    await a.c.dispose();
    await b.c.dispose();
  }
});

test('clients that leave while their subscription is being set up leave no bus subscription (SSE and WebSocket)', async () => {
  // The stream subscribes to the bus and reads its first page before the subscription starts; a
  // client gone by then must still end that bus subscription.
  const { sseSubscribe } = await import('./support/sse-client.js');
  const runId = await startRun('leavers');
  const { c } = client({ authorization: `Bearer ${key}` });
  try {
    for (let delay = 0; delay < 30; delay++) {
      const ac = new AbortController();
      const first = sseSubscribe(server.url, EVENTS, { runId }, key, ac.signal)
        .next()
        .catch(() => undefined);
      const unsubscribe = c.subscribe(
        { query: EVENTS, variables: { runId } },
        { next() {}, error() {}, complete() {} },
      );
      await new Promise((r) => setTimeout(r, delay));
      ac.abort();
      unsubscribe();
      await first;
    }
  } finally {
    await c.dispose();
  }
  await server.executor.idle();
  for (let i = 0; i < 100 && server.bus.subscriberCount() > 0; i++)
    await new Promise((r) => setTimeout(r, 20));
  expect(server.bus.subscriberCount()).toBe(0);
});

/** A GraphQL-over-SSE subscriber on a raw HTTP response the test can stop reading from. */
function rawSseSubscriber(variables: Record<string, unknown>) {
  const state = {
    events: [] as any[],
    error: undefined as unknown,
    done: false,
    first: undefined as unknown as Promise<void>,
    completed: undefined as unknown as Promise<void>,
    pause: () => {},
    resume: () => {},
    destroy: () => {},
  };
  let first!: () => void;
  let completed!: () => void;
  state.first = new Promise<void>((r) => (first = r));
  state.completed = new Promise<void>((r) => (completed = r));
  const finish = (error?: unknown) => {
    if (error !== undefined) state.error ??= error;
    state.done = true;
    first();
    completed();
  };
  const req = httpRequest(`${server.url}/graphql`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'text/event-stream',
      authorization: `Bearer ${key}`,
    },
  });
  req.on('error', finish);
  req.on('response', (res) => {
    if (res.statusCode !== 200) return finish(new Error(`HTTP ${res.statusCode}`));
    state.pause = () => res.pause();
    state.resume = () => res.resume();
    res.setEncoding('utf8');
    let buf = '';
    res.on('data', (chunk: string) => {
      buf += chunk;
      for (let i = buf.indexOf('\n\n'); i >= 0; i = buf.indexOf('\n\n')) {
        const frame = buf.slice(0, i);
        buf = buf.slice(i + 2);
        const event = /^event: (.*)$/m.exec(frame)?.[1];
        const data = /^data: (.*)$/m.exec(frame)?.[1];
        if (event === 'next' && data) {
          const payload = JSON.parse(data);
          if (payload.errors) state.error = payload.errors;
          else state.events.push(payload.data.runEvents);
          first();
        } else if (event === 'complete') finish();
      }
    });
    res.on('end', () => finish());
    res.on('error', finish);
  });
  state.destroy = () => req.destroy();
  req.end(JSON.stringify({ query: EVENTS, variables }));
  return state;
}
