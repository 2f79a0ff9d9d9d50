import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { defineTool, redactPii, runCrew } from '../src/index.js';
import { createOpenAICompatibleTestServer, type OpenAICompatibleTestServer } from './support/index.js';
import { collectEvents, eventsOfType, testAgent } from './support/run-helpers.js';

describe('redactPii', () => {
  it('redacts emails, phones, Luhn-valid cards, mod-97-valid IBANs and SSNs', () => {
    const text = [
      'Mail jane.doe+work@example.co.uk or call +1 (415) 555-0132 / 020 7946 0958.',
      'Card 4111 1111 1111 1111 and 5500-0000-0000-0004.',
      'IBAN GB82 WEST 1234 5698 7654 32, also DE89370400440532013000.',
      'SSN 123-45-6789.',
    ].join('\n');
    const { text: redacted, counts } = redactPii(text);
    expect(redacted).not.toContain('jane.doe');
    expect(redacted).not.toContain('4111');
    expect(redacted).not.toContain('5500');
    expect(redacted).not.toContain('WEST');
    expect(redacted).not.toContain('DE89');
    expect(redacted).not.toContain('123-45-6789');
    expect(redacted).not.toContain('555-0132');
    expect(redacted).not.toContain('7946');
    expect(counts).toEqual({ email: 1, phone: 2, card: 2, iban: 2, ssn: 1 });
    expect(redacted).toContain('Card [REDACTED_CARD] and [REDACTED_CARD].');
    expect(redacted).toContain('IBAN [REDACTED_IBAN], also [REDACTED_IBAN].');
  });

  it('keeps numbers that fail their checksum or rule, and ordinary numbers', () => {
    const text =
      'Order 4111 1111 1111 1112 (not Luhn), IBAN GB82 WEST 1234 5698 7654 33 (bad check), SSN 000-12-3456, on 2024-05-01, version 1.2.3, 42 items.';
    const { text: redacted, counts } = redactPii(text);
    expect(redacted).toBe(text);
    expect(counts).toEqual({ email: 0, phone: 0, card: 0, iban: 0, ssn: 0 });
  });

  it('can be limited to some kinds', () => {
    expect(redactPii('a@b.io 4111111111111111', ['email']).text).toBe('[REDACTED_EMAIL] 4111111111111111');
  });
});

describe('crew guardrails', () => {
  let server: OpenAICompatibleTestServer;
  beforeEach(async () => {
    server = await createOpenAICompatibleTestServer();
  });
  afterEach(async () => {
    await server.close();
  });

  it('redacts PII in inputs before the model sees them and in task outputs', async () => {
    server.enqueue({ text: 'Reply sent to bob@corp.example,\ncard 4242 4242 4242 4242 noted.' });
    const events = await collectEvents(
      runCrew({
        crew: {
          name: 'c',
          agents: [testAgent('a', { provider: 'openai', name: 'm', baseUrl: server.url })],
          tasks: [{ name: 't', description: 'Answer this customer: {{message}}', agent: 'a' }],
          guardrails: { redactPii: true },
        },
        inputs: { message: 'I am alice@example.com, SSN 219-09-9999, card 4242424242424242' },
        providers: { openai: { apiKey: 'k' } },
      }),
    );
    const prompt = JSON.stringify(server.chatRequests[0]!.body);
    expect(prompt).not.toContain('alice@example.com');
    expect(prompt).not.toContain('219-09-9999');
    expect(prompt).not.toContain('4242424242424242');
    expect(prompt).toContain('[REDACTED_EMAIL]');
    const completed = eventsOfType(events, 'TASK_COMPLETED')[0]!;
    expect(completed.output).toBe('Reply sent to [REDACTED_EMAIL],\ncard [REDACTED_CARD] noted.');
    // The token stream is redacted too (released line by line), so no event leaks the raw values.
    const tokens = eventsOfType(events, 'TOKEN').map((event) => event.delta);
    expect(tokens.join('')).toBe(completed.output);
    expect(JSON.stringify(events)).not.toContain('bob@corp.example');
    expect(JSON.stringify(events)).not.toContain('4242 4242');
  });

  it('an output validator can send the agent back with feedback, and fails the task when retries run out', async () => {
    server.enqueue({ text: 'Too short' }, { text: 'A much longer and better answer' });
    const crew = {
      name: 'c',
      agents: [testAgent('a', { provider: 'openai' as const, name: 'm', baseUrl: server.url })],
      tasks: [
        {
          name: 't',
          description: 'Explain',
          agent: 'a',
          validators: [
            (output: string) =>
              output.length >= 20
                ? { ok: true as const }
                : { ok: false as const, feedback: 'Use at least 20 characters.' },
          ],
        },
      ],
    };
    const result = await runCrew({ crew, providers: { openai: { apiKey: 'k' } } }).result();
    expect(result).toMatchObject({ status: 'succeeded', output: 'A much longer and better answer' });
    const retryPrompt = (
      server.chatRequests[1]!.body as { messages: Array<{ content: string }> }
    ).messages.at(-1)!.content;
    expect(retryPrompt).toContain('Use at least 20 characters.');

    server.enqueue({ text: 'short' }, { text: 'still short' });
    const failed = await runCrew({ crew, providers: { openai: { apiKey: 'k' } } }).result();
    expect(failed.status).toBe('failed');
    if (failed.status === 'failed') expect(failed.error.code).toBe('GUARDRAIL_FAILED');
  });
});

describe('PII in tool traffic', () => {
  let server: OpenAICompatibleTestServer;
  beforeEach(async () => {
    server = await createOpenAICompatibleTestServer();
  });
  afterEach(async () => {
    await server.close();
  });

  it('events carry redacted tool args and results while the tool and model get the real values', async () => {
    let toolSaw = '';
    const lookup = defineTool({
      name: 'lookup_customer',
      description: 'Find a customer by email',
      input: { type: 'object', properties: { email: { type: 'string' } }, required: ['email'] },
      handler: (args: Record<string, unknown>) => {
        toolSaw = String(args.email);
        return 'phone +44 20 7946 0958';
      },
    });
    server.enqueue(
      { toolCalls: [{ name: 'lookup_customer', arguments: '{"email":"carol@shop.example"}' }] },
      { text: 'Found them.' },
    );
    const events = await collectEvents(
      runCrew({
        crew: {
          name: 'c',
          agents: [
            testAgent(
              'a',
              { provider: 'openai', name: 'm', baseUrl: server.url },
              { tools: ['lookup_customer'] },
            ),
          ],
          tasks: [{ name: 't', description: 'Find the customer', agent: 'a' }],
          guardrails: { redactPii: { inputs: true, outputs: true } },
        },
        tools: [lookup],
        providers: { openai: { apiKey: 'k' } },
      }),
    );
    expect(toolSaw).toBe('carol@shop.example');
    expect(eventsOfType(events, 'TOOL_CALL')[0]!.args).toEqual({ email: '[REDACTED_EMAIL]' });
    expect(eventsOfType(events, 'TOOL_RESULT')[0]!.result).toBe('phone [REDACTED_PHONE]');
    const toolMessage = (
      server.chatRequests[1]!.body as { messages: Array<{ role: string; content: string }> }
    ).messages.find((message) => message.role === 'tool');
    expect(toolMessage!.content).toBe('phone +44 20 7946 0958');
    expect(JSON.stringify(events)).not.toContain('carol@shop.example');
  });
});
