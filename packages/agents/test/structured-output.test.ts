import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineTool, runCrew } from '../src/index.js';
import { createOpenAICompatibleTestServer, type OpenAICompatibleTestServer } from './support/index.js';
import { collectEvents, eventsOfType, testAgent } from './support/run-helpers.js';

let server: OpenAICompatibleTestServer;
beforeEach(async () => {
  server = await createOpenAICompatibleTestServer();
});
afterEach(async () => {
  await server.close();
});

const schema = {
  type: 'object',
  properties: { city: { type: 'string' }, temperatureC: { type: 'number' } },
  required: ['city', 'temperatureC'],
  additionalProperties: false,
};

const weather = defineTool({
  name: 'get_weather',
  description: 'Weather for a city',
  input: z.object({ city: z.string() }),
  handler: async ({ city }) => ({ city, temperatureC: 21 }),
});

function crew(tools: string[]) {
  return {
    name: 'c',
    agents: [testAgent('a', { provider: 'openai' as const, name: 'm', baseUrl: server.url }, { tools })],
    tasks: [{ name: 'report', description: 'Weather in {{city}}', agent: 'a', outputSchema: schema }],
  };
}

describe('structured output', () => {
  it('works together with tools: tool call, invalid answer, one repair round with the errors, valid JSON', async () => {
    server.enqueue(
      { toolCalls: [{ name: 'get_weather', arguments: '{"city":"Oslo"}' }] },
      { text: 'It is 21 degrees in Oslo.' },
      { text: '{"city": "Oslo", "temperatureC": 21}' },
    );
    const events = await collectEvents(
      runCrew({
        crew: crew(['get_weather']),
        inputs: { city: 'Oslo' },
        tools: [weather],
        providers: { openai: { apiKey: 'k' } },
      }),
    );
    expect(eventsOfType(events, 'TOOL_RESULT')).toHaveLength(1);
    const completed = eventsOfType(events, 'TASK_COMPLETED')[0]!;
    expect(completed.structuredOutput).toEqual({ city: 'Oslo', temperatureC: 21 });
    expect(JSON.parse(completed.output)).toEqual({ city: 'Oslo', temperatureC: 21 });
    // The tool loop ran without a forced format (it would block tool calls) …
    const first = server.chatRequests[0]!.body as Record<string, unknown>;
    expect(first.response_format).toBeUndefined();
    expect(first.tools).toBeDefined();
    // … and the repair round carried the validation errors and the native JSON-schema format.
    const repair = server.chatRequests[2]!.body as {
      response_format: { type: string; json_schema: { schema: unknown } };
      messages: Array<{ role: string; content: string }>;
      tools?: unknown;
    };
    expect(repair.response_format.type).toBe('json_schema');
    expect(repair.response_format.json_schema.schema).toEqual(schema);
    expect(repair.tools).toBeUndefined();
    expect(repair.messages.at(-1)!.content).toContain('does not match the required JSON Schema');
    expect(repair.messages.at(-1)!.content).toContain('not valid JSON');
  });

  it('feeds schema violations back, and fails with STRUCTURED_OUTPUT_INVALID when the repair is still wrong', async () => {
    server.enqueue({ text: '{"city": "Oslo", "temperatureC": "warm"}' }, { text: '{"city": "Oslo"}' });
    const events = await collectEvents(
      runCrew({ crew: crew([]), inputs: { city: 'Oslo' }, providers: { openai: { apiKey: 'k' } } }),
    );
    expect(server.chatRequests).toHaveLength(2);
    // Without tools, the schema is enforced natively from the first call.
    expect((server.chatRequests[0]!.body as { response_format?: unknown }).response_format).toBeDefined();
    const repairPrompt = (
      server.chatRequests[1]!.body as { messages: Array<{ content: string }> }
    ).messages.at(-1)!.content;
    expect(repairPrompt).toContain('/temperatureC');
    const failed = events.at(-1)!;
    expect(failed.type).toBe('RUN_FAILED');
    if (failed.type === 'RUN_FAILED') {
      expect(failed.error.code).toBe('STRUCTURED_OUTPUT_INVALID');
      expect(failed.error.details.issues?.join(' ')).toContain('temperatureC');
    }
  });

  it('accepts JSON inside a code fence on the first try', async () => {
    server.enqueue({ text: '```json\n{"city": "Rome", "temperatureC": 30}\n```' });
    const result = await runCrew({
      crew: crew([]),
      inputs: { city: 'Rome' },
      providers: { openai: { apiKey: 'k' } },
    }).result();
    expect(result).toMatchObject({
      status: 'succeeded',
      structuredOutput: { city: 'Rome', temperatureC: 30 },
    });
    expect(server.chatRequests).toHaveLength(1);
  });
});
