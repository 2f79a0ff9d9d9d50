import type { UsageTotals } from '../events/run-event.js';

export function emptyUsage(): UsageTotals {
  return { promptTokens: 0, completionTokens: 0, totalTokens: 0, costUsd: 0, calls: 0 };
}

/** Adds one LLM call's usage into `totals` (mutates and returns it). */
export function addUsage(
  totals: UsageTotals,
  call: { promptTokens: number; completionTokens: number; costUsd: number },
): UsageTotals {
  totals.promptTokens += call.promptTokens;
  totals.completionTokens += call.completionTokens;
  totals.totalTokens += call.promptTokens + call.completionTokens;
  totals.costUsd += call.costUsd;
  totals.calls += 1;
  return totals;
}
