import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  AgentsError,
  createScriptedProvider,
  createToolRegistry,
  runCrew,
  templateVariables,
  validateCrew,
} from '../src/index.js';
import { createOpenAICompatibleTestServer, type OpenAICompatibleTestServer } from './support/index.js';
import { collectEvents, testAgent } from './support/run-helpers.js';

let server: OpenAICompatibleTestServer;
beforeEach(async () => {
  server = await createOpenAICompatibleTestServer();
});
afterEach(async () => {
  await server.close();
});

describe('templateVariables', () => {
  it('lists distinct placeholders in order of first use', () => {
    expect(
      templateVariables('Write about {{topic}} for {{ audience }}; {{topic}} again, not {single}'),
    ).toEqual(['topic', 'audience']);
    expect(templateVariables('no placeholders')).toEqual([]);
  });
});

describe('inputs and crew validation', () => {
  it('a missing input fails the run before any LLM call, naming the task and the variable', async () => {
    server.enqueue({ text: 'should never be used' });
    const events = await collectEvents(
      runCrew({
        crew: {
          name: 'c',
          agents: [testAgent('a', { provider: 'openai', name: 'm', baseUrl: server.url })],
          tasks: [
            { name: 'first', description: 'About {{topic}}', agent: 'a' },
            { name: 'second', description: 'For {{audience}}', agent: 'a' },
          ],
        },
        inputs: { topic: 'otters' },
        providers: { openai: { apiKey: 'k' } },
      }),
    );
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      seq: 1,
      type: 'RUN_FAILED',
      error: { code: 'MISSING_INPUT', details: { taskName: 'second', field: 'inputs.audience' } },
    });
    expect(server.requests).toHaveLength(0);
  });

  it('fills placeholders, JSON-encoding non-string inputs', async () => {
    server.enqueue({ text: 'ok' });
    await runCrew({
      crew: {
        name: 'c',
        agents: [testAgent('a', { provider: 'openai', name: 'm', baseUrl: server.url })],
        tasks: [{ name: 't', description: 'Count {{n}} items of {{tags}}', agent: 'a' }],
      },
      inputs: { n: 3, tags: ['x', 'y'] },
      providers: { openai: { apiKey: 'k' } },
    }).result();
    const prompt = (server.chatRequests[0]!.body as { messages: Array<{ content: string }> }).messages[1]!
      .content;
    expect(prompt).toContain('Count 3 items of ["x","y"]');
  });

  it('validateCrew throws typed errors naming the field and rule', () => {
    const agent = testAgent('a', { provider: 'openai', name: 'm' });
    const attempt = (crew: Parameters<typeof validateCrew>[0]) => {
      try {
        validateCrew(crew);
      } catch (error) {
        return error as AgentsError;
      }
      throw new Error('expected validateCrew to throw');
    };
    const unknownAgent = attempt({
      name: 'c',
      agents: [agent],
      tasks: [{ name: 't', description: 'd', agent: 'ghost' }],
    });
    expect(unknownAgent).toBeInstanceOf(AgentsError);
    expect(unknownAgent).toMatchObject({ code: 'INVALID_CREW', details: { field: 'tasks[0].agent' } });
    const withTool = {
      name: 'c',
      agents: [{ ...agent, tools: ['nope'] }],
      tasks: [{ name: 't', description: 'd', agent: 'a' }],
    };
    let unknownTool: AgentsError | undefined;
    try {
      validateCrew(withTool, { tools: createToolRegistry([]) });
    } catch (error) {
      unknownTool = error as AgentsError;
    }
    expect(unknownTool?.message).toContain('tool "nope"');
    // Without a registry (e.g. saving a crew on the server), tool names are not checked.
    expect(validateCrew(withTool).agents.get('a')?.tools).toEqual(['nope']);
    const badProvider = attempt({
      name: 'c',
      agents: [{ ...agent, model: { provider: 'anthropic' as 'openai', name: 'x' } }],
      tasks: [{ name: 't', description: 'd', agent: 'a' }],
    });
    expect(badProvider.details.field).toBe('agents[0].model.provider');
    const noManager = attempt({
      name: 'c',
      process: 'HIERARCHICAL',
      agents: [agent],
      tasks: [{ name: 't', description: 'd' }],
    });
    expect(noManager.details.field).toBe('manager');
    const laterDependency = attempt({
      name: 'c',
      agents: [agent],
      tasks: [
        { name: 'one', description: 'd', agent: 'a', dependsOn: ['two'] },
        { name: 'two', description: 'd', agent: 'a' },
      ],
    });
    expect(laterDependency.message).toContain('comes later');
    expect(
      validateCrew({ name: 'c', agents: [agent], tasks: [{ name: 't', description: 'd', agent: 'a' }] })
        .process,
    ).toBe('SEQUENTIAL');
  });

  it('the scripted provider is never a default: using it without passing one fails clearly', async () => {
    const events = await collectEvents(
      runCrew({
        crew: {
          name: 'c',
          agents: [testAgent('a', { provider: 'scripted', name: 'demo' })],
          tasks: [{ name: 't', description: 'd', agent: 'a' }],
        },
      }),
    );
    expect(events[0]).toMatchObject({ type: 'RUN_FAILED', error: { code: 'INVALID_CREW' } });
    if (events[0]!.type === 'RUN_FAILED')
      expect(events[0]!.error.message).toContain('createScriptedProvider');
    const scripted = createScriptedProvider([{ text: 'scripted answer' }]);
    const result = await runCrew({
      crew: {
        name: 'c',
        agents: [testAgent('a', { provider: 'SCRIPTED', name: 'demo' })],
        tasks: [{ name: 't', description: 'd', agent: 'a' }],
      },
      providers: { scripted },
    }).result();
    expect(result).toMatchObject({ status: 'succeeded', output: 'scripted answer' });
    expect(scripted.requests).toHaveLength(1);
  });

  it('without OPENAI_API_KEY the official endpoint is refused before any call', async () => {
    const saved = { key: process.env.OPENAI_API_KEY, url: process.env.OPENAI_BASE_URL };
    delete process.env.OPENAI_API_KEY;
    delete process.env.OPENAI_BASE_URL;
    try {
      const events = await collectEvents(
        runCrew({
          crew: {
            name: 'c',
            agents: [testAgent('a', { provider: 'openai', name: 'gpt-4o-mini' })],
            tasks: [{ name: 't', description: 'd', agent: 'a' }],
          },
        }),
      );
      expect(events[0]).toMatchObject({ type: 'RUN_FAILED', error: { code: 'PROVIDER_AUTH' } });
      if (events[0]!.type === 'RUN_FAILED') expect(events[0]!.error.message).toContain('OPENAI_API_KEY');
    } finally {
      if (saved.key !== undefined) process.env.OPENAI_API_KEY = saved.key;
      if (saved.url !== undefined) process.env.OPENAI_BASE_URL = saved.url;
    }
  });

  it('reads OPENAI_BASE_URL and OPENAI_API_KEY from the environment', async () => {
    const saved = { key: process.env.OPENAI_API_KEY, url: process.env.OPENAI_BASE_URL };
    process.env.OPENAI_API_KEY = 'sk-from-env';
    process.env.OPENAI_BASE_URL = server.url;
    try {
      server.enqueue({ text: 'env ok' });
      const result = await runCrew({
        crew: {
          name: 'c',
          agents: [testAgent('a', { provider: 'openai', name: 'm' })],
          tasks: [{ name: 't', description: 'd', agent: 'a' }],
        },
      }).result();
      expect(result).toMatchObject({ status: 'succeeded', output: 'env ok' });
      expect(server.chatRequests[0]!.headers.authorization).toBe('Bearer sk-from-env');
    } finally {
      if (saved.key === undefined) delete process.env.OPENAI_API_KEY;
      else process.env.OPENAI_API_KEY = saved.key;
      if (saved.url === undefined) delete process.env.OPENAI_BASE_URL;
      else process.env.OPENAI_BASE_URL = saved.url;
    }
  });
});
