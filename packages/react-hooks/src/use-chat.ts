import {
  accumulateChat,
  type ChatMessage,
  type ChatState,
  initialChatState,
  type Message,
  type SentMessage,
  type StreamingReply,
  type Thread,
  TroupeError,
} from '@troupe/sdk';
import { useCallback, useEffect, useRef, useState } from 'react';
import { asTroupeError } from './as-troupe-error';
import { deferredStart } from './deferred-start';
import { useTroupeClient } from './troupe-provider';
import { useWhenOnline } from './when-online';

export interface UseChatOptions {
  /** How many of the newest messages to load first (default 50). */
  history?: number;
}

export interface UseChatResult {
  /** The thread, once loaded. */
  thread: Thread | undefined;
  /** Oldest first: the loaded history, then every message since (yours at once, when sent). */
  messages: ChatMessage[];
  /** The reply being written, before it becomes a message. */
  streaming: StreamingReply | null;
  /** `loading` until the history is in; `running` while a reply is written; `waiting` for an approval. */
  status: 'loading' | ChatState['status'];
  /** A failed load, stream or send (NOT_FOUND, CONFLICT, …). */
  error: TroupeError | undefined;
  /** Why the last reply failed or was cancelled. */
  runError: ChatState['error'];
  /** Sends a message; resolves to it and its run, or undefined when it failed (see `error`). */
  send(content: string): Promise<SentMessage | undefined>;
  /** Cancels the reply being written. */
  stop(): Promise<void>;
  /**
   * Opens the thread's stream again after it failed (UNAVAILABLE once its reconnects ran out: the
   * server was down for a while), after the last event shown: nothing lost, nothing twice. A load
   * that failed is tried again. It happens by itself when the browser comes back online.
   */
  reconnect(): void;
}

interface Snapshot {
  threadId: string | null | undefined;
  thread: Thread | undefined;
  chat: ChatState;
  loaded: boolean;
  error: TroupeError | undefined;
  /** The stream is open (or opening): reconnect() has nothing to do. */
  live: boolean;
  /** Why the stream (or the load) ended: `error` also shows failed sends and stops. */
  streamError: TroupeError | undefined;
  /** Bumped by reconnect(): the stream opens again. */
  attempt: number;
}

const fresh = (threadId: string | null | undefined): Snapshot => ({
  threadId,
  thread: undefined,
  chat: initialChatState(),
  loaded: false,
  error: undefined,
  live: Boolean(threadId),
  streamError: undefined,
  attempt: 0,
});

function chatMessage(message: Message): ChatMessage {
  const { id, role, content, createdAt } = message;
  return { id, role, content, createdAt, runId: message.run?.id ?? null };
}

/**
 * The run answering when the chat was opened, from the loaded messages: the first unfinished one
 * that runs (or waits for an approval), else the first queued. Its start came before the stream.
 */
function answering(messages: Message[]): { runId: string; status: 'running' | 'waiting' } | null {
  const open = messages.filter((m) => m.role === 'USER' && m.run);
  const run =
    open.find((m) => m.run!.status === 'RUNNING' || m.run!.status === 'WAITING_FOR_APPROVAL') ??
    open.find((m) => m.run!.status === 'QUEUED');
  if (!run) return null;
  return { runId: run.run!.id, status: run.run!.status === 'WAITING_FOR_APPROVAL' ? 'waiting' : 'running' };
}

/** The snapshot with its failed stream opened again (as it is while the stream is open). */
function reopened(snapshot: Snapshot): Snapshot {
  if (snapshot.live) return snapshot;
  const error = snapshot.error === snapshot.streamError ? undefined : snapshot.error;
  return { ...snapshot, live: true, streamError: undefined, error, attempt: snapshot.attempt + 1 };
}

/** `messages` followed by those of `more` it does not hold yet. */
function withMessages(messages: ChatMessage[], more: ChatMessage[]): ChatMessage[] {
  const known = new Set(messages.map((m) => m.id));
  const added = more.filter((m) => !known.has(m.id));
  if (!added.length) return messages;
  // In the order they were written: a message sent while the history was still loading goes after
  // it, not above it (the sort is stable: messages of the same time keep their order).
  return [...messages, ...added].sort((a, b) => Date.parse(a.createdAt) - Date.parse(b.createdAt));
}

/**
 * A chat over a thread: its history, then every message and the reply as it is written, with
 * `send()` and `stop()`. One subscription per mounted hook (StrictMode included), closed on
 * unmount or when `threadId` changes.
 */
export function useChat(threadId: string | null | undefined, options: UseChatOptions = {}): UseChatResult {
  const client = useTroupeClient();
  const history = options.history ?? 50;
  const [snapshot, setSnapshot] = useState<Snapshot>(() => fresh(threadId));
  const current = snapshot.threadId === threadId ? snapshot : fresh(threadId);
  const activeRunRef = useRef<string | null>(null);
  activeRunRef.current = current.chat.activeRunId;

  // Changes to this thread's state only: an answer that comes after the user moved to another
  // thread (a send, a failed stop) must not replace that thread's state.
  const update = useCallback(
    (change: (previous: Snapshot) => Snapshot) =>
      setSnapshot((previous) => (previous.threadId === threadId ? change(previous) : previous)),
    [threadId],
  );

  // When the stream opens again (reconnect()), it goes on after the last event shown; the
  // history is loaded again only if it never was.
  const resumeRef = useRef<{ threadId: string | null | undefined; lastSeq: number } | null>(null);
  resumeRef.current = current.thread ? { threadId, lastSeq: current.chat.lastSeq } : null;

  // biome-ignore lint/correctness/useExhaustiveDependencies: reconnect() bumps `attempt` to open the stream again.
  useEffect(() => {
    if (!threadId) return;
    setSnapshot((previous) => (previous.threadId === threadId ? previous : fresh(threadId)));
    const resume = resumeRef.current?.threadId === threadId ? resumeRef.current : null;
    return deferredStart(async (signal) => {
      try {
        let afterSeq: number;
        if (resume) afterSeq = resume.lastSeq;
        else {
          // The thread's lastSeq first, then the messages: a message in both is shown once.
          const thread = await client.threads.get(threadId, { signal });
          if (!thread) throw new TroupeError(`Thread not found: ${threadId}`, { code: 'NOT_FOUND' });
          const page = await client.threads.messages(threadId, { last: history }, { signal });
          const open = answering(page.nodes);
          // A reply being written streams in again from its start: the events of its run so far
          // are applied once more (messages already shown are not added twice).
          afterSeq = Math.min(thread.resumeSeq, thread.lastSeq);
          update((previous) => ({
            ...previous,
            thread,
            loaded: true,
            chat: {
              ...previous.chat,
              ...(open && !previous.chat.activeRunId ? { activeRunId: open.runId, status: open.status } : {}),
              lastSeq: Math.max(previous.chat.lastSeq, afterSeq),
              messages: withMessages(previous.chat.messages, page.nodes.map(chatMessage)),
            },
          }));
        }
        for await (const event of client.threads.stream(threadId, { afterSeq, signal })) {
          update((previous) => ({ ...previous, chat: accumulateChat(previous.chat, event) }));
        }
      } catch (error) {
        if (!signal.aborted)
          update((previous) => {
            const failure = asTroupeError(error);
            return { ...previous, loaded: true, live: false, streamError: failure, error: failure };
          });
      }
    });
  }, [client, threadId, history, update, current.attempt]);

  const reconnect = useCallback(() => update(reopened), [update]);
  useWhenOnline(Boolean(threadId) && !current.live && current.streamError?.code === 'UNAVAILABLE', reconnect);

  const send = useCallback(
    async (content: string) => {
      if (!threadId) return undefined;
      try {
        const sent = await client.threads.send({ threadId, content });
        update((previous) => {
          const { chat } = previous;
          // The message's own event came first (over the stream, before this answer): the chat
          // already follows its run, which may even have ended (its error shown).
          // A stream that failed meanwhile opens again: the reply must show.
          const live = reopened(previous);
          if (chat.messages.some((m) => m.id === sent.message.id)) return { ...live, error: undefined };
          return {
            ...live,
            error: undefined,
            chat: {
              ...chat,
              messages: withMessages(chat.messages, [chatMessage(sent.message)]),
              status: chat.status === 'idle' ? 'running' : chat.status,
              activeRunId: chat.activeRunId ?? sent.run.id,
              error: null,
            },
          };
        });
        return sent;
      } catch (error) {
        update((previous) => ({ ...previous, error: asTroupeError(error) }));
        return undefined;
      }
    },
    [client, threadId, update],
  );

  const stop = useCallback(async () => {
    const runId = activeRunRef.current;
    if (!runId) return;
    await client.runs.cancel(runId).then(
      () => undefined,
      (error: unknown) => update((previous) => ({ ...previous, error: asTroupeError(error) })),
    );
  }, [client, update]);

  return {
    thread: current.thread,
    messages: current.chat.messages,
    streaming: current.chat.streaming,
    status: current.loaded ? current.chat.status : 'loading',
    error: current.error,
    runError: current.chat.error,
    send,
    stop,
    reconnect,
  };
}
