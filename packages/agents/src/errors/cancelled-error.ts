import { AgentsError, isAgentsError } from './agents-error.js';

/** The CANCELLED error for an aborted signal (reusing the reason when it already is one). */
export function cancelledError(signal: AbortSignal): AgentsError {
  const reason = signal.reason;
  if (isAgentsError(reason) && reason.code === 'CANCELLED') return reason;
  return new AgentsError('CANCELLED', 'The run was cancelled.', { cause: reason });
}
