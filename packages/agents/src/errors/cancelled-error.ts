import { AgentsError, isAgentsError } from './agents-error.js';

/** The CANCELLED error for an aborted signal (reusing the reason when it already is one). */
export function cancelledError(signal: AbortSignal, message = 'The run was cancelled.'): AgentsError {
  const reason = signal.reason;
  if (isAgentsError(reason) && reason.code === 'CANCELLED') return reason;
  return new AgentsError('CANCELLED', message, { cause: reason });
}
