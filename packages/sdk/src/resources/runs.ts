import { graphql } from '../generated/gql';
import type {
  RespondToRunInput,
  RunFieldsFragment,
  RunStatus,
  RunsQueryVariables,
  StartRunInput,
} from '../generated/graphql';
import { accumulateRun, initialRunState, type RunState } from '../streaming/accumulate-run';
import type { RunEvent } from '../streaming/run-event';
import type { StreamContext, StreamOptions } from '../streaming/stream-context';
import { isTroupeError } from '../troupe-error';
import type { RequestOptions, RunDocument } from '../typed-document';
import { type Page, toPage } from './page';

/** A run of a crew with its tasks, status, output and usage. */
export type Run = RunFieldsFragment;
export type TaskRun = Run['taskRuns'][number];
export type Usage = Run['usage'];

export interface ListRunsOptions {
  /** Page size. */
  first?: number;
  /** `pageInfo.endCursor` of the previous page. */
  after?: string;
  /** Only runs with this status. */
  status?: RunStatus;
  /** Only runs of this crew. */
  crewId?: string;
}

export interface RunsResource {
  /** Starts a run of the crew's current version; the same `idempotencyKey` returns the same run. */
  start(input: StartRunInput, options?: RequestOptions): Promise<Run>;
  /** One run; null when this caller can see no run with this id. */
  get(id: string, options?: RequestOptions): Promise<Run | null>;
  /** Runs, newest first, one page at a time. */
  list(variables?: ListRunsOptions, options?: RequestOptions): Promise<Page<Run>>;
  /** Cancels a queued or running run. */
  cancel(id: string, options?: RequestOptions): Promise<Run>;
  /** Approves or rejects (with feedback) a task waiting for approval; the run resumes. */
  respond(input: RespondToRunInput, options?: RequestOptions): Promise<Run>;
  /** Runs a FAILED or CANCELLED run again; its event log continues after its last sequence number. */
  retry(id: string, options?: RequestOptions): Promise<Run>;
  /**
   * The run's events after `afterSeq` (default 0: from the start), stored ones first, then live;
   * ends after the run's last terminal event (a retried run's log goes on after its earlier one).
   * Reconnects after a lost connection and resumes after the
   * last event seen: no event is lost or repeated. Leaving the loop (break), return() or the signal unsubscribes.
   */
  stream(runId: string, options?: StreamOptions): AsyncIterableIterator<RunEvent>;
  /**
   * The run's state after each event of `stream()`: status, text per task, usage, output, pending
   * approval (see `accumulateRun`).
   */
  watch(runId: string, options?: StreamOptions): AsyncIterableIterator<RunState>;
}

graphql(`
  fragment RunFields on Run {
    id
    status
    crewVersion
    inputs
    output
    structuredOutput
    error
    errorDetails
    idempotencyKey
    attempts
    lastSeq
    createdAt
    startedAt
    finishedAt
    crew {
      id
      name
    }
    usage {
      promptTokens
      completionTokens
      totalTokens
      costUsd
    }
    taskRuns {
      id
      status
      output
      structuredOutput
      error
      approved
      approvalFeedback
      attempts
      startedAt
      finishedAt
      task {
        name
        agentName
      }
      usage {
        promptTokens
        completionTokens
        totalTokens
        costUsd
      }
    }
  }
`);

const StartRunDocument = graphql(`
  mutation StartRun($input: StartRunInput!) {
    startRun(input: $input) {
      run {
        ...RunFields
      }
    }
  }
`);

const RunByIdDocument = graphql(`
  query Run($id: ID!) {
    run(id: $id) {
      ...RunFields
    }
  }
`);

const RunsDocument = graphql(`
  query Runs($first: Int, $after: String, $status: RunStatus, $crewId: ID) {
    runs(first: $first, after: $after, status: $status, crewId: $crewId) {
      edges {
        node {
          ...RunFields
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

const CancelRunDocument = graphql(`
  mutation CancelRun($id: ID!) {
    cancelRun(id: $id) {
      run {
        ...RunFields
      }
    }
  }
`);

const RespondToRunDocument = graphql(`
  mutation RespondToRun($input: RespondToRunInput!) {
    respondToRun(input: $input) {
      run {
        ...RunFields
      }
    }
  }
`);

const RetryRunDocument = graphql(`
  mutation RetryRun($id: ID!) {
    retryRun(id: $id) {
      run {
        ...RunFields
      }
    }
  }
`);

const RunEventsDocument = graphql(`
  subscription RunEvents($runId: ID!, $afterSeq: Int) {
    runEvents(runId: $runId, afterSeq: $afterSeq) {
      seq
      type
      at
      taskRunId
      delta
      data
    }
  }
`);

export function runsResource(run: RunDocument, streams: StreamContext): RunsResource {
  const resource: RunsResource = {
    async start(input, options) {
      return (await run(StartRunDocument, { input }, options)).startRun.run;
    },
    async get(id, options) {
      try {
        return (await run(RunByIdDocument, { id }, options)).run;
      } catch (error) {
        if (isTroupeError(error) && error.code === 'NOT_FOUND') return null;
        throw error;
      }
    },
    async list(variables, options) {
      const vars: RunsQueryVariables = {
        first: variables?.first,
        after: variables?.after,
        status: variables?.status,
        crewId: variables?.crewId,
      };
      return toPage((await run(RunsDocument, vars, options)).runs);
    },
    async cancel(id, options) {
      return (await run(CancelRunDocument, { id }, options)).cancelRun.run;
    },
    async respond(input, options) {
      return (await run(RespondToRunDocument, { input }, options)).respondToRun.run;
    },
    async retry(id, options) {
      return (await run(RetryRunDocument, { id }, options)).retryRun.run;
    },
    stream(runId, options) {
      return streams.open<RunEvent>(
        {
          query: RunEventsDocument.toString(),
          operationName: 'RunEvents',
          variables: (afterSeq) => ({ runId, afterSeq }),
          field: 'runEvents',
          // Not at the first terminal event: a run retried after it ended has more after it. The
          // server completes the stream where the run's log ends.
        },
        options,
      );
    },
    watch(runId, options) {
      const events = resource.stream(runId, options);
      let state = initialRunState;
      const iterator: AsyncIterableIterator<RunState> = {
        async next() {
          const result = await events.next();
          if (result.done) return result;
          state = accumulateRun(state, result.value);
          return { done: false, value: state };
        },
        async return() {
          await events.return?.();
          return { done: true, value: undefined };
        },
        [Symbol.asyncIterator]() {
          return iterator;
        },
      };
      return iterator;
    },
  };
  return resource;
}
