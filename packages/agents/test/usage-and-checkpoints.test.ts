import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineTool, runCrew, type TaskCheckpoint, type TaskOutput } from '../src/index.js';
import { createOpenAICompatibleTestServer, type OpenAICompatibleTestServer } from './support/index.js';
import { collectEvents, eventsOfType, testAgent } from './support/run-helpers.js';

let server: OpenAICompatibleTestServer;
beforeEach(async () => {
  server = await createOpenAICompatibleTestServer();
});
afterEach(async () => {
  await server.close();
});

describe('usage accounting', () => {
  it('totals equal the sum of server-reported usage when two agents share one model (no double counting)', async () => {
    const echo = defineTool({
      name: 'echo',
      description: 'echo',
      input: z.object({ text: z.string() }),
      handler: ({ text }) => text,
    });
    // Usage left to the server's defaults (prompt size / 4, chunk count): the test cannot know them in advance.
    server.enqueue(
      { text: 'Research notes about usage.' },
      { toolCalls: [{ name: 'echo', arguments: ['{"text":', '"hi"}'] }] },
      { text: 'Final article with several words in it.' },
    );
    const sharedModel = { provider: 'openai' as const, name: 'shared-model', baseUrl: server.url };
    const events = await collectEvents(
      runCrew({
        crew: {
          name: 'c',
          agents: [
            testAgent('researcher', sharedModel),
            testAgent('writer', sharedModel, { tools: ['echo'] }),
          ],
          tasks: [
            { name: 'research', description: 'research', agent: 'researcher' },
            { name: 'write', description: 'write', agent: 'writer' },
          ],
        },
        tools: [echo],
        providers: { openai: { apiKey: 'k' } },
        prices: { 'shared-model': { inputPerMillion: 2, outputPerMillion: 4 } },
      }),
    );
    const reported = server.reportedUsage;
    expect(reported).toHaveLength(3);
    const sum = reported.reduce(
      (acc, u) => ({ prompt: acc.prompt + u.promptTokens, completion: acc.completion + u.completionTokens }),
      { prompt: 0, completion: 0 },
    );
    const usageEvents = eventsOfType(events, 'USAGE');
    expect(usageEvents).toHaveLength(server.chatRequests.length);
    expect(usageEvents.map((e) => [e.agentName, e.taskName])).toEqual([
      ['researcher', 'research'],
      ['writer', 'write'],
      ['writer', 'write'],
    ]);
    const final = events.at(-1)!;
    expect(final.type).toBe('RUN_SUCCEEDED');
    if (final.type !== 'RUN_SUCCEEDED') return;
    expect(final.usage.promptTokens).toBe(sum.prompt);
    expect(final.usage.completionTokens).toBe(sum.completion);
    expect(final.usage.totalTokens).toBe(sum.prompt + sum.completion);
    expect(final.usage.calls).toBe(3);
    expect(final.usage.costUsd).toBeCloseTo((sum.prompt * 2 + sum.completion * 4) / 1_000_000, 12);
    // Per-task totals add up to the run totals.
    const perTask = eventsOfType(events, 'TASK_COMPLETED').map((e) => e.usage);
    expect(perTask.reduce((n, u) => n + u.promptTokens, 0)).toBe(sum.prompt);
    expect(perTask.reduce((n, u) => n + u.completionTokens, 0)).toBe(sum.completion);
  });

  it('estimates (and flags) usage when a compatible server reports none', async () => {
    server.enqueue({ text: 'twelve chars', usage: null });
    const events = await collectEvents(
      runCrew({
        crew: {
          name: 'c',
          agents: [testAgent('a', { provider: 'openai', name: 'gpt-4o-mini', baseUrl: server.url })],
          tasks: [{ name: 't', description: 'd', agent: 'a' }],
        },
        providers: { openai: { apiKey: 'k' } },
      }),
    );
    const usage = eventsOfType(events, 'USAGE')[0]!;
    expect(usage.estimated).toBe(true);
    expect(usage.completionTokens).toBe(3);
    expect(usage.costUsd).toBeGreaterThan(0);
  });
});

describe('checkpoints', () => {
  it('resuming with completed tasks calls the LLM only for the unfinished ones', async () => {
    server.setFallback((request) => {
      const prompt = (request.body as { messages: Array<{ role: string; content: string }> }).messages[1]!
        .content;
      const name = /Task: (\w+)/.exec(prompt)![1]!;
      return {
        text: `${name}-output (saw ${['a', 'b'].filter((t) => prompt.includes(`${t}-output`)).join(',') || 'none'})`,
      };
    });
    const model = { provider: 'openai' as const, name: 'm', baseUrl: server.url };
    const crew = {
      name: 'c',
      agents: [testAgent('x', model)],
      tasks: [
        { name: 'a', description: 'a', agent: 'x' },
        { name: 'b', description: 'b', agent: 'x' },
        { name: 'c', description: 'c', agent: 'x' },
      ],
    };
    // First attempt "crashes" after b: the caller cancels once b is checkpointed.
    const saved: TaskCheckpoint[] = [];
    const controller = new AbortController();
    const first = await collectEvents(
      runCrew({
        crew,
        providers: { openai: { apiKey: 'k' } },
        signal: controller.signal,
        onTaskCompleted: (checkpoint) => {
          saved.push(checkpoint);
          if (checkpoint.taskName === 'b') controller.abort();
        },
      }),
    );
    expect(first.at(-1)!.type).toBe('RUN_CANCELLED');
    expect(saved.map((c) => c.taskName)).toEqual(['a', 'b']);
    expect(server.chatRequests).toHaveLength(2);

    const completedTasks: Record<string, TaskOutput> = Object.fromEntries(
      saved.map((c) => [c.taskName, { output: c.output }]),
    );
    const resumed = await collectEvents(
      runCrew({
        crew,
        providers: { openai: { apiKey: 'k' } },
        completedTasks,
        firstSequence: first.length + 1,
      }),
    );
    expect(server.chatRequests).toHaveLength(3);
    expect(resumed[0]).toMatchObject({
      type: 'RUN_STARTED',
      seq: first.length + 1,
      resumedTaskNames: ['a', 'b'],
    });
    expect(eventsOfType(resumed, 'TASK_STARTED').map((e) => e.taskName)).toEqual(['c']);
    expect(resumed.at(-1)).toMatchObject({
      type: 'RUN_SUCCEEDED',
      output: 'c-output (saw a,b)',
      tasks: { a: { output: 'a-output (saw none)' }, b: { output: 'b-output (saw a)' } },
    });
  });
});
