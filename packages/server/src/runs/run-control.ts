import type { ApprovalDecision } from '@troupe/agents';

/** The bus channel on which servers tell workers to cancel or answer the runs they hold. */
export const RUN_CONTROL_CHANNEL = 'run-control';

export type RunControlMessage =
  | {
      kind: 'cancel';
      runId: string;
      reason: string;
      /** Channel on which the worker holding the run acknowledges that it is cancelling it. */
      replyTo?: string;
    }
  | {
      kind: 'respond';
      runId: string;
      decision: ApprovalDecision & { taskName: string };
      /** Channel on which the worker holding the run acknowledges the answer. */
      replyTo?: string;
    };

/** A worker's acknowledgement of an approval answer (`ok` when the run took it), or of a cancel. */
export interface RespondAck {
  ok: boolean;
}

export function encodeRunControl(message: RunControlMessage): string {
  return JSON.stringify(message);
}

export function decodeRunControl(raw: string): RunControlMessage | undefined {
  try {
    const m = JSON.parse(raw) as Partial<RunControlMessage>;
    if (typeof m.runId !== 'string') return undefined;
    if (m.kind === 'cancel' && typeof m.reason === 'string') return m as RunControlMessage;
    if (m.kind === 'respond' && typeof m.decision?.taskName === 'string') return m as RunControlMessage;
    return undefined;
  } catch {
    return undefined;
  }
}
