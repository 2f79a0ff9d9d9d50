import { AIMessage, type BaseMessage, ToolMessage } from '@langchain/core/messages';
import type { AgentDefinition } from '../crew/crew-definition.js';
import { AgentsError } from '../errors/agents-error.js';
import { cancelledError } from '../errors/cancelled-error.js';
import type { UsageTotals } from '../events/run-event.js';
import { redactValue } from '../guardrails/redact-value.js';
import type { ChatRequest, ToolSpec } from '../providers/chat-provider.js';
import { messageText } from '../providers/langchain-messages.js';
import { callWithRetry } from '../providers/retry-policy.js';
import type { AgentTool } from '../tools/define-tool.js';
import { DELEGATION_TOOL_NAME } from '../tools/delegation-tool.js';
import type { JsonSchema } from '../tools/json-schema.js';
import { priceCall } from '../usage/price-table.js';
import { addUsage } from '../usage/usage-totals.js';
import type { RunContext } from './run-context.js';
import { parseTextToolCalls } from './text-tool-calls.js';

export interface AgentLoopInput {
  agent: AgentDefinition;
  taskName: string;
  /** Conversation so far; the loop appends the assistant and tool messages it produces. */
  messages: BaseMessage[];
  tools: AgentTool[];
  responseSchema?: JsonSchema;
  maxIterations: number;
  /** Task totals; every LLM call is added here and to the run totals, once. */
  usage: UsageTotals;
}

interface PendingCall {
  id: string;
  name: string;
  rawArguments: string;
  args: Record<string, unknown> | undefined;
}

export const DEFAULT_MAX_ITERATIONS = 8;
const MAX_HELD_CHARS = 4096;

function parseArguments(raw: string): Record<string, unknown> | undefined {
  if (raw.trim() === '') return {};
  try {
    const value: unknown = JSON.parse(raw);
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

function toolResultText(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value === undefined) return '';
  try {
    return JSON.stringify(value);
  } catch {
    return String(value);
  }
}

/** Whether text (trimmed at its start) may still turn out to be a tool call written as text. */
function couldStartTextToolCall(head: string): boolean {
  if (head.startsWith('{') || head.startsWith('[')) return true;
  if (head.startsWith('<tool_call>') || '<tool_call>'.startsWith(head)) return true;
  if ('```'.startsWith(head)) return true;
  if (!head.startsWith('```')) return false;
  // A fenced block is one only when it holds JSON: other code streams as it comes.
  const rest = head.slice(3);
  if (/^(j|js|jso|json)?\s*$/.test(rest)) return true;
  const body = rest.replace(/^json/, '').trimStart();
  return body.startsWith('{') || body.startsWith('[');
}

/** A tool result the model gets: at most `max` characters, with a note when cut. */
function cutToolResult(text: string, max: number): string {
  if (!(max > 0) || text.length <= max) return text;
  // Not between the two halves of a surrogate pair.
  const end = /[\uD800-\uDBFF]/.test(text[max - 1] ?? '') ? max - 1 : max;
  return `${text.slice(0, end)}\n[… cut: the result had ${text.length} characters; the first ${end} are shown.]`;
}

function raceAbort<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

/**
 * The tool loop: call the model, run the tools it asks for, feed results back, repeat until it
 * answers without tool calls or `maxIterations` LLM calls were made. Returns the final answer text.
 */
export async function runAgentLoop(ctx: RunContext, input: AgentLoopInput): Promise<string> {
  const { agent, taskName, messages, tools } = input;
  const agentName = agent.name;
  const provider = ctx.providerFor(agent);
  const byName = new Map(tools.map((tool) => [tool.name, tool]));
  const toolNames = new Set(byName.keys());
  const specs: ToolSpec[] = tools.map((tool) => ({
    name: tool.name,
    description: tool.description,
    parameters: tool.parameters,
  }));

  for (let iteration = 0; iteration < input.maxIterations; iteration++) {
    const request: ChatRequest = {
      model: agent.model.name,
      messages,
      signal: ctx.signal,
      ...(specs.length > 0 ? { tools: specs } : {}),
      ...(agent.model.temperature !== undefined ? { temperature: agent.model.temperature } : {}),
      ...(agent.model.maxTokens !== undefined ? { maxTokens: agent.model.maxTokens } : {}),
      ...(input.responseSchema ? { responseSchema: input.responseSchema } : {}),
    };
    let text = '';
    const calls: PendingCall[] = [];
    let reported: { promptTokens: number; completionTokens: number } | undefined;
    const redact = ctx.redactStream;
    let held = '';
    let answered = false;
    // Small models write tool calls as text (`{"name": …}`, `<tool_call>`): such text is not the
    // answer, and must not stream as if it were.
    let mayBeToolCall = toolNames.size > 0;
    let pending = '';
    const streamText = (delta: string): void => {
      if (!redact) {
        ctx.emit({ type: 'TOKEN', taskName, agentName, delta });
        return;
      }
      // PII patterns do not span lines: hold text back until a newline, then release it redacted.
      held += delta;
      const cut = held.lastIndexOf('\n');
      if (cut >= 0 || held.length > MAX_HELD_CHARS) {
        const release = cut >= 0 ? held.slice(0, cut + 1) : held;
        held = held.slice(release.length);
        ctx.emit({ type: 'TOKEN', taskName, agentName, delta: redact(release) });
      }
    };
    /** Counts the call's usage (reported, or estimated from what came) and emits USAGE. */
    const account = () => {
      const estimated = reported === undefined;
      const promptTokens =
        reported?.promptTokens ?? Math.ceil(messages.reduce((sum, m) => sum + messageText(m).length, 0) / 4);
      const completionTokens = reported?.completionTokens ?? Math.ceil(text.length / 4);
      const costUsd = priceCall(ctx.prices, provider.name, agent.model.name, promptTokens, completionTokens);
      addUsage(input.usage, { promptTokens, completionTokens, costUsd });
      addUsage(ctx.usage, { promptTokens, completionTokens, costUsd });
      ctx.emit({
        type: 'USAGE',
        taskName,
        agentName,
        provider: provider.name,
        model: agent.model.name,
        promptTokens,
        completionTokens,
        totalTokens: promptTokens + completionTokens,
        costUsd,
        estimated,
      });
    };
    try {
      await callWithRetry(
        provider,
        request,
        (chunk) => {
          answered = true;
          if (chunk.type === 'text') {
            text += chunk.text;
            if (mayBeToolCall) {
              // Held while it may still be a tool call written as text (which is not streamed).
              pending += chunk.text;
              const head = pending.trimStart();
              if (head === '' || couldStartTextToolCall(head)) return;
              mayBeToolCall = false;
              const release = pending;
              pending = '';
              streamText(release);
              return;
            }
            streamText(chunk.text);
          } else if (chunk.type === 'tool_call') {
            calls.push({
              id: chunk.id,
              name: chunk.name,
              rawArguments: chunk.arguments,
              args: parseArguments(chunk.arguments),
            });
          } else {
            reported = { promptTokens: chunk.promptTokens, completionTokens: chunk.completionTokens };
          }
        },
        ctx.retry,
      );
    } catch (error) {
      // A call that answered and then failed (or was cancelled, or cut short by its timeout) was
      // still paid for: counted, so that the failed or cancelled run's totals say what it cost.
      if (answered) account();
      throw error;
    }
    if (ctx.signal.aborted) {
      account();
      throw cancelledError(ctx.signal);
    }
    const textCalls =
      calls.length === 0 && toolNames.size > 0 ? parseTextToolCalls(text, toolNames) : undefined;
    // Held text that was not a tool call after all (an answer starting with "[", say) streams now.
    if (pending && !textCalls) streamText(pending);
    pending = '';
    if (redact && held) ctx.emit({ type: 'TOKEN', taskName, agentName, delta: redact(held) });
    account();

    if (calls.length === 0 && toolNames.size > 0) {
      const fromText = textCalls;
      if (fromText) {
        for (const [index, call] of fromText.entries()) {
          calls.push({
            id: `text_call_${iteration}_${index}`,
            name: call.name,
            rawArguments: call.arguments,
            args: parseArguments(call.arguments),
          });
        }
        text = '';
      }
    }
    if (calls.length === 0) return text;

    messages.push(
      new AIMessage({
        content: text,
        tool_calls: calls.map((call) => ({
          id: call.id,
          name: call.name,
          args: call.args ?? {},
          type: 'tool_call' as const,
        })),
      }),
    );
    for (const call of calls) {
      ctx.emit({
        type: 'TOOL_CALL',
        taskName,
        agentName,
        toolCallId: call.id,
        toolName: call.name,
        args: redact ? redactValue(call.args ?? call.rawArguments, redact) : (call.args ?? call.rawArguments),
      });
    }
    const results = await Promise.all(
      calls.map(async (call) => {
        const started = performance.now();
        let result: string;
        let isError = false;
        try {
          const tool = byName.get(call.name);
          if (!tool) {
            throw new AgentsError(
              'TOOL_ERROR',
              `Unknown tool "${call.name}". Available tools: ${[...toolNames].join(', ') || 'none'}.`,
            );
          }
          if (call.args === undefined) {
            throw new AgentsError(
              'TOOL_ERROR',
              `The arguments are not a valid JSON object: ${call.rawArguments}`,
            );
          }
          // The call's own signal: the run's, and the tool's time limit (delegation has none: its
          // coworker's calls have theirs).
          const limit = call.name === DELEGATION_TOOL_NAME ? 0 : ctx.toolTimeoutMs;
          const callController = new AbortController();
          const onRunAbort = (): void => callController.abort(ctx.signal.reason);
          ctx.signal.addEventListener('abort', onRunAbort, { once: true });
          const timer =
            limit > 0
              ? setTimeout(
                  () =>
                    callController.abort(
                      new AgentsError(
                        'TOOL_ERROR',
                        `The tool "${call.name}" took longer than ${limit} ms and was stopped.`,
                      ),
                    ),
                  limit,
                )
              : undefined;
          try {
            const value = await raceAbort(
              tool.invoke(call.args, { signal: callController.signal, taskName, agentName }),
              callController.signal,
            );
            result = cutToolResult(toolResultText(value), ctx.maxToolResultChars);
          } finally {
            clearTimeout(timer);
            ctx.signal.removeEventListener('abort', onRunAbort);
          }
        } catch (error) {
          if (ctx.signal.aborted) throw cancelledError(ctx.signal);
          isError = true;
          result = cutToolResult(
            `Error: ${error instanceof Error ? error.message : String(error)}`,
            ctx.maxToolResultChars,
          );
        }
        ctx.emit({
          type: 'TOOL_RESULT',
          taskName,
          agentName,
          toolCallId: call.id,
          toolName: call.name,
          // The model gets the real result; the event (persisted, fanned out) gets the redacted copy.
          result: redact ? redact(result) : result,
          isError,
          durationMs: Math.round(performance.now() - started),
        });
        return new ToolMessage({ content: result, tool_call_id: call.id, name: call.name });
      }),
    );
    messages.push(...results);
  }
  throw new AgentsError(
    'MAX_ITERATIONS',
    `Agent "${agentName}" reached maxIterations (${input.maxIterations}) on task "${taskName}" without a final answer.`,
    { details: { agentName, taskName } },
  );
}
