import { DynamicStructuredTool, tool as langchainTool } from '@langchain/core/tools';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { AgentsError, createToolRegistry, defineTool, runCrew } from '../src/index.js';
import { createOpenAICompatibleTestServer, type OpenAICompatibleTestServer } from './support/index.js';
import { collectEvents, eventsOfType, testAgent } from './support/run-helpers.js';

let server: OpenAICompatibleTestServer;
beforeEach(async () => {
  server = await createOpenAICompatibleTestServer();
});
afterEach(async () => {
  await server.close();
});

describe('defineTool', () => {
  it('publishes a JSON Schema from zod and validates arguments before the handler runs', async () => {
    let calls = 0;
    const add = defineTool({
      name: 'add',
      description: 'Add numbers',
      input: z.object({ a: z.number(), b: z.number() }),
      handler: ({ a, b }) => {
        calls++;
        return a + b;
      },
    });
    expect(add.parameters).toMatchObject({
      type: 'object',
      properties: { a: { type: 'number' } },
      required: ['a', 'b'],
    });
    const ctx = { signal: new AbortController().signal, taskName: 't', agentName: 'a' };
    await expect(add.invoke({ a: 1, b: 2 }, ctx)).resolves.toBe(3);
    await expect(add.invoke({ a: '1' }, ctx)).rejects.toMatchObject({ code: 'TOOL_ERROR' });
    expect(calls).toBe(1);
  });

  it('validates JSON Schema input too and rejects invalid names', async () => {
    const echo = defineTool<{ text: string }>({
      name: 'echo',
      description: 'Echo',
      input: { type: 'object', properties: { text: { type: 'string' } }, required: ['text'] },
      handler: ({ text }) => text.toUpperCase(),
    });
    const ctx = { signal: new AbortController().signal, taskName: 't', agentName: 'a' };
    await expect(echo.invoke({ text: 'hi' }, ctx)).resolves.toBe('HI');
    await expect(echo.invoke({}, ctx)).rejects.toThrow(/Invalid arguments for tool "echo"/);
    expect(() =>
      defineTool({ name: 'bad name!', description: '', input: { type: 'object' }, handler: () => null }),
    ).toThrow(AgentsError);
  });
});

describe('LangChain tools', () => {
  it('runs DynamicStructuredTool and tool() tools requested by the model', async () => {
    const multiply = new DynamicStructuredTool({
      name: 'multiply',
      description: 'Multiply two numbers',
      schema: z.object({ a: z.number(), b: z.number() }),
      func: async ({ a, b }) => String(a * b),
    });
    const shout = langchainTool(async ({ text }: { text: string }) => text.toUpperCase(), {
      name: 'shout',
      description: 'Upper-case text',
      schema: z.object({ text: z.string() }),
    });
    server.enqueue(
      {
        toolCalls: [
          { name: 'multiply', arguments: '{"a": 6, "b": 7}' },
          { name: 'shout', arguments: '{"text": "hey"}' },
        ],
      },
      { text: 'done' },
    );
    const events = await collectEvents(
      runCrew({
        crew: {
          name: 'c',
          agents: [
            testAgent(
              'a',
              { provider: 'openai', name: 'm', baseUrl: server.url },
              { tools: ['multiply', 'shout'] },
            ),
          ],
          tasks: [{ name: 't', description: 'd', agent: 'a' }],
        },
        tools: createToolRegistry([multiply, shout]),
        providers: { openai: { apiKey: 'k' } },
      }),
    );
    const results = Object.fromEntries(
      eventsOfType(events, 'TOOL_RESULT').map((e) => [e.toolName, e.result]),
    );
    expect(results).toEqual({ multiply: '42', shout: 'HEY' });
    const sentTools = (
      server.chatRequests[0]!.body as { tools: Array<{ function: { name: string; parameters: unknown } }> }
    ).tools;
    expect(sentTools.map((t) => t.function.name)).toEqual(['multiply', 'shout']);
    expect(sentTools[0]!.function.parameters).toMatchObject({ properties: { a: { type: 'number' } } });
  });

  it('a tool that never answers is stopped at toolTimeoutMs, and the model is told; a huge result is cut', async () => {
    let stoppedBy: unknown;
    const hang = defineTool({
      name: 'hang',
      description: 'never answers',
      input: { type: 'object' },
      handler: (_args, { signal }) =>
        new Promise((_, reject) => {
          signal.addEventListener('abort', () => {
            stoppedBy = signal.reason;
            reject(signal.reason);
          });
        }),
    });
    const flood = defineTool({
      name: 'flood',
      description: 'answers a lot',
      input: { type: 'object' },
      handler: () => 'x'.repeat(50_000),
    });
    server.enqueue(
      {
        toolCalls: [
          { name: 'hang', arguments: '{}' },
          { name: 'flood', arguments: '{}' },
        ],
      },
      { text: 'done without it' },
    );
    const events = await collectEvents(
      runCrew({
        crew: {
          name: 'c',
          agents: [
            testAgent(
              'a',
              { provider: 'openai', name: 'm', baseUrl: server.url },
              { tools: ['hang', 'flood'] },
            ),
          ],
          tasks: [{ name: 't', description: 'd', agent: 'a' }],
        },
        tools: createToolRegistry([hang, flood]),
        providers: { openai: { apiKey: 'k' } },
        toolTimeoutMs: 200,
        maxToolResultChars: 1000,
      }),
    );
    expect(events.at(-1)).toMatchObject({ type: 'RUN_SUCCEEDED', output: 'done without it' });
    expect(stoppedBy).toBeDefined();
    const results = Object.fromEntries(eventsOfType(events, 'TOOL_RESULT').map((e) => [e.toolName, e]));
    expect(results.hang).toMatchObject({
      isError: true,
      result: expect.stringMatching(/took longer than 200 ms/),
    });
    expect(results.flood!.result).toMatch(/^x{1000}\n\[… cut: the result had 50000 characters/);
    // What the model got in its next call is the cut result.
    const sent = JSON.stringify(server.chatRequests[1]!.body);
    expect(sent).not.toContain('x'.repeat(1001));
    expect(sent).toContain('took longer than 200 ms');
  });

  it('stops a tool loop at maxIterations with MAX_ITERATIONS', async () => {
    const ping = defineTool({
      name: 'ping',
      description: 'ping',
      input: { type: 'object' },
      handler: () => 'pong',
    });
    server.setFallback(() => ({ toolCalls: [{ name: 'ping', arguments: '{}' }] }));
    const events = await collectEvents(
      runCrew({
        crew: {
          name: 'c',
          agents: [
            testAgent(
              'a',
              { provider: 'openai', name: 'm', baseUrl: server.url },
              { tools: ['ping'], maxIterations: 3 },
            ),
          ],
          tasks: [{ name: 't', description: 'd', agent: 'a' }],
        },
        tools: [ping],
        providers: { openai: { apiKey: 'k' } },
      }),
    );
    expect(server.chatRequests).toHaveLength(3);
    expect(events.at(-1)).toMatchObject({ type: 'RUN_FAILED', error: { code: 'MAX_ITERATIONS' } });
  });
});
