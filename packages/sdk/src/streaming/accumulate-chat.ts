import type { MessageRole } from '../generated/graphql';
import type { ThreadEvent } from './run-event';

/** A message of a chat. */
export interface ChatMessage {
  id: string;
  role: MessageRole;
  content: string;
  createdAt: string;
  /** USER: the run the message started; ASSISTANT: the run that wrote it. */
  runId: string | null;
}

/** The reply being written, before it becomes a message. */
export interface StreamingReply {
  runId: string;
  /** Text of the current step so far. */
  text: string;
}

/** What a thread's events add up to: the state `useChat()` shows. */
export interface ChatState {
  /** Thread sequence number of the last event applied. */
  lastSeq: number;
  /** Oldest first, each once. */
  messages: ChatMessage[];
  streaming: StreamingReply | null;
  /** `running` from the user's message until the reply (or failure); `waiting` for an approval. */
  status: 'idle' | 'running' | 'waiting';
  /** The run answering now (or about to): the one `stop()` cancels. */
  activeRunId: string | null;
  /** Runs of messages sent while another one answered (ENQUEUE threads), oldest first: they answer next. */
  queuedRunIds: string[];
  /** Why the last run failed or was cancelled. */
  error: { code: string; message: string } | null;
}

/** A chat state from loaded messages, to be continued by events after `lastSeq`. */
export function initialChatState(messages: ChatMessage[] = [], lastSeq = 0): ChatState {
  return {
    lastSeq,
    messages,
    streaming: null,
    status: 'idle',
    activeRunId: null,
    queuedRunIds: [],
    error: null,
  };
}

const without = (ids: string[], id: string) => (ids.includes(id) ? ids.filter((x) => x !== id) : ids);

/**
 * `messages` with `message` in its place by creation time, once. A live message is the newest and
 * goes last; a replayed one can be older than messages already loaded (a chat opened mid-reply
 * with a short history and messages waiting behind the reply) and goes before them.
 */
function withMessage(messages: ChatMessage[], message: ChatMessage): ChatMessage[] {
  if (messages.some((m) => m.id === message.id)) return messages;
  const at = Date.parse(message.createdAt);
  let i = messages.length;
  while (i > 0 && Date.parse(messages[i - 1]!.createdAt) > at) i--;
  return [...messages.slice(0, i), message, ...messages.slice(i)];
}

/** The run `runId` ended: the next queued one answers, or the chat is idle. */
function ended(state: ChatState, runId: string, error: ChatState['error']): ChatState {
  const queuedRunIds = without(state.queuedRunIds, runId);
  // A queued run that ended before its turn (cancelled): the one answering goes on.
  if (state.activeRunId !== null && state.activeRunId !== runId) return { ...state, queuedRunIds };
  const streaming = state.streaming?.runId === runId ? null : state.streaming;
  const [next, ...rest] = queuedRunIds;
  if (next !== undefined)
    return { ...state, streaming, status: 'running', activeRunId: next, queuedRunIds: rest, error };
  return { ...state, streaming, status: 'idle', activeRunId: null, queuedRunIds, error };
}

/** `runId` writes now: it is the active run (taken off the queue). */
function answering(state: ChatState, runId: string): Pick<ChatState, 'activeRunId' | 'queuedRunIds'> {
  if (state.activeRunId === null || state.activeRunId === runId || state.queuedRunIds.includes(runId))
    return { activeRunId: runId, queuedRunIds: without(state.queuedRunIds, runId) };
  return { activeRunId: state.activeRunId, queuedRunIds: state.queuedRunIds };
}

/**
 * Applies one thread event and returns the next state (a reducer). Events at or below
 * `state.lastSeq` are ignored, and a message already in the list is not added twice.
 */
export function accumulateChat(state: ChatState, event: ThreadEvent): ChatState {
  if (event.seq <= state.lastSeq) return state;
  const next: ChatState = { ...state, lastSeq: event.seq };
  const runId = event.runId;
  switch (event.type) {
    case 'MESSAGE_CREATED': {
      const { message } = event.data;
      const messages = withMessage(state.messages, { ...message, runId });
      if (message.role === 'USER') {
        // Sent while another run answers: it waits its turn.
        if (state.activeRunId !== null && state.activeRunId !== runId)
          return state.queuedRunIds.includes(runId)
            ? { ...next, messages }
            : { ...next, messages, queuedRunIds: [...state.queuedRunIds, runId] };
        return { ...next, messages, status: 'running', activeRunId: runId, error: null };
      }
      if (message.role === 'ASSISTANT')
        return { ...next, messages, streaming: state.streaming?.runId === runId ? null : state.streaming };
      return { ...next, messages };
    }
    case 'RUN_STARTED':
      return {
        ...next,
        ...answering(state, runId),
        status: 'running',
        streaming: { runId, text: '' },
        error: null,
      };
    // A chat opened while a reply is written sees its run first here (its start came before).
    case 'TASK_STARTED':
      return { ...next, ...answering(state, runId), status: 'running', streaming: { runId, text: '' } };
    case 'TOKEN': {
      const text = (state.streaming?.runId === runId ? state.streaming.text : '') + event.delta;
      return {
        ...next,
        ...answering(state, runId),
        status: state.status === 'idle' ? 'running' : state.status,
        streaming: { runId, text },
      };
    }
    case 'APPROVAL_REQUESTED':
      return { ...next, status: 'waiting' };
    case 'TASK_COMPLETED':
      return { ...next, status: 'running' };
    case 'RUN_RETRYING':
      // The reply starts over with the next attempt.
      return { ...next, streaming: state.streaming?.runId === runId ? null : state.streaming };
    case 'RUN_SUCCEEDED':
      return ended(next, runId, null);
    case 'RUN_FAILED':
      return ended(next, runId, { code: event.data.error.code, message: event.data.error.message });
    case 'RUN_CANCELLED':
      return ended(next, runId, { code: 'CANCELLED', message: event.data.reason });
    default:
      return next;
  }
}
