import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { defineTool, runCrew } from '../src/index.js';
import {
  createOllamaTestServer,
  createOpenAICompatibleTestServer,
  type OllamaTestServer,
  type OpenAICompatibleTestServer,
} from './support/index.js';
import { collectEvents, eventsOfType, testAgent, waitFor } from './support/run-helpers.js';

let openai: OpenAICompatibleTestServer;
let ollama: OllamaTestServer;
beforeEach(async () => {
  openai = await createOpenAICompatibleTestServer();
  ollama = await createOllamaTestServer();
});
afterEach(async () => {
  await openai.close();
  await ollama.close();
});

describe('cancellation', () => {
  for (const provider of ['openai', 'ollama'] as const) {
    it(`aborting mid-stream (${provider}) ends with RUN_CANCELLED within 1 s, aborts the HTTP request, and no tokens follow`, async () => {
      const words = Array.from({ length: 200 }, (_, i) => ` w${i}`);
      const server = provider === 'openai' ? openai : ollama;
      server.enqueue({ text: words, chunkDelayMs: 20 });
      const controller = new AbortController();
      const run = runCrew({
        crew: {
          name: 'c',
          agents: [testAgent('a', { provider, name: 'm', baseUrl: server.url })],
          tasks: [{ name: 't', description: 'Talk', agent: 'a' }],
        },
        providers: { openai: { apiKey: 'k' } },
        signal: controller.signal,
      });
      const events = [];
      let abortedAt = 0;
      for await (const event of run) {
        events.push(event);
        if (event.type === 'TOKEN' && event.delta === ' w5') {
          abortedAt = Date.now();
          controller.abort();
        }
      }
      const endedAt = Date.now();
      expect(endedAt - abortedAt).toBeLessThan(1000);
      const last = events.at(-1)!;
      expect(last.type).toBe('RUN_CANCELLED');
      const tokens = eventsOfType(events, 'TOKEN');
      expect(tokens.length).toBeLessThan(10);
      expect(events.findIndex((event) => event.type === 'RUN_CANCELLED')).toBe(events.length - 1);
      await waitFor(() => server.chatRequests[0]?.aborted === true);
      expect(server.chatRequests[0]!.endedAt! - abortedAt).toBeLessThan(1000);
      expect((await run.result()).status).toBe('cancelled');
    });
  }

  it('aborts a running tool through its signal and a hanging request before the first byte', async () => {
    let toolSawAbort = false;
    const slow = defineTool({
      name: 'slow',
      description: 'takes forever',
      input: { type: 'object', properties: {} },
      handler: (_args, { signal }) =>
        new Promise((_, reject) => {
          signal.addEventListener('abort', () => {
            toolSawAbort = true;
            reject(new Error('aborted'));
          });
        }),
    });
    openai.enqueue({ toolCalls: [{ name: 'slow', arguments: '{}' }] });
    const controller = new AbortController();
    const run = runCrew({
      crew: {
        name: 'c',
        agents: [testAgent('a', { provider: 'openai', name: 'm', baseUrl: openai.url }, { tools: ['slow'] })],
        tasks: [{ name: 't', description: 'Do it', agent: 'a' }],
      },
      tools: [slow],
      providers: { openai: { apiKey: 'k' } },
      signal: controller.signal,
    });
    const events = [];
    for await (const event of run) {
      events.push(event);
      if (event.type === 'TOOL_CALL') setTimeout(() => controller.abort(), 50);
    }
    expect(toolSawAbort).toBe(true);
    expect(events.at(-1)!.type).toBe('RUN_CANCELLED');
    expect(eventsOfType(events, 'TOOL_RESULT')).toHaveLength(0);

    openai.enqueue({ hang: true });
    const second = new AbortController();
    const hanging = runCrew({
      crew: {
        name: 'c',
        agents: [testAgent('a', { provider: 'openai', name: 'm', baseUrl: openai.url })],
        tasks: [{ name: 't', description: 'Do it', agent: 'a' }],
      },
      providers: { openai: { apiKey: 'k' } },
      signal: second.signal,
    });
    setTimeout(() => second.abort(), 100);
    const started = Date.now();
    const hangingEvents = await collectEvents(hanging);
    expect(Date.now() - started).toBeLessThan(1000);
    expect(hangingEvents.at(-1)!.type).toBe('RUN_CANCELLED');
    await waitFor(() => openai.chatRequests[1]?.aborted === true);
  });

  it('cancels every in-flight request of a PARALLEL crew', async () => {
    openai.setFallback(() => ({ text: Array.from({ length: 100 }, (_, i) => ` x${i}`), chunkDelayMs: 20 }));
    const controller = new AbortController();
    const model = { provider: 'openai' as const, name: 'm', baseUrl: openai.url };
    const run = runCrew({
      crew: {
        name: 'p',
        process: 'PARALLEL',
        agents: [testAgent('a', model)],
        tasks: [
          { name: 'one', description: 'one', agent: 'a' },
          { name: 'two', description: 'two', agent: 'a' },
          { name: 'three', description: 'three', agent: 'a', dependsOn: ['one', 'two'] },
        ],
      },
      providers: { openai: { apiKey: 'k' } },
      signal: controller.signal,
    });
    const started = new Set<string>();
    let abortedAt = 0;
    const events = [];
    for await (const event of run) {
      events.push(event);
      if (event.type === 'TOKEN') started.add(event.taskName);
      if (started.size === 2 && abortedAt === 0) {
        abortedAt = Date.now();
        controller.abort();
      }
    }
    expect(Date.now() - abortedAt).toBeLessThan(1000);
    expect(events.at(-1)!.type).toBe('RUN_CANCELLED');
    await waitFor(() => openai.chatRequests.length === 2 && openai.chatRequests.every((r) => r.aborted));
    expect(
      eventsOfType(events, 'TASK_STARTED')
        .map((e) => e.taskName)
        .sort(),
    ).toEqual(['one', 'two']);
  });

  it('stopping iteration early cancels the work', async () => {
    openai.enqueue({ text: Array.from({ length: 100 }, (_, i) => ` t${i}`), chunkDelayMs: 20 });
    const run = runCrew({
      crew: {
        name: 'c',
        agents: [testAgent('a', { provider: 'openai', name: 'm', baseUrl: openai.url })],
        tasks: [{ name: 't', description: 'Talk', agent: 'a' }],
      },
      providers: { openai: { apiKey: 'k' } },
    });
    for await (const event of run) {
      if (event.type === 'TOKEN') break;
    }
    await waitFor(() => openai.chatRequests[0]?.aborted === true);
    expect((await run.result()).status).toBe('cancelled');
  });
});
