import { graphql } from '../generated/gql';
import type {
  CreateThreadInput,
  MessageFieldsFragment,
  SendMessageInput,
  SendMessageMutation,
  ThreadFieldsFragment,
  ThreadsQueryVariables,
} from '../generated/graphql';
import type { ThreadEvent } from '../streaming/run-event';
import type { StreamContext, StreamOptions } from '../streaming/stream-context';
import { isTroupeError } from '../troupe-error';
import type { RequestOptions, RunDocument } from '../typed-document';
import { type Page, toPage } from './page';

/** A chat: one agent or a whole crew answers each message. */
export type Thread = ThreadFieldsFragment;
/** A thread as `threads.get()` gives it. */
export type ThreadWithResume = Thread & {
  /** Where to stream from after loading the messages: `lastSeq`, or just before the answering run's first event. */
  resumeSeq: number;
};
/** A message of a thread. */
export type Message = MessageFieldsFragment;
/** The user's message and the run that answers it. */
export type SentMessage = SendMessageMutation['sendMessage'];

export interface ListThreadsOptions {
  first?: number;
  after?: string;
  /** Only threads answered by this agent. */
  agentId?: string;
  /** Only threads answered by this crew. */
  crewId?: string;
}

export interface ListMessagesOptions {
  /** The first `first` messages (oldest first) after `after`. */
  first?: number;
  after?: string;
  /** The last `last` messages before `before`: `{ last: 50 }` is the newest 50, still oldest first. */
  last?: number;
  before?: string;
}

export interface ThreadsResource {
  /** Creates a thread answered by an agent (`agentId`) or a crew (`crewId`). */
  create(input: CreateThreadInput, options?: RequestOptions): Promise<Thread>;
  /**
   * One thread; null when this caller can see no thread with this id. `resumeSeq`: the `afterSeq`
   * to stream from after loading its messages, so a reply being written shows from its start.
   */
  get(id: string, options?: RequestOptions): Promise<ThreadWithResume | null>;
  /** Threads, newest first (a session token sees its own). */
  list(variables?: ListThreadsOptions, options?: RequestOptions): Promise<Page<Thread>>;
  /** Deletes a thread with its messages, runs and their logs. */
  delete(id: string, options?: RequestOptions): Promise<string>;
  /**
   * Adds the user's message and starts the run that answers it. While an earlier run is still going,
   * a REJECT thread answers CONFLICT and an ENQUEUE thread queues the run.
   */
  send(input: SendMessageInput, options?: RequestOptions): Promise<SentMessage>;
  /** A page of the thread's messages, oldest first. */
  messages(
    threadId: string,
    variables?: ListMessagesOptions,
    options?: RequestOptions,
  ): Promise<Page<Message>>;
  /**
   * The thread's events after `afterSeq` (messages, tokens and steps of the runs answering them),
   * stored ones first, then live. It never ends by itself: leave the loop, call `return()` or abort.
   * Reconnects like `runs.stream()`, without losing or repeating an event.
   */
  stream(threadId: string, options?: StreamOptions): AsyncIterableIterator<ThreadEvent>;
}

graphql(`
  fragment ThreadFields on Thread {
    id
    title
    concurrency
    historyTokens
    lastSeq
    subject
    createdAt
    updatedAt
    agent {
      id
      name
    }
    crew {
      id
      name
    }
  }
`);

graphql(`
  fragment MessageFields on Message {
    id
    role
    content
    createdAt
    run {
      id
      status
    }
  }
`);

const CreateThreadDocument = graphql(`
  mutation CreateThread($input: CreateThreadInput!) {
    createThread(input: $input) {
      thread {
        ...ThreadFields
      }
    }
  }
`);

const ThreadByIdDocument = graphql(`
  query Thread($id: ID!) {
    thread(id: $id) {
      ...ThreadFields
      resumeSeq
    }
  }
`);

const ThreadsDocument = graphql(`
  query Threads($first: Int, $after: String, $agentId: ID, $crewId: ID) {
    threads(first: $first, after: $after, agentId: $agentId, crewId: $crewId) {
      edges {
        node {
          ...ThreadFields
        }
      }
      pageInfo {
        endCursor
        hasNextPage
        startCursor
        hasPreviousPage
      }
    }
  }
`);

const DeleteThreadDocument = graphql(`
  mutation DeleteThread($id: ID!) {
    deleteThread(id: $id) {
      deletedId
    }
  }
`);

const SendMessageDocument = graphql(`
  mutation SendMessage($input: SendMessageInput!) {
    sendMessage(input: $input) {
      message {
        ...MessageFields
      }
      run {
        id
        status
      }
    }
  }
`);

const ThreadMessagesDocument = graphql(`
  query ThreadMessages($id: ID!, $first: Int, $after: String, $last: Int, $before: String) {
    thread(id: $id) {
      messages(first: $first, after: $after, last: $last, before: $before) {
        edges {
          node {
            ...MessageFields
          }
        }
        pageInfo {
          endCursor
          hasNextPage
          startCursor
          hasPreviousPage
        }
      }
    }
  }
`);

const ThreadEventsDocument = graphql(`
  subscription ThreadEvents($threadId: ID!, $afterSeq: Int) {
    threadEvents(threadId: $threadId, afterSeq: $afterSeq) {
      seq
      runId
      runSeq
      type
      at
      taskRunId
      delta
      data
    }
  }
`);

export function threadsResource(run: RunDocument, streams: StreamContext): ThreadsResource {
  return {
    async create(input, options) {
      return (await run(CreateThreadDocument, { input }, options)).createThread.thread;
    },
    async get(id, options) {
      try {
        return (await run(ThreadByIdDocument, { id }, options)).thread;
      } catch (error) {
        if (isTroupeError(error) && error.code === 'NOT_FOUND') return null;
        throw error;
      }
    },
    async list(variables, options) {
      const vars: ThreadsQueryVariables = {
        first: variables?.first,
        after: variables?.after,
        agentId: variables?.agentId,
        crewId: variables?.crewId,
      };
      return toPage((await run(ThreadsDocument, vars, options)).threads);
    },
    async delete(id, options) {
      return (await run(DeleteThreadDocument, { id }, options)).deleteThread.deletedId;
    },
    async send(input, options) {
      return (await run(SendMessageDocument, { input }, options)).sendMessage;
    },
    async messages(threadId, variables, options) {
      const { thread } = await run(ThreadMessagesDocument, { id: threadId, ...variables }, options);
      return thread
        ? toPage(thread.messages)
        : {
            nodes: [],
            pageInfo: { endCursor: null, hasNextPage: false, startCursor: null, hasPreviousPage: false },
          };
    },
    stream(threadId, options) {
      return streams.open<ThreadEvent>(
        {
          query: ThreadEventsDocument.toString(),
          operationName: 'ThreadEvents',
          variables: (afterSeq) => ({ threadId, afterSeq }),
          field: 'threadEvents',
        },
        options,
      );
    },
  };
}
