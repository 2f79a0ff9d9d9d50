import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type CrewDefinition, runCrew } from '../src/index.js';
import { createOpenAICompatibleTestServer, type OpenAICompatibleTestServer } from './support/index.js';
import { collectEvents, eventsOfType, testAgent } from './support/run-helpers.js';

let server: OpenAICompatibleTestServer;
beforeEach(async () => {
  server = await createOpenAICompatibleTestServer();
});
afterEach(async () => {
  await server.close();
});

type Body = {
  messages: Array<{ role: string; content: string | null; tool_calls?: unknown[] }>;
  tools?: unknown[];
};
const bodyOf = (index: number) => server.chatRequests[index]!.body as Body;
const lastUserText = (body: Body) => body.messages.filter((m) => m.role === 'user').at(-1)?.content ?? '';

describe('SEQUENTIAL', () => {
  it('runs tasks in order and gives each task the earlier outputs', async () => {
    server.setFallback((request) => {
      const text = lastUserText(request.body as Body);
      return {
        text: text.includes('Task: outline')
          ? 'OUTLINE-1'
          : `DRAFT from ${text.includes('OUTLINE-1') ? 'outline' : 'nothing'}`,
      };
    });
    const model = { provider: 'openai' as const, name: 'm', baseUrl: server.url };
    const events = await collectEvents(
      runCrew({
        crew: {
          name: 'blog',
          process: 'sequential',
          agents: [testAgent('planner', model), testAgent('writer', model)],
          tasks: [
            { name: 'outline', description: 'outline', agent: 'planner' },
            { name: 'draft', description: 'draft', agent: 'writer' },
          ],
        },
        providers: { openai: { apiKey: 'k' } },
      }),
    );
    expect(eventsOfType(events, 'TASK_STARTED').map((e) => [e.taskName, e.agentName])).toEqual([
      ['outline', 'planner'],
      ['draft', 'writer'],
    ]);
    expect(events.at(-1)).toMatchObject({
      type: 'RUN_SUCCEEDED',
      output: 'DRAFT from outline',
      tasks: { outline: { output: 'OUTLINE-1' }, draft: { output: 'DRAFT from outline' } },
    });
  });
});

describe('PARALLEL', () => {
  it('runs independent tasks concurrently (overlapping requests) and dependents after their dependencies', async () => {
    server.setFallback((request) => {
      const text = lastUserText(request.body as Body);
      const name = /Task: (\w+)/.exec(text)![1]!;
      return { text: `${name}-done`, firstChunkDelayMs: name === 'merge' ? 0 : 250 };
    });
    const model = { provider: 'openai' as const, name: 'm', baseUrl: server.url };
    const crew: CrewDefinition = {
      name: 'research',
      process: 'PARALLEL',
      agents: [testAgent('r', model)],
      tasks: [
        { name: 'merge', description: 'merge', agent: 'r', dependsOn: ['alpha', 'beta', 'gamma'] },
        { name: 'alpha', description: 'alpha', agent: 'r' },
        { name: 'beta', description: 'beta', agent: 'r' },
        { name: 'gamma', description: 'gamma', agent: 'r' },
      ],
    };
    const started = Date.now();
    const events = await collectEvents(
      runCrew({ crew, providers: { openai: { apiKey: 'k' } }, concurrency: 2 }),
    );
    const elapsed = Date.now() - started;
    expect(events.at(-1)!.type).toBe('RUN_SUCCEEDED');
    const byTask = new Map(
      server.chatRequests.map((request) => [
        /Task: (\w+)/.exec(lastUserText(request.body as Body))![1]!,
        request,
      ]),
    );
    const alpha = byTask.get('alpha')!;
    const beta = byTask.get('beta')!;
    const gamma = byTask.get('gamma')!;
    const merge = byTask.get('merge')!;
    // alpha and beta overlap (concurrency 2) …
    expect(beta.receivedAt).toBeLessThan(alpha.endedAt!);
    expect(alpha.receivedAt).toBeLessThan(beta.endedAt!);
    // … gamma waits for a free slot, and merge starts after all three finished.
    expect(gamma.receivedAt).toBeGreaterThanOrEqual(Math.min(alpha.endedAt!, beta.endedAt!) - 5);
    expect(merge.receivedAt).toBeGreaterThanOrEqual(
      Math.max(alpha.endedAt!, beta.endedAt!, gamma.endedAt!) - 5,
    );
    // Faster than running the three slow tasks one after another would be.
    const serial = [alpha, beta, gamma].reduce((sum, r) => sum + (r.endedAt! - r.receivedAt), 0);
    expect(elapsed).toBeLessThan(serial);
    const mergePrompt = lastUserText(merge.body as Body);
    expect(mergePrompt).toContain('alpha-done');
    expect(mergePrompt).toContain('gamma-done');
  });

  it('rejects a dependency cycle before calling any model', async () => {
    const model = { provider: 'openai' as const, name: 'm', baseUrl: server.url };
    const events = await collectEvents(
      runCrew({
        crew: {
          name: 'loop',
          process: 'PARALLEL',
          agents: [testAgent('r', model)],
          tasks: [
            { name: 'a', description: 'a', agent: 'r', dependsOn: ['c'] },
            { name: 'b', description: 'b', agent: 'r', dependsOn: ['a'] },
            { name: 'c', description: 'c', agent: 'r', dependsOn: ['b'] },
          ],
        },
        providers: { openai: { apiKey: 'k' } },
      }),
    );
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ type: 'RUN_FAILED', error: { code: 'INVALID_CREW' } });
    if (events[0]!.type === 'RUN_FAILED') expect(events[0]!.error.message).toMatch(/cycle: a -> c -> b -> a/);
    expect(server.requests).toHaveLength(0);
  });
});

describe('HIERARCHICAL', () => {
  it('the manager delegates to crew agents through the delegation tool and writes the final answer', async () => {
    server.setFallback((request) => {
      const body = request.body as Body;
      const system = body.messages[0]!.content ?? '';
      if (system.startsWith('You are boss')) {
        const delegated = body.messages.filter((m) => m.role === 'tool').map((m) => m.content);
        if (delegated.length === 0) {
          return {
            toolCalls: [
              {
                name: 'delegate_work',
                arguments: '{"agent":"researcher","task":"Find 2 facts about otters"}',
              },
              {
                name: 'delegate_work',
                arguments: '{"agent":"writer","task":"Write a title","context":"otters"}',
              },
            ],
          };
        }
        return { text: `FINAL: ${delegated.join(' | ')}` };
      }
      if (system.startsWith('You are researcher')) return { text: 'otters hold hands' };
      return { text: 'Otterly Amazing' };
    });
    const model = { provider: 'openai' as const, name: 'm', baseUrl: server.url };
    const events = await collectEvents(
      runCrew({
        crew: {
          name: 'h',
          process: 'HIERARCHICAL',
          manager: testAgent('boss', model),
          agents: [testAgent('researcher', model), testAgent('writer', model)],
          tasks: [{ name: 'article', description: 'An article about otters' }],
        },
        providers: { openai: { apiKey: 'k' } },
      }),
    );
    const managerTools = (bodyOf(0).tools ?? []) as Array<{
      function: { name: string; parameters: { properties: { agent: { enum: string[] } } } };
    }>;
    expect(managerTools[0]!.function.name).toBe('delegate_work');
    expect(managerTools[0]!.function.parameters.properties.agent.enum).toEqual(['researcher', 'writer']);
    const tokensByAgent = new Set(eventsOfType(events, 'TOKEN').map((e) => e.agentName));
    expect(tokensByAgent).toEqual(new Set(['boss', 'researcher', 'writer']));
    const results = eventsOfType(events, 'TOOL_RESULT')
      .map((e) => e.result)
      .sort();
    expect(results).toEqual(['Otterly Amazing', 'otters hold hands']);
    expect(events.at(-1)).toMatchObject({ type: 'RUN_SUCCEEDED' });
    const final = events.at(-1)!;
    if (final.type === 'RUN_SUCCEEDED') {
      expect(final.output).toContain('otters hold hands');
      expect(final.output).toContain('Otterly Amazing');
      // Manager turn, two delegated calls and the manager's final turn.
      expect(final.usage.calls).toBe(4);
    }
    expect(
      eventsOfType(events, 'USAGE')
        .map((e) => e.agentName)
        .sort(),
    ).toEqual(['boss', 'boss', 'researcher', 'writer']);
  });
});

describe('allowDelegation outside HIERARCHICAL', () => {
  it('gives the agent delegate_work for its coworkers only', async () => {
    server.setFallback((request) => {
      const body = request.body as Body;
      const system = body.messages[0]!.content ?? '';
      if (system.startsWith('You are lead')) {
        const delegated = body.messages.find((m) => m.role === 'tool');
        return delegated
          ? { text: `lead used: ${delegated.content}` }
          : { toolCalls: [{ name: 'delegate_work', arguments: '{"agent":"helper","task":"compute 2+2"}' }] };
      }
      return { text: '4' };
    });
    const model = { provider: 'openai' as const, name: 'm', baseUrl: server.url };
    const result = await runCrew({
      crew: {
        name: 'd',
        agents: [testAgent('lead', model, { allowDelegation: true }), testAgent('helper', model)],
        tasks: [{ name: 'sum', description: 'sum', agent: 'lead' }],
      },
      providers: { openai: { apiKey: 'k' } },
    }).result();
    expect(result).toMatchObject({ status: 'succeeded', output: 'lead used: 4' });
    const tools = bodyOf(0).tools as Array<{
      function: { parameters: { properties: { agent: { enum: string[] } } } };
    }>;
    expect(tools[0]!.function.parameters.properties.agent.enum).toEqual(['helper']);
    // The coworker itself gets no delegation tool.
    expect(bodyOf(1).tools).toBeUndefined();
  });
});
