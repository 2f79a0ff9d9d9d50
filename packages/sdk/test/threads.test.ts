import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import {
  accumulateChat,
  type ChatState,
  createTroupeClient,
  initialChatState,
  isTroupeError,
  type ThreadEvent,
  type TroupeClient,
  type TroupeClientOptions,
  type WebSocketConstructor,
} from '../src/index';
import { startTcpProxy } from './support/tcp-proxy';
import { startTroupeTestServer, type TroupeTestServer, TWO_TASK_CREW } from './support/troupe-server';

let server: TroupeTestServer;
let apiKey: string;
let agentId: string;

const REPLY = Array.from({ length: 30 }, (_, i) => `word${i}`).join(' ');

function client(options: Partial<TroupeClientOptions> = {}): TroupeClient {
  return createTroupeClient({
    url: server.url,
    apiKey,
    webSocketImpl: WebSocket as unknown as WebSocketConstructor,
    reconnect: { minDelayMs: 10, maxDelayMs: 50 },
    ...options,
  });
}

/** Reads a thread's stream (which never ends by itself) until `done` says so. */
async function readUntil(
  stream: AsyncIterable<ThreadEvent>,
  done: (events: ThreadEvent[]) => boolean,
  onEach?: (event: ThreadEvent) => void,
): Promise<ThreadEvent[]> {
  const events: ThreadEvent[] = [];
  for await (const event of stream) {
    events.push(event);
    onEach?.(event);
    if (done(events)) break;
  }
  return events;
}
const replies = (n: number) => (events: ThreadEvent[]) =>
  events.filter((e) => e.type === 'RUN_SUCCEEDED').length >= n;

beforeAll(async () => {
  server = await startTroupeTestServer();
  server.llm.setFallback(() => ({ text: REPLY, chunkDelayMs: 5 }));
  apiKey = await server.createTenant('sdk-threads');
  const crew = await client().crews.create(TWO_TASK_CREW);
  agentId = crew.agents.find((a) => a.name === 'writer')!.id;
}, 60_000);
afterAll(async () => {
  await server?.close();
});

describe('threads resource', () => {
  it('creates, gets, lists, sends, pages messages and deletes', async () => {
    const troupe = client();
    const thread = await troupe.threads.create({ agentId, title: 'Otters' });
    expect(thread).toMatchObject({
      title: 'Otters',
      concurrency: 'REJECT',
      lastSeq: 0,
      agent: { id: agentId },
    });
    await expect(troupe.threads.get(thread.id)).resolves.toMatchObject({ id: thread.id });
    expect((await troupe.threads.list({ first: 5, agentId })).nodes.map((t) => t.id)).toContain(thread.id);

    const sent = await troupe.threads.send({ threadId: thread.id, content: 'Hi' });
    expect(sent.message).toMatchObject({ role: 'USER', content: 'Hi', run: { id: sent.run.id } });
    // A REJECT thread refuses a second message while the first is answered.
    const conflict = await troupe.threads
      .send({ threadId: thread.id, content: 'Again' })
      .catch((e: unknown) => e);
    expect(isTroupeError(conflict) && conflict.code).toBe('CONFLICT');

    await readUntil(troupe.threads.stream(thread.id), replies(1));
    const page = await troupe.threads.messages(thread.id, { last: 10 });
    expect(page.nodes.map((m) => [m.role, m.content])).toEqual([
      ['USER', 'Hi'],
      ['ASSISTANT', REPLY],
    ]);
    expect((await troupe.threads.messages(thread.id, { first: 1 })).pageInfo.hasNextPage).toBe(true);
    // "Load older messages": the newest one, then the page before it, by its startCursor.
    const newest = await troupe.threads.messages(thread.id, { last: 1 });
    expect(newest.nodes.map((m) => m.role)).toEqual(['ASSISTANT']);
    expect(newest.pageInfo.hasPreviousPage).toBe(true);
    const older = await troupe.threads.messages(thread.id, {
      last: 1,
      before: newest.pageInfo.startCursor ?? undefined,
    });
    expect(older.nodes.map((m) => m.content)).toEqual(['Hi']);
    expect(older.pageInfo.hasPreviousPage).toBe(false);

    await expect(troupe.threads.delete(thread.id)).resolves.toBe(thread.id);
    await expect(troupe.threads.get(thread.id)).resolves.toBeNull();
  });
});

describe('threads.stream', () => {
  it('streams messages and replies across runs into a chat state, and stays open', async () => {
    const troupe = client();
    const thread = await troupe.threads.create({ agentId, concurrency: 'ENQUEUE' });
    const one = await troupe.threads.send({ threadId: thread.id, content: 'One' });
    const two = await troupe.threads.send({ threadId: thread.id, content: 'Two' });
    let state: ChatState = initialChatState();
    const states: ChatState[] = [];
    const events = await readUntil(troupe.threads.stream(thread.id), replies(2), (event) => {
      state = accumulateChat(state, event);
      states.push(state);
    });
    expect(events.map((e) => e.seq)).toEqual(events.map((_e, i) => i + 1));
    expect(state.messages.map((m) => [m.role, m.content])).toEqual([
      ['USER', 'One'],
      ['USER', 'Two'],
      ['ASSISTANT', REPLY],
      ['ASSISTANT', REPLY],
    ]);
    expect(state).toMatchObject({ status: 'idle', streaming: null, activeRunId: null });
    // The reply was visible while it was written.
    const partial = states.filter((s) => s.streaming && s.streaming.text.length > 0);
    expect(partial.length).toBeGreaterThan(0);
    for (const s of partial) expect(REPLY.startsWith(s.streaming!.text)).toBe(true);
    // While One's reply is written, Two waits its turn: One stays the active run (what stop() cancels).
    for (const s of states.filter((x) => x.streaming?.runId === one.run.id))
      expect(s.activeRunId).toBe(one.run.id);
    const twoWaits = events.findIndex((e) => e.type === 'MESSAGE_CREATED' && e.runId === two.run.id);
    expect(states[twoWaits]).toMatchObject({ activeRunId: one.run.id, queuedRunIds: [two.run.id] });
    // One's end hands over to Two at once: the chat stays running.
    const oneEnds = events.findIndex((e) => e.type === 'RUN_SUCCEEDED' && e.runId === one.run.id);
    expect(states[oneEnds]).toMatchObject({ status: 'running', activeRunId: two.run.id, queuedRunIds: [] });
    await server.waitForSubscribers(0);

    // Still open: a later message arrives on the same stream.
    const stream = troupe.threads.stream(thread.id, { afterSeq: state.lastSeq });
    const later = readUntil(stream, replies(1));
    await server.waitForSubscribers(1);
    await troupe.threads.send({ threadId: thread.id, content: 'Three' });
    expect((await later)[0]).toMatchObject({ type: 'MESSAGE_CREATED', seq: state.lastSeq + 1 });
    await server.waitForSubscribers(0);
  });

  it('survives its connection being cut twice mid-reply, over WebSocket and SSE', async () => {
    for (const streamTransport of ['websocket', 'sse'] as const) {
      const proxy = await startTcpProxy(server.url);
      try {
        const troupe = client({ url: proxy.url, streamTransport });
        const thread = await troupe.threads.create({ agentId });
        await troupe.threads.send({ threadId: thread.id, content: 'Cut me' });
        // Cut at the reply's first token, and again when the reply becomes a message.
        let cuts = 0;
        const events = await readUntil(troupe.threads.stream(thread.id), replies(1), (event) => {
          const firstToken = event.type === 'TOKEN' && cuts === 0;
          const reply = event.type === 'MESSAGE_CREATED' && event.data.message.role === 'ASSISTANT';
          if (firstToken || reply) {
            cuts++;
            proxy.cut();
          }
        });
        expect(cuts).toBe(2);
        expect(events.map((e) => e.seq)).toEqual(events.map((_e, i) => i + 1));
        const text = events
          .filter((e) => e.type === 'TOKEN')
          .map((e) => e.delta)
          .join('');
        expect(text).toBe(REPLY);
        const stored = await troupe.threads.messages(thread.id);
        expect(stored.nodes.at(-1)?.content).toBe(text);
        await server.waitForSubscribers(0);
      } finally {
        await proxy.close();
      }
    }
  });

  it('a session token limited to other threads cannot stream this one', async () => {
    const troupe = client();
    const mine = await troupe.threads.create({ agentId, title: 'mine' });
    const theirs = await troupe.threads.create({ agentId, title: 'theirs' });
    const { token } = await troupe.sessionTokens.create({ subject: 'u1', threadIds: [theirs.id] });
    await troupe.threads.send({ threadId: theirs.id, content: 'hello' });
    for (const streamTransport of ['websocket', 'sse'] as const) {
      const user = client({ apiKey: undefined, getToken: () => token, streamTransport });
      const error = await readUntil(user.threads.stream(mine.id), () => true).catch((e: unknown) => e);
      expect(isTroupeError(error)).toBe(true);
      expect(['NOT_FOUND', 'FORBIDDEN']).toContain((error as { code: string }).code);
      // The thread it is scoped to streams (and the loop's break unsubscribes).
      const events = await readUntil(user.threads.stream(theirs.id), (evs) => evs.length > 0);
      expect(events[0]?.type).toBe('MESSAGE_CREATED');
    }
    await server.waitForSubscribers(0);
  });
});
