import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { createScriptedProvider, type RunEvent, runCrew } from '../src/index.js';
import { collectEvents, testAgent } from './support/run-helpers.js';

const crew = {
  name: 'c',
  agents: [testAgent('a', { provider: 'scripted' as const, name: 'demo' })],
  tasks: [
    { name: 'one', description: 'one', agent: 'a' },
    { name: 'two', description: 'two', agent: 'a' },
  ],
};

describe('run lifecycle', () => {
  it('numbers events 1..n without holes and ends with exactly one terminal event', async () => {
    const scripted = createScriptedProvider([{ text: 'first answer here' }, { text: 'second' }]);
    const seen: RunEvent[] = [];
    const run = runCrew({ crew, providers: { scripted }, onEvent: (event) => seen.push(event) });
    const events = await collectEvents(run);
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
    expect(events.map((e) => e.type).filter((t) => t.startsWith('RUN_'))).toEqual([
      'RUN_STARTED',
      'RUN_SUCCEEDED',
    ]);
    expect(seen).toEqual(events);
    expect(new Set(events.map((e) => e.runId))).toEqual(new Set([run.runId]));
  });

  it('does not leave listeners on a long-lived signal shared by many runs', async () => {
    const shutdown = new AbortController();
    for (let i = 0; i < 5; i++) {
      const scripted = createScriptedProvider([{ text: 'x' }, { text: 'y' }]);
      const result = await runCrew({ crew, providers: { scripted }, signal: shutdown.signal }).result();
      expect(result.status).toBe('succeeded');
    }
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(getEventListeners(shutdown.signal, 'abort')).toHaveLength(0);
  });

  it('run.cancel() stops a run and result() reports it', async () => {
    const scripted = createScriptedProvider([{ text: 'a b c d e f g h i j k l m n o p', chunkDelayMs: 30 }]);
    const run = runCrew({ crew, providers: { scripted } });
    setTimeout(() => run.cancel('user pressed stop'), 60);
    const result = await run.result();
    expect(result).toMatchObject({ status: 'cancelled', reason: 'user pressed stop' });
  });

  it('an onEvent observer that throws fails the run instead of corrupting it', async () => {
    const scripted = createScriptedProvider([{ text: 'x' }, { text: 'y' }]);
    const run = runCrew({
      crew,
      providers: { scripted },
      onEvent: (event) => {
        if (event.type === 'TASK_COMPLETED') throw new Error('observer broke');
      },
    });
    const result = await run.result();
    expect(result.status).toBe('failed');
    if (result.status === 'failed') {
      expect(result.error.code).toBe('INTERNAL_ERROR');
      expect(result.error.message).toContain('observer broke');
    }
  });

  it('can be iterated once, and not after result() started it without keeping events', async () => {
    const scripted = createScriptedProvider([{ text: 'x' }, { text: 'y' }]);
    const iterated = runCrew({ crew, providers: { scripted } });
    await collectEvents(iterated);
    expect(() => iterated[Symbol.asyncIterator]()).toThrow(/only once/);
    const resulted = runCrew({
      crew,
      providers: { scripted: createScriptedProvider([{ text: 'x' }, { text: 'y' }]) },
    });
    await resulted.result();
    expect(() => resulted[Symbol.asyncIterator]()).toThrow(/before calling result/);
  });
});
