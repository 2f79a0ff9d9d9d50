import { HumanMessage } from '@langchain/core/messages';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createOpenAIProvider, defineTool, runCrew } from '../src/index.js';
import { createOpenAICompatibleTestServer, type OpenAICompatibleTestServer } from './support/index.js';
import { collectEvents, eventsOfType, FAST_RETRY, testAgent, waitFor } from './support/run-helpers.js';

let server: OpenAICompatibleTestServer;
beforeEach(async () => {
  server = await createOpenAICompatibleTestServer();
});
afterEach(async () => {
  await server.close();
});

const weather = defineTool({
  name: 'get_weather',
  description: 'Current weather for a city',
  input: z.object({ city: z.string() }),
  handler: async ({ city }) => ({ city, temperatureC: city === 'Paris' ? 18 : 25 }),
});

function crewWith(tools: string[] = []) {
  return {
    name: 'c',
    agents: [
      testAgent('writer', { provider: 'openai' as const, name: 'gpt-test', baseUrl: server.url }, { tools }),
    ],
    tasks: [{ name: 'write', description: 'Write about {{topic}}', agent: 'writer' }],
  };
}

describe('OpenAI provider over real HTTP', () => {
  it('streams text as TOKEN events in order and reports the provider usage', async () => {
    server.enqueue({
      text: ['Hello', ' wide', ' world', '!'],
      usage: { promptTokens: 42, completionTokens: 4 },
    });
    const events = await collectEvents(
      runCrew({ crew: crewWith(), inputs: { topic: 'greetings' }, providers: { openai: { apiKey: 'k' } } }),
    );
    expect(eventsOfType(events, 'TOKEN').map((event) => event.delta)).toEqual([
      'Hello',
      ' wide',
      ' world',
      '!',
    ]);
    expect(events.map((event) => event.seq)).toEqual(events.map((_, index) => index + 1));
    const completed = eventsOfType(events, 'TASK_COMPLETED')[0]!;
    expect(completed.output).toBe('Hello wide world!');
    const usage = eventsOfType(events, 'USAGE');
    expect(usage).toHaveLength(1);
    expect(usage[0]).toMatchObject({
      provider: 'openai',
      model: 'gpt-test',
      promptTokens: 42,
      completionTokens: 4,
      estimated: false,
    });
    const body = server.chatRequests[0]!.body as {
      stream: boolean;
      stream_options: unknown;
      messages: Array<{ content: string }>;
    };
    expect(body.stream).toBe(true);
    expect(body.stream_options).toEqual({ include_usage: true });
    expect(body.messages[1]!.content).toContain('Write about greetings');
    expect(events.at(-1)).toMatchObject({ type: 'RUN_SUCCEEDED', output: 'Hello wide world!' });
  });

  it('reassembles tool-call arguments split mid-JSON and runs two tool calls from one turn', async () => {
    server.enqueue(
      {
        toolCalls: [
          { name: 'get_weather', arguments: ['{"ci', 'ty": "Pa', 'ris"', '}'] },
          { name: 'get_weather', arguments: ['{', '"city":', ' "Lis', 'bon"}'] },
        ],
      },
      { text: 'Paris 18C, Lisbon 25C' },
    );
    const events = await collectEvents(
      runCrew({
        crew: crewWith(['get_weather']),
        inputs: { topic: 'weather' },
        tools: [weather],
        providers: { openai: { apiKey: 'k' } },
      }),
    );
    const calls = eventsOfType(events, 'TOOL_CALL');
    expect(calls.map((call) => call.args)).toEqual([{ city: 'Paris' }, { city: 'Lisbon' }]);
    const results = eventsOfType(events, 'TOOL_RESULT');
    expect(results.map((result) => JSON.parse(result.result))).toEqual([
      { city: 'Paris', temperatureC: 18 },
      { city: 'Lisbon', temperatureC: 25 },
    ]);
    // The second request carries the assistant tool calls and both tool results.
    const second = server.chatRequests[1]!.body as {
      messages: Array<Record<string, unknown>>;
      tools: unknown[];
    };
    const assistant = second.messages.find((message) => message.role === 'assistant') as {
      tool_calls: Array<{ id: string; function: { name: string; arguments: string } }>;
    };
    expect(assistant.tool_calls.map((call) => JSON.parse(call.function.arguments))).toEqual([
      { city: 'Paris' },
      { city: 'Lisbon' },
    ]);
    const toolMessages = second.messages.filter((message) => message.role === 'tool');
    expect(toolMessages.map((message) => message.tool_call_id)).toEqual(
      assistant.tool_calls.map((call) => call.id),
    );
    expect(second.tools).toHaveLength(1);
    expect(events.at(-1)).toMatchObject({ type: 'RUN_SUCCEEDED', output: 'Paris 18C, Lisbon 25C' });
  });

  it('handles compatible servers that omit the tool-call index', async () => {
    server.enqueue(
      {
        omitToolCallIndex: true,
        toolCalls: [
          { id: 'a1', name: 'get_weather', arguments: ['{"city"', ': "Paris"}'] },
          { id: 'b2', name: 'get_weather', arguments: ['{"city": ', '"Lisbon"}'] },
        ],
      },
      { text: 'ok' },
    );
    const events = await collectEvents(
      runCrew({
        crew: crewWith(['get_weather']),
        inputs: { topic: 'weather' },
        tools: [weather],
        providers: { openai: { apiKey: 'k' } },
      }),
    );
    expect(eventsOfType(events, 'TOOL_CALL').map((call) => [call.toolCallId, call.args])).toEqual([
      ['a1', { city: 'Paris' }],
      ['b2', { city: 'Lisbon' }],
    ]);
  });

  it('exposes the provider as a plain async iterable of chunks too', async () => {
    server.enqueue({
      text: ['Hi', ' there'],
      toolCalls: [{ name: 'get_weather', arguments: ['{"city":', '"Oslo"}'] }],
      usage: { promptTokens: 7, completionTokens: 3 },
    });
    const provider = createOpenAIProvider({ apiKey: 'k', baseUrl: server.url });
    const chunks = [];
    for await (const chunk of provider.stream({
      model: 'm',
      messages: [new HumanMessage('hello')],
      signal: new AbortController().signal,
    })) {
      chunks.push(chunk);
    }
    expect(chunks).toEqual([
      { type: 'text', text: 'Hi' },
      { type: 'text', text: ' there' },
      { type: 'usage', promptTokens: 7, completionTokens: 3 },
      { type: 'tool_call', id: 'call_0_0', name: 'get_weather', arguments: '{"city":"Oslo"}' },
    ]);
  });

  it('feeds tool errors back to the model instead of failing the run', async () => {
    const broken = defineTool({
      name: 'broken',
      description: 'always fails',
      input: { type: 'object', properties: {} },
      handler: async () => {
        throw new Error('database is down');
      },
    });
    server.enqueue(
      {
        toolCalls: [
          { name: 'broken', arguments: '{}' },
          { name: 'get_weather', arguments: '{"town": 1}' },
        ],
      },
      { text: 'Sorry, the tools failed.' },
    );
    const events = await collectEvents(
      runCrew({
        crew: crewWith(['broken', 'get_weather']),
        inputs: { topic: 'x' },
        tools: [broken, weather],
        providers: { openai: { apiKey: 'k' } },
      }),
    );
    const results = eventsOfType(events, 'TOOL_RESULT');
    expect(results.map((result) => result.isError)).toEqual([true, true]);
    // Tools of one turn run concurrently; results arrive as they finish.
    const byTool = Object.fromEntries(results.map((result) => [result.toolName, result.result]));
    expect(byTool.broken).toContain('database is down');
    expect(byTool.get_weather).toContain('Invalid arguments for tool "get_weather"');
    const toolMessages = (
      server.chatRequests[1]!.body as { messages: Array<{ role: string; content: string }> }
    ).messages
      .filter((message) => message.role === 'tool')
      .map((message) => message.content);
    expect(toolMessages.join('\n')).toContain('database is down');
    expect(events.at(-1)!.type).toBe('RUN_SUCCEEDED');
  });

  it('retries a 429 after the Retry-After delay, then succeeds', async () => {
    server.enqueue(
      { error: { status: 429, message: 'slow down', headers: { 'retry-after': '0.3' } } },
      { text: 'ok' },
    );
    const events = await collectEvents(
      runCrew({
        crew: crewWith(),
        inputs: { topic: 'x' },
        providers: { openai: { apiKey: 'k' } },
        retry: { ...FAST_RETRY, baseDelayMs: 1 },
      }),
    );
    expect(server.chatRequests).toHaveLength(2);
    const gap = server.chatRequests[1]!.receivedAt - server.chatRequests[0]!.receivedAt;
    expect(gap).toBeGreaterThanOrEqual(280);
    expect(events.at(-1)).toMatchObject({ type: 'RUN_SUCCEEDED', output: 'ok' });
  });

  it('gives up on repeated 500s after maxRetries and fails the run with PROVIDER_ERROR', async () => {
    server.setFallback(() => ({ error: { status: 500, message: 'boom' } }));
    const events = await collectEvents(
      runCrew({
        crew: crewWith(),
        inputs: { topic: 'x' },
        providers: { openai: { apiKey: 'k' } },
        retry: FAST_RETRY,
      }),
    );
    expect(server.chatRequests).toHaveLength(1 + FAST_RETRY.maxRetries);
    const failed = events.at(-1)!;
    expect(failed).toMatchObject({
      type: 'RUN_FAILED',
      error: { code: 'PROVIDER_ERROR', details: { status: 500 } },
    });
  });

  it('times out a call that sends nothing, retries it, and reports TIMEOUT', async () => {
    server.setFallback(() => ({ hang: true }));
    const started = Date.now();
    const events = await collectEvents(
      runCrew({
        crew: crewWith(),
        inputs: { topic: 'x' },
        providers: { openai: { apiKey: 'k' } },
        retry: { ...FAST_RETRY, maxRetries: 1, timeoutMs: 150 },
      }),
    );
    expect(Date.now() - started).toBeLessThan(1500);
    expect(server.chatRequests).toHaveLength(2);
    await waitFor(() => server.chatRequests.every((request) => request.aborted));
    expect(events.at(-1)).toMatchObject({
      type: 'RUN_FAILED',
      error: { code: 'TIMEOUT', details: { retryable: true } },
    });
  });

  it('a stream that stalls past the timeout mid-answer fails TIMEOUT, not a cut-short success', async () => {
    // The openai client ends an aborted stream quietly: what came so far must not pass for the answer.
    server.setFallback(() => ({ text: ['Hello ', 'wor', 'ld, and more.'], chunkDelayMs: 120 }));
    const events = await collectEvents(
      runCrew({
        crew: crewWith(),
        inputs: { topic: 'x' },
        providers: { openai: { apiKey: 'k' } },
        retry: { ...FAST_RETRY, maxRetries: 1, timeoutMs: 300 },
      }),
    );
    // Text was delivered: not tried again (that would repeat it).
    expect(server.chatRequests).toHaveLength(1);
    expect(events.map((e) => e.type)).not.toContain('TASK_COMPLETED');
    expect(events.at(-1)).toMatchObject({ type: 'RUN_FAILED', error: { code: 'TIMEOUT' } });
    // What was generated before the stall was paid for: counted (estimated), not lost with the call.
    expect(events.filter((e) => e.type === 'USAGE')).toHaveLength(1);
    const failed = events.at(-1)!;
    if (failed.type === 'RUN_FAILED') expect(failed.usage.completionTokens).toBeGreaterThan(0);
  });

  it('does not retry a 429 that says the account is out of quota, and says so', async () => {
    server.setFallback(() => ({
      error: {
        status: 429,
        message: 'You exceeded your current quota',
        type: 'insufficient_quota',
        code: 'insufficient_quota',
      },
    }));
    const events = await collectEvents(
      runCrew({
        crew: crewWith(),
        inputs: { topic: 'x' },
        providers: { openai: { apiKey: 'k' } },
        retry: FAST_RETRY,
      }),
    );
    expect(server.chatRequests).toHaveLength(1);
    expect(events.at(-1)).toMatchObject({
      type: 'RUN_FAILED',
      error: { code: 'PROVIDER_ERROR', details: { retryable: false } },
    });
    expect(JSON.stringify(events.at(-1))).toMatch(/out of quota/);
  });

  it('empty OPENAI_BASE_URL and OPENAI_API_KEY (a compose file passes them as "") count as unset', async () => {
    const { createOpenAIProvider } = await import('../src/index.js');
    const before = { url: process.env.OPENAI_BASE_URL, key: process.env.OPENAI_API_KEY };
    process.env.OPENAI_BASE_URL = '';
    process.env.OPENAI_API_KEY = '';
    try {
      // OpenAI itself, with no key: said at once, as PROVIDER_AUTH, naming its URL.
      expect(() => createOpenAIProvider({})).toThrow(
        /No API key for the OpenAI provider at https:\/\/api\.openai\.com\/v1/,
      );
    } finally {
      for (const [name, value] of [
        ['OPENAI_BASE_URL', before.url],
        ['OPENAI_API_KEY', before.key],
      ] as const)
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
    }
  });

  it('does not retry a 400', async () => {
    server.setFallback(() => ({ error: { status: 400, message: 'bad request: temperature too high' } }));
    const events = await collectEvents(
      runCrew({
        crew: crewWith(),
        inputs: { topic: 'x' },
        providers: { openai: { apiKey: 'k' } },
        retry: FAST_RETRY,
      }),
    );
    expect(server.chatRequests).toHaveLength(1);
    const failed = events.at(-1)!;
    expect(failed.type).toBe('RUN_FAILED');
    if (failed.type === 'RUN_FAILED') {
      expect(failed.error.code).toBe('PROVIDER_ERROR');
      expect(failed.error.message).toContain('temperature too high');
    }
  });

  it('reports an unknown model with the provider, URL and a fix', async () => {
    await server.close();
    server = await createOpenAICompatibleTestServer({ models: ['real-model'] });
    const events = await collectEvents(
      runCrew({
        crew: crewWith(),
        inputs: { topic: 'x' },
        providers: { openai: { apiKey: 'k' } },
        retry: FAST_RETRY,
      }),
    );
    const failed = events.at(-1)!;
    expect(failed.type).toBe('RUN_FAILED');
    if (failed.type === 'RUN_FAILED') {
      expect(failed.error.code).toBe('MODEL_NOT_FOUND');
      expect(failed.error.message).toContain('"gpt-test"');
      expect(failed.error.message).toContain(server.url);
      expect(failed.error.message).toContain('model.name');
    }
  });

  it('names the provider, the URL and what to do when the server is unreachable', async () => {
    const url = server.url;
    await server.close();
    const events = await collectEvents(
      runCrew({
        crew: crewWith(),
        inputs: { topic: 'x' },
        providers: { openai: { apiKey: 'k' } },
        retry: FAST_RETRY,
      }),
    );
    const failed = events.at(-1)!;
    expect(failed.type).toBe('RUN_FAILED');
    if (failed.type === 'RUN_FAILED') {
      expect(failed.error.code).toBe('PROVIDER_UNREACHABLE');
      expect(failed.error.message).toContain('OpenAI provider');
      expect(failed.error.message).toContain(url);
      expect(failed.error.message).toContain('OPENAI_BASE_URL');
    }
    server = await createOpenAICompatibleTestServer();
  });
});

describe('conversation memory', () => {
  it('sends earlier chat turns, in order, between the persona and the task', async () => {
    server.enqueue({ text: ['Your name is Ada.'] });
    const events = await collectEvents(
      runCrew({
        crew: crewWith(),
        inputs: { topic: 'what my name is' },
        providers: { openai: { apiKey: 'k' } },
        conversation: [
          { role: 'user', content: 'Hi, I am Ada.' },
          { role: 'assistant', content: 'Hello Ada!' },
        ],
      }),
    );
    expect(eventsOfType(events, 'RUN_SUCCEEDED')[0]!.output).toBe('Your name is Ada.');
    const body = server.chatRequests[0]!.body as { messages: Array<{ role: string; content: string }> };
    expect(body.messages.map((m) => m.role)).toEqual(['system', 'user', 'assistant', 'user']);
    expect(body.messages[1]!.content).toBe('Hi, I am Ada.');
    expect(body.messages[2]!.content).toBe('Hello Ada!');
    expect(body.messages[3]!.content).toContain('what my name is');
  });
});
