import {
  accumulateRun,
  initialRunState,
  type PendingApproval,
  type Run,
  type RunEvent,
  type RunState,
  type RunStatus,
  type RunUsage,
  type TroupeError,
} from '@troupe/sdk';
import { useCallback, useEffect, useRef, useState } from 'react';
import { asTroupeError } from './as-troupe-error';
import { deferredStart } from './deferred-start';
import { useTroupeClient } from './troupe-provider';
import { useWhenOnline } from './when-online';

export interface UseRunOptions {
  /** Keep every event in `events` (default true); turn off for long runs when the state is enough. */
  keepEvents?: boolean;
}

export interface RespondOptions {
  approved: boolean;
  feedback?: string;
  /** Default: the task waiting for approval now. */
  taskRunId?: string;
}

export interface UseRunResult {
  /** QUEUED until the first event arrives. */
  status: RunStatus;
  /** Every event so far, in order, each once. */
  events: RunEvent[];
  /** Streamed text per task name. */
  textByTask: Record<string, string>;
  /** The final output once the run succeeded. */
  output: string | null;
  usage: RunUsage;
  /** The task waiting for `respond()`, if any. */
  approval: PendingApproval | null;
  /** Why the run failed or was cancelled (from its events). */
  runError: RunState['error'];
  /** A failed stream or action (NOT_FOUND, FORBIDDEN, …). */
  error: TroupeError | undefined;
  /** True while the stream is open (until the run ends, fails or the component unmounts). */
  streaming: boolean;
  /** The whole accumulated state. */
  state: RunState;
  /** Cancels the run; its stream then ends with RUN_CANCELLED. */
  cancel(): Promise<Run | undefined>;
  /** Approves or rejects the task waiting for approval. */
  respond(options: RespondOptions): Promise<Run | undefined>;
  /**
   * Runs a FAILED or CANCELLED run again (`runs.retry`) and follows it: the stream opens again
   * after the last event shown, and the retried attempt's events come in as it runs.
   */
  retry(): Promise<Run | undefined>;
  /**
   * Opens the stream again after it failed (UNAVAILABLE once its reconnects ran out: the server was
   * down for a while), after the last event shown: nothing lost, nothing twice. It happens by itself
   * when the browser comes back online. Does nothing while the stream is open or after the run ended.
   */
  reconnect(): void;
}

interface Snapshot {
  runId: string | null | undefined;
  /** Bumped by reconnect(): the stream opens again. */
  attempt: number;
  /** Why the stream ended early: `error` also shows failed actions. */
  streamError: TroupeError | undefined;
  state: RunState;
  events: RunEvent[];
  error: TroupeError | undefined;
  streaming: boolean;
}

const ENDED = new Set<RunStatus>(['SUCCEEDED', 'FAILED', 'CANCELLED']);

const fresh = (runId: string | null | undefined): Snapshot => ({
  runId,
  attempt: 0,
  streamError: undefined,
  state: initialRunState,
  events: [],
  error: undefined,
  streaming: Boolean(runId),
});

/**
 * Follows a run live: its events, status, text per task, usage and output, with `cancel()` and
 * `respond()`. One subscription per mounted hook (StrictMode included), closed on unmount or
 * when `runId` changes. Pass null to follow nothing yet.
 */
export function useRun(runId: string | null | undefined, options: UseRunOptions = {}): UseRunResult {
  const client = useTroupeClient();
  const keepEvents = options.keepEvents ?? true;
  const [snapshot, setSnapshot] = useState<Snapshot>(() => fresh(runId));
  // A new runId shows a fresh state in the same render, not the previous run's.
  const current = snapshot.runId === runId ? snapshot : fresh(runId);
  const approvalRef = useRef<PendingApproval | null>(null);
  approvalRef.current = current.state.approval;
  // When the stream opens again for the same run (a new client, keepEvents changed), it resumes
  // after the last event the state holds.
  const lastSeqRef = useRef(0);
  lastSeqRef.current = current.state.lastSeq;

  // biome-ignore lint/correctness/useExhaustiveDependencies: reconnect() bumps `attempt` to open the stream again.
  useEffect(() => {
    if (!runId) return;
    const update = (change: (previous: Snapshot) => Snapshot) =>
      setSnapshot((previous) => change(previous.runId === runId ? previous : fresh(runId)));
    const afterSeq = lastSeqRef.current;
    return deferredStart(async (signal) => {
      update((previous) => previous);
      try {
        for await (const event of client.runs.stream(runId, { signal, afterSeq })) {
          update((previous) =>
            event.seq <= previous.state.lastSeq
              ? previous
              : {
                  ...previous,
                  state: accumulateRun(previous.state, event),
                  events: keepEvents ? [...previous.events, event] : previous.events,
                },
          );
        }
        update((previous) => ({ ...previous, streaming: false }));
      } catch (error) {
        if (!signal.aborted)
          update((previous) => {
            const failure = asTroupeError(error);
            return { ...previous, streaming: false, streamError: failure, error: failure };
          });
      }
    });
  }, [client, runId, keepEvents, current.attempt]);

  const reconnect = useCallback(() => {
    setSnapshot((previous) =>
      previous.runId !== runId || previous.streaming || ENDED.has(previous.state.status)
        ? previous
        : {
            ...previous,
            streaming: true,
            streamError: undefined,
            error: previous.error === previous.streamError ? undefined : previous.error,
            attempt: previous.attempt + 1,
          },
    );
  }, [runId]);
  useWhenOnline(
    Boolean(runId) && !current.streaming && current.streamError?.code === 'UNAVAILABLE',
    reconnect,
  );

  const fail = useCallback(
    (error: unknown) => {
      setSnapshot((previous) =>
        previous.runId === runId ? { ...previous, error: asTroupeError(error) } : previous,
      );
      return undefined;
    },
    [runId],
  );
  const cancel = useCallback(async () => {
    if (!runId) return undefined;
    return client.runs.cancel(runId).catch(fail);
  }, [client, runId, fail]);
  const respond = useCallback(
    async ({ approved, feedback, taskRunId }: RespondOptions) => {
      const task = taskRunId ?? approvalRef.current?.taskRunId;
      if (!runId || !task) return undefined;
      return client.runs
        .respond({ runId, taskRunId: task, approved, ...(feedback !== undefined ? { feedback } : {}) })
        .catch(fail);
    },
    [client, runId, fail],
  );

  const retry = useCallback(async () => {
    if (!runId) return undefined;
    try {
      const run = await client.runs.retry(runId);
      setSnapshot((previous) =>
        previous.runId !== runId
          ? previous
          : {
              ...previous,
              // What the retry answered, until its events come (its log continues after the end).
              state: { ...previous.state, status: run.status, error: null, output: null },
              streaming: true,
              streamError: undefined,
              error: undefined,
              attempt: previous.attempt + 1,
            },
      );
      return run;
    } catch (error) {
      return fail(error);
    }
  }, [client, runId, fail]);

  const { state } = current;
  return {
    status: state.status,
    events: current.events,
    textByTask: state.textByTask,
    output: state.output,
    usage: state.usage,
    approval: state.approval,
    runError: state.error,
    error: current.error,
    streaming: current.streaming,
    state,
    cancel,
    respond,
    retry,
    reconnect,
  };
}
