import { HumanMessage } from '@langchain/core/messages';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createOllamaProvider, defineTool, runCrew } from '../src/index.js';
import { createOllamaTestServer, type OllamaTestServer } from './support/index.js';
import { collectEvents, eventsOfType, FAST_RETRY, testAgent } from './support/run-helpers.js';

let server: OllamaTestServer;
beforeEach(async () => {
  server = await createOllamaTestServer({ models: ['llama3.1:8b'] });
});
afterEach(async () => {
  await server.close();
});

const lookup = defineTool({
  name: 'lookup_order',
  description: 'Find an order',
  input: z.object({ orderId: z.string() }),
  handler: async ({ orderId }) => `order ${orderId}: shipped`,
});

function crew(model = 'llama3.1:8b', tools: string[] = []) {
  return {
    name: 'support',
    agents: [
      testAgent(
        'helper',
        { provider: 'OLLAMA' as const, name: model, temperature: 0.1, maxTokens: 64 },
        { tools },
      ),
    ],
    tasks: [{ name: 'answer', description: 'Where is order {{id}}?', agent: 'helper' }],
  };
}

describe('Ollama provider over real HTTP', () => {
  it('streams NDJSON tokens, runs a native tool call and counts prompt_eval_count/eval_count', async () => {
    server.enqueue(
      {
        toolCalls: [{ name: 'lookup_order', arguments: { orderId: 'A-7' } }],
        usage: { promptTokens: 30, completionTokens: 5 },
      },
      { text: ['Your', ' order', ' shipped.'], usage: { promptTokens: 50, completionTokens: 3 } },
    );
    const run = runCrew({
      crew: crew('llama3.1:8b', ['lookup_order']),
      inputs: { id: 'A-7' },
      tools: [lookup],
      providers: { ollama: { host: server.url } },
    });
    const events = await collectEvents(run);
    expect(eventsOfType(events, 'TOKEN').map((event) => event.delta)).toEqual([
      'Your',
      ' order',
      ' shipped.',
    ]);
    expect(eventsOfType(events, 'TOOL_RESULT')[0]).toMatchObject({
      result: 'order A-7: shipped',
      isError: false,
    });
    const usage = eventsOfType(events, 'USAGE');
    expect(usage.map((event) => [event.provider, event.promptTokens, event.completionTokens])).toEqual([
      ['ollama', 30, 5],
      ['ollama', 50, 3],
    ]);
    const first = server.chatRequests[0]!.body as {
      options: Record<string, number>;
      tools: unknown[];
      stream: boolean;
    };
    expect(first.options).toEqual({ temperature: 0.1, num_predict: 64 });
    expect(first.stream).toBe(true);
    expect(first.tools).toHaveLength(1);
    const second = server.chatRequests[1]!.body as {
      messages: Array<{ role: string; content: string; tool_name?: string }>;
    };
    expect(second.messages.at(-1)).toMatchObject({
      role: 'tool',
      content: 'order A-7: shipped',
      tool_name: 'lookup_order',
    });
    const result = await run.result();
    expect(result).toMatchObject({
      status: 'succeeded',
      output: 'Your order shipped.',
      usage: { promptTokens: 80, completionTokens: 8 },
    });
  });

  it('treats a JSON tool call written as text by a small local model as a tool call', async () => {
    server.enqueue(
      { text: '{"name": "lookup_order", "arguments": {"orderId": "B-2"}}' },
      { text: 'B-2 has shipped.' },
    );
    const events = await collectEvents(
      runCrew({
        crew: crew('llama3.1:8b', ['lookup_order']),
        inputs: { id: 'B-2' },
        tools: [lookup],
        providers: { ollama: { host: server.url } },
      }),
    );
    expect(eventsOfType(events, 'TOOL_RESULT')[0]!.result).toBe('order B-2: shipped');
    expect(events.at(-1)).toMatchObject({ type: 'RUN_SUCCEEDED', output: 'B-2 has shipped.' });
    // The call written as text is not streamed as if it were the answer: the stream is the answer.
    expect(
      eventsOfType(events, 'TOKEN')
        .map((e) => e.delta)
        .join(''),
    ).toBe('B-2 has shipped.');
  });

  it('understands several <tool_call> blocks written as text, and leaves prose alone', async () => {
    server.enqueue(
      {
        text: '<tool_call>\n{"name": "lookup_order", "arguments": {"orderId": "C-1"}}\n</tool_call>\n<tool_call>\n{"name": "lookup_order", "arguments": {"orderId": "C-2"}}\n</tool_call>',
      },
      { text: 'I would call {"name": "lookup_order"} but will not.' },
    );
    const events = await collectEvents(
      runCrew({
        crew: crew('llama3.1:8b', ['lookup_order']),
        inputs: { id: 'C' },
        tools: [lookup],
        providers: { ollama: { host: server.url } },
      }),
    );
    expect(
      eventsOfType(events, 'TOOL_RESULT')
        .map((e) => e.result)
        .sort(),
    ).toEqual(['order C-1: shipped', 'order C-2: shipped']);
    expect(events.at(-1)).toMatchObject({
      type: 'RUN_SUCCEEDED',
      output: 'I would call {"name": "lookup_order"} but will not.',
    });
    expect(
      eventsOfType(events, 'TOKEN')
        .map((e) => e.delta)
        .join(''),
    ).toBe('I would call {"name": "lookup_order"} but will not.');
  });

  it('an answer that starts like a tool call but is not one still streams, whole', async () => {
    server.enqueue({ text: ['[Docs](https://example.com) ', 'say it ', 'shipped.'] });
    const events = await collectEvents(
      runCrew({
        crew: crew('llama3.1:8b', ['lookup_order']),
        inputs: { id: 'D-1' },
        tools: [lookup],
        providers: { ollama: { host: server.url } },
      }),
    );
    expect(events.at(-1)).toMatchObject({
      type: 'RUN_SUCCEEDED',
      output: '[Docs](https://example.com) say it shipped.',
    });
    expect(
      eventsOfType(events, 'TOKEN')
        .map((e) => e.delta)
        .join(''),
    ).toBe('[Docs](https://example.com) say it shipped.');
  });

  it('asks Ollama for schema-constrained output with `format` for structured tasks', async () => {
    const schema = { type: 'object', properties: { eta: { type: 'string' } }, required: ['eta'] };
    server.enqueue({ text: '{"eta": "tomorrow"}' });
    const result = await runCrew({
      crew: {
        ...crew(),
        tasks: [
          { name: 'answer', description: 'When does {{id}} arrive?', agent: 'helper', outputSchema: schema },
        ],
      },
      inputs: { id: 'C-3' },
      providers: { ollama: { host: server.url } },
    }).result();
    expect(result).toMatchObject({ status: 'succeeded', structuredOutput: { eta: 'tomorrow' } });
    expect((server.chatRequests[0]!.body as { format: unknown }).format).toEqual(schema);
  });

  it('exposes the provider as a plain async iterable of chunks too', async () => {
    server.enqueue({ text: ['a', 'b'], usage: { promptTokens: 2, completionTokens: 2 } });
    const provider = createOllamaProvider({ host: server.url });
    const chunks = [];
    for await (const chunk of provider.stream({
      model: 'llama3.1:8b',
      messages: [new HumanMessage('hi')],
      signal: new AbortController().signal,
    })) {
      chunks.push(chunk);
    }
    expect(chunks).toEqual([
      { type: 'text', text: 'a' },
      { type: 'text', text: 'b' },
      { type: 'usage', promptTokens: 2, completionTokens: 2 },
    ]);
    server.enqueue({ error: { status: 500, message: 'exploded' } });
    const failing = provider.stream({
      model: 'llama3.1:8b',
      messages: [new HumanMessage('hi')],
      signal: new AbortController().signal,
    });
    await expect(
      (async () => {
        for await (const _ of failing) {
          // drain
        }
      })(),
    ).rejects.toMatchObject({ code: 'PROVIDER_ERROR', details: { status: 500 } });
  });

  it('a caller that stops reading the stream ends the request: the model does not generate on', async () => {
    server.enqueue({ text: Array.from({ length: 10 }, (_, i) => `w${i} `), chunkDelayMs: 40 });
    const provider = createOllamaProvider({ host: server.url });
    for await (const chunk of provider.stream({
      model: 'llama3.1:8b',
      messages: [new HumanMessage('hi')],
      signal: new AbortController().signal,
    })) {
      expect(chunk).toEqual({ type: 'text', text: 'w0 ' });
      break;
    }
    // Had the request gone on, the server would have sent its last line (and its usage) by now.
    await new Promise((r) => setTimeout(r, 700));
    expect(server.reportedUsage).toEqual([]);
  });

  it('retries a 429 from Ollama after its Retry-After delay, like OpenAI', async () => {
    server.enqueue(
      { error: { status: 429, message: 'busy', headers: { 'retry-after': '0.3' } } },
      { text: 'ok' },
    );
    const result = await runCrew({
      crew: crew(),
      inputs: { id: '1' },
      providers: { ollama: { host: server.url } },
      retry: { ...FAST_RETRY, baseDelayMs: 1 },
    }).result();
    expect(result).toMatchObject({ status: 'succeeded', output: 'ok' });
    expect(server.chatRequests).toHaveLength(2);
    expect(server.chatRequests[1]!.receivedAt - server.chatRequests[0]!.receivedAt).toBeGreaterThanOrEqual(
      280,
    );
  });

  it('tells the user to pull a model Ollama does not have', async () => {
    const events = await collectEvents(
      runCrew({
        crew: crew('mistral:7b'),
        inputs: { id: '1' },
        providers: { ollama: { host: server.url } },
        retry: FAST_RETRY,
      }),
    );
    const failed = events.at(-1)!;
    expect(failed.type).toBe('RUN_FAILED');
    if (failed.type === 'RUN_FAILED') {
      expect(failed.error.code).toBe('MODEL_NOT_FOUND');
      expect(failed.error.message).toContain('ollama pull mistral:7b');
      expect(failed.error.message).toContain(server.url);
    }
    expect(server.chatRequests).toHaveLength(1);
  });

  it('names Ollama, the host and OLLAMA_HOST when nothing listens there', async () => {
    const url = server.url;
    await server.close();
    const events = await collectEvents(
      runCrew({ crew: crew(), inputs: { id: '1' }, providers: { ollama: { host: url } }, retry: FAST_RETRY }),
    );
    const failed = events.at(-1)!;
    expect(failed.type).toBe('RUN_FAILED');
    if (failed.type === 'RUN_FAILED') {
      expect(failed.error.code).toBe('PROVIDER_UNREACHABLE');
      expect(failed.error.message).toContain('Ollama');
      expect(failed.error.message).toContain(url);
      expect(failed.error.message).toContain('OLLAMA_HOST');
    }
    server = await createOllamaTestServer();
  });

  it('reads OLLAMA_HOST from the environment', async () => {
    const previous = process.env.OLLAMA_HOST;
    process.env.OLLAMA_HOST = server.url.replace('http://', '');
    try {
      server.enqueue({ text: 'from env' });
      const result = await runCrew({ crew: crew(), inputs: { id: '1' } }).result();
      expect(result).toMatchObject({ status: 'succeeded', output: 'from env' });
      expect(server.chatRequests).toHaveLength(1);
    } finally {
      if (previous === undefined) delete process.env.OLLAMA_HOST;
      else process.env.OLLAMA_HOST = previous;
    }
  });
});
