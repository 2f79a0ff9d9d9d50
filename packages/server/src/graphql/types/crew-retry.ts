import { intInRange } from '../../crews/input-rules.js';
import { badInput } from '../../errors.js';
import { RETRY_LIMITS } from '../../runs/run-retry.js';
import { builder } from '../builder.js';

const RetryPolicy = builder.objectRef<{ maxAttempts: number; backoffMs: number }>('RetryPolicy').implement({
  description:
    'How failed runs of a crew are retried: after a failure that another attempt may fix (provider errors, timeouts), the run resumes from its checkpoints after backoffMs · 2^(attempt-1), until maxAttempts attempts have failed.',
  fields: (t) => ({
    maxAttempts: t.exposeInt('maxAttempts', {
      description: 'Attempts in all, the first included (1: no retry).',
    }),
    backoffMs: t.exposeInt('backoffMs', { description: 'Wait before the first retry; doubles each retry.' }),
  }),
});

export const RetryPolicyInput = builder.inputType('RetryPolicyInput', {
  fields: (t) => ({
    maxAttempts: t.int({
      description: `Attempts in all, the first included: 1 (no retry) to ${RETRY_LIMITS.maxAttempts}.`,
    }),
    backoffMs: t.int({ description: `Wait before the first retry: 0 to ${RETRY_LIMITS.backoffMs} ms.` }),
  }),
});

builder.prismaObjectField('Crew', 'retry', (t) =>
  t.field({
    type: RetryPolicy,
    select: { maxAttempts: true, backoffMs: true },
    resolve: (c) => ({ maxAttempts: c.maxAttempts, backoffMs: c.backoffMs }),
  }),
);

/** Validates a `retry` input; fields left out are left out of the result (they keep their value). */
export function parseRetryInput(
  field: string,
  input: { maxAttempts?: number | null; backoffMs?: number | null } | null | undefined,
): { maxAttempts?: number; backoffMs?: number } {
  if (input == null) return {};
  if (input.maxAttempts === null) throw badInput(`${field}.maxAttempts`, 'must not be null');
  if (input.backoffMs === null) throw badInput(`${field}.backoffMs`, 'must not be null');
  const maxAttempts = intInRange(`${field}.maxAttempts`, input.maxAttempts, 1, RETRY_LIMITS.maxAttempts);
  const backoffMs = intInRange(`${field}.backoffMs`, input.backoffMs, 0, RETRY_LIMITS.backoffMs);
  return {
    ...(maxAttempts !== undefined ? { maxAttempts } : {}),
    ...(backoffMs !== undefined ? { backoffMs } : {}),
  };
}
