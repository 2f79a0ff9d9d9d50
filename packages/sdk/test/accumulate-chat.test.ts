import { describe, expect, it } from 'vitest';
import { accumulateChat, type ChatState, initialChatState, type ThreadEvent } from '../src/index';

// Thread logs as the server writes them, to check what a chat shows at each point.
function log() {
  const events: ThreadEvent[] = [];
  const add = (runId: string, type: string, extra: Record<string, unknown> = {}) =>
    events.push({
      seq: events.length + 1,
      runId,
      runSeq: 0,
      type,
      at: '2026-01-01T00:00:00Z',
      taskRunId: null,
      delta: null,
      data: null,
      ...extra,
    } as unknown as ThreadEvent);
  const message = (runId: string, role: 'USER' | 'ASSISTANT', content: string) =>
    add(runId, 'MESSAGE_CREATED', {
      data: { message: { id: `${runId}-${role}`, role, content, createdAt: '2026-01-01T00:00:00Z' } },
    });
  const reply = (runId: string, words: string[]) => {
    add(runId, 'RUN_STARTED');
    add(runId, 'TASK_STARTED', { data: { taskName: 'chat', agentName: 'a' } });
    for (const word of words) add(runId, 'TOKEN', { delta: word, data: { taskName: 'chat' } });
  };
  return { events, add, message, reply };
}

const fold = (events: ThreadEvent[], state: ChatState = initialChatState()) =>
  events.reduce(accumulateChat, state);

describe('accumulateChat on an ENQUEUE thread', () => {
  it('keeps the reply being written active while later messages wait, then hands over in order', () => {
    const { events, message, reply, add } = log();
    message('a', 'USER', 'one');
    reply('a', ['A1 ', 'A2']);
    message('b', 'USER', 'two');
    message('c', 'USER', 'three');
    expect(fold(events)).toMatchObject({
      status: 'running',
      activeRunId: 'a',
      queuedRunIds: ['b', 'c'],
      streaming: { runId: 'a', text: 'A1 A2' },
    });
    message('a', 'ASSISTANT', 'A1 A2');
    add('a', 'RUN_SUCCEEDED', { data: { output: 'A1 A2' } });
    expect(fold(events)).toMatchObject({
      status: 'running',
      activeRunId: 'b',
      queuedRunIds: ['c'],
      streaming: null,
    });
    // The last waiting message cancelled before its turn: b goes on.
    reply('b', ['B1']);
    add('c', 'RUN_CANCELLED', { data: { reason: 'stopped' } });
    expect(fold(events)).toMatchObject({
      status: 'running',
      activeRunId: 'b',
      queuedRunIds: [],
      streaming: { runId: 'b', text: 'B1' },
      error: null,
    });
    add('b', 'RUN_FAILED', { data: { error: { code: 'PROVIDER_ERROR', message: 'down' } } });
    expect(fold(events)).toMatchObject({
      status: 'idle',
      activeRunId: null,
      streaming: null,
      error: { code: 'PROVIDER_ERROR' },
    });
  });

  it('replayed from just before the answering run (a chat opened mid-reply), shows its whole text', () => {
    const { events, message, reply, add } = log();
    message('z', 'USER', 'earlier');
    reply('z', ['Z']);
    message('a', 'USER', 'now'); // sent while z was still writing
    const resumeSeq = events.length - 1;
    message('z', 'ASSISTANT', 'Z');
    add('z', 'RUN_SUCCEEDED', { data: { output: 'Z' } });
    reply('a', ['A1 ', 'A2 ', 'A3']);
    // What the chat loaded: the messages, and a as the run answering.
    const loaded: ChatState = {
      ...initialChatState(
        [
          { id: 'z-USER', role: 'USER', content: 'earlier', createdAt: '', runId: 'z' },
          { id: 'z-ASSISTANT', role: 'ASSISTANT', content: 'Z', createdAt: '', runId: 'z' },
          { id: 'a-USER', role: 'USER', content: 'now', createdAt: '', runId: 'a' },
        ],
        resumeSeq,
      ),
      status: 'running',
      activeRunId: 'a',
    };
    const state = fold(events, loaded);
    expect(state).toMatchObject({
      status: 'running',
      activeRunId: 'a',
      queuedRunIds: [],
      streaming: { runId: 'a', text: 'A1 A2 A3' },
    });
    expect(state.messages.map((m) => m.id)).toEqual(['z-USER', 'z-ASSISTANT', 'a-USER']);
  });
});

describe('accumulateChat message order', () => {
  const at = (minute: number) => `2026-01-01T00:0${minute}:00.000Z`;
  const created = (seq: number, id: string, minute: number): ThreadEvent =>
    ({
      seq,
      runId: id,
      runSeq: 0,
      type: 'MESSAGE_CREATED',
      at: at(minute),
      taskRunId: null,
      delta: null,
      data: { message: { id, role: 'USER', content: id, createdAt: at(minute) } },
    }) as unknown as ThreadEvent;

  it('puts replayed messages older than the loaded history before it, each once', () => {
    // A chat opened mid-reply with `history: 2`: the page holds the newest two messages (4 and 5)
    // of those waiting behind the reply; the replay from before the reply brings 2..5 again.
    const loaded = initialChatState(
      [
        { id: 'm4', role: 'USER', content: 'm4', createdAt: at(4), runId: 'm4' },
        { id: 'm5', role: 'USER', content: 'm5', createdAt: at(5), runId: 'm5' },
      ],
      0,
    );
    const state = [created(1, 'm2', 2), created(2, 'm3', 3), created(3, 'm4', 4), created(4, 'm5', 5)].reduce(
      accumulateChat,
      loaded,
    );
    expect(state.messages.map((m) => m.id)).toEqual(['m2', 'm3', 'm4', 'm5']);
    // A live message, newer than all, goes last; one of the same time goes after those of its time.
    const live = [created(5, 'm6', 6), created(6, 'm6b', 6)].reduce(accumulateChat, state);
    expect(live.messages.map((m) => m.id)).toEqual(['m2', 'm3', 'm4', 'm5', 'm6', 'm6b']);
  });
});
