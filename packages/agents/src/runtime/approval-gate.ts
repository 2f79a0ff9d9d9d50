import { cancelledError } from '../errors/cancelled-error.js';

/** The reviewer's answer to an `APPROVAL_REQUESTED` event. */
export interface ApprovalDecision {
  approved: boolean;
  /** Rejections: what to change (the agent revises with it). Approvals: optional note. */
  feedback?: string;
}

/** What `onApproval` receives. */
export interface ApprovalRequest {
  runId: string;
  taskName: string;
  agentName: string;
  output: string;
  structuredOutput?: unknown;
  revision: number;
  /** Aborted when the run is cancelled. */
  signal: AbortSignal;
}

export type ApprovalHandler = (request: ApprovalRequest) => ApprovalDecision | Promise<ApprovalDecision>;

/** Holds tasks waiting for a decision; decisions come from `onApproval` or `run.respond()`. */
export class ApprovalGate {
  private readonly waiting = new Map<string, (decision: ApprovalDecision) => void>();

  constructor(private readonly handler: ApprovalHandler | undefined) {}

  /** Registers the waiter, then calls `announce` (which emits APPROVAL_REQUESTED), then waits. */
  async wait(request: ApprovalRequest, announce: () => void): Promise<ApprovalDecision> {
    const { signal } = request;
    if (signal.aborted) throw cancelledError(signal);
    let decided: Promise<ApprovalDecision>;
    if (this.handler) {
      announce();
      decided = Promise.resolve(this.handler(request));
    } else {
      decided = new Promise<ApprovalDecision>((resolve) => this.waiting.set(request.taskName, resolve));
      announce();
    }
    let onAbort: (() => void) | undefined;
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => reject(cancelledError(signal));
      signal.addEventListener('abort', onAbort, { once: true });
    });
    // Cancelled while it was announced (an onEvent or onApproval that cancels the run at once):
    // the listener came too late for that abort.
    if (signal.aborted) onAbort?.();
    try {
      return await Promise.race([decided, aborted]);
    } finally {
      if (onAbort) signal.removeEventListener('abort', onAbort);
      this.waiting.delete(request.taskName);
    }
  }

  /** Delivers a decision; false when that task is not waiting for one. */
  respond(taskName: string, decision: ApprovalDecision): boolean {
    const resolve = this.waiting.get(taskName);
    if (!resolve) return false;
    this.waiting.delete(taskName);
    resolve(decision);
    return true;
  }
}
