import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCrew } from '../src/index.js';
import { createOpenAICompatibleTestServer, type OpenAICompatibleTestServer } from './support/index.js';
import { collectEvents, eventsOfType, testAgent } from './support/run-helpers.js';

let server: OpenAICompatibleTestServer;
beforeEach(async () => {
  server = await createOpenAICompatibleTestServer();
});
afterEach(async () => {
  await server.close();
});

function crew(maxRevisions?: number) {
  return {
    name: 'press',
    agents: [testAgent('writer', { provider: 'openai' as const, name: 'm', baseUrl: server.url })],
    tasks: [
      {
        name: 'draft',
        description: 'Draft a press release',
        agent: 'writer',
        requiresApproval: true,
        maxRevisions,
      },
      { name: 'publish', description: 'Publish it', agent: 'writer' },
    ],
  };
}

describe('approval', () => {
  it('pauses with APPROVAL_REQUESTED until run.respond approves, then continues', async () => {
    server.enqueue({ text: 'Draft v1' }, { text: 'Published' });
    const run = runCrew({ crew: crew(), providers: { openai: { apiKey: 'k' } } });
    const events = [];
    for await (const event of run) {
      events.push(event);
      if (event.type === 'APPROVAL_REQUESTED') {
        // Nothing else happens while the task waits.
        await new Promise((resolve) => setTimeout(resolve, 100));
        expect(server.chatRequests).toHaveLength(1);
        expect(run.respond({ taskName: 'other', approved: true })).toBe(false);
        expect(run.respond({ taskName: 'draft', approved: true, feedback: 'ship it' })).toBe(true);
      }
    }
    expect(eventsOfType(events, 'APPROVAL_REQUESTED')).toEqual([
      expect.objectContaining({ taskName: 'draft', agentName: 'writer', output: 'Draft v1', revision: 0 }),
    ]);
    const completed = eventsOfType(events, 'TASK_COMPLETED');
    expect(completed[0]).toMatchObject({
      taskName: 'draft',
      output: 'Draft v1',
      approval: { approved: true, feedback: 'ship it' },
    });
    expect(events.at(-1)).toMatchObject({ type: 'RUN_SUCCEEDED', output: 'Published' });
    expect(server.chatRequests).toHaveLength(2);
  });

  it('a rejection sends the feedback back for a revision (onApproval callback)', async () => {
    server.enqueue({ text: 'Draft v1' }, { text: 'Draft v2, shorter' }, { text: 'Published' });
    const decisions: string[] = [];
    const events = await collectEvents(
      runCrew({
        crew: crew(),
        providers: { openai: { apiKey: 'k' } },
        onApproval: async (request) => {
          decisions.push(request.output);
          return request.revision === 0
            ? { approved: false, feedback: 'Too long, cut it' }
            : { approved: true };
        },
      }),
    );
    expect(decisions).toEqual(['Draft v1', 'Draft v2, shorter']);
    const revisionRequest = server.chatRequests[1]!.body as {
      messages: Array<{ role: string; content: string }>;
    };
    expect(revisionRequest.messages.at(-2)).toMatchObject({ role: 'assistant', content: 'Draft v1' });
    expect(revisionRequest.messages.at(-1)!.content).toContain('Too long, cut it');
    expect(eventsOfType(events, 'APPROVAL_REQUESTED').map((e) => e.revision)).toEqual([0, 1]);
    expect(eventsOfType(events, 'TASK_COMPLETED')[0]!.output).toBe('Draft v2, shorter');
    expect(events.at(-1)!.type).toBe('RUN_SUCCEEDED');
  });

  it('can be answered synchronously from onEvent, e.g. by a server worker', async () => {
    server.enqueue({ text: 'Draft v1' }, { text: 'Published' });
    let answered = false;
    const run = runCrew({
      crew: crew(),
      providers: { openai: { apiKey: 'k' } },
      onEvent: (event) => {
        if (event.type === 'APPROVAL_REQUESTED')
          answered = run.respond({ taskName: event.taskName, approved: true });
      },
    });
    const result = await run.result();
    expect(answered).toBe(true);
    expect(result).toMatchObject({ status: 'succeeded', output: 'Published' });
  });

  it('fails with APPROVAL_REJECTED once the revisions are used up', async () => {
    server.enqueue({ text: 'Draft v1' });
    const run = runCrew({ crew: crew(0), providers: { openai: { apiKey: 'k' } } });
    const events = [];
    for await (const event of run) {
      events.push(event);
      if (event.type === 'APPROVAL_REQUESTED')
        run.respond({ taskName: 'draft', approved: false, feedback: 'No.' });
    }
    expect(events.at(-1)).toMatchObject({ type: 'RUN_FAILED', error: { code: 'APPROVAL_REJECTED' } });
    expect(eventsOfType(events, 'TASK_COMPLETED')).toHaveLength(0);
    expect(server.chatRequests).toHaveLength(1);
  });

  it('cancelled from onEvent as the approval is requested: the wait ends, nothing waits for an answer', async () => {
    server.enqueue({ text: 'Draft v1' });
    const run = runCrew({
      crew: crew(),
      providers: { openai: { apiKey: 'k' } },
      onEvent: (event) => {
        if (event.type === 'APPROVAL_REQUESTED') run.cancel('the user left');
      },
    });
    const result = await run.result();
    expect(result.status).toBe('cancelled');
    // The task is not left waiting: an answer now has nobody to go to.
    await new Promise((r) => setTimeout(r, 20));
    expect(run.respond({ taskName: 'draft', approved: true })).toBe(false);
  });

  it('cancelled from onEvent mid-stream: events come in sequence order, the terminal one last', async () => {
    server.enqueue({ text: ['a ', 'b ', 'c '], chunkDelayMs: 5 });
    const run = runCrew({
      crew: crew(),
      providers: { openai: { apiKey: 'k' } },
      onEvent: (event) => {
        if (event.type === 'TOKEN') run.cancel('over budget');
      },
    });
    const events = [];
    for await (const event of run) events.push(event);
    expect(events.map((e) => e.seq)).toEqual(events.map((_e, i) => i + 1));
    expect(events.at(-1)!.type).toBe('RUN_CANCELLED');
  });

  it('cancelling while waiting for approval ends the run with RUN_CANCELLED', async () => {
    server.enqueue({ text: 'Draft v1' });
    const controller = new AbortController();
    const run = runCrew({ crew: crew(), providers: { openai: { apiKey: 'k' } }, signal: controller.signal });
    const events = [];
    for await (const event of run) {
      events.push(event);
      if (event.type === 'APPROVAL_REQUESTED') controller.abort();
    }
    expect(events.at(-1)!.type).toBe('RUN_CANCELLED');
  });
});
