import { HumanMessage, SystemMessage } from '@langchain/core/messages';
import type {
  AgentDefinition,
  ConversationTurn,
  CrewDefinition,
  TaskDefinition,
} from '../crew/crew-definition.js';
import { type ValidatedCrew, validateCrew } from '../crew/crew-validation.js';
import { renderTemplate } from '../crew/template-variables.js';
import { AgentsError, isAgentsError } from '../errors/agents-error.js';
import { cancelledError } from '../errors/cancelled-error.js';
import type { RunEvent, RunEventInput, TaskOutput, UsageTotals } from '../events/run-event.js';
import { redactPii } from '../guardrails/pii-redaction.js';
import type { ChatProvider } from '../providers/chat-provider.js';
import { createProviderResolver, type ProviderSettings } from '../providers/provider-resolver.js';
import type { RetryOptions } from '../providers/retry-policy.js';
import type { AgentTool } from '../tools/define-tool.js';
import { createDelegationTool } from '../tools/delegation-tool.js';
import { createHttpRequestTool, type HttpRequestToolOptions } from '../tools/http-request-tool.js';
import { createToolRegistry, type ToolInput, type ToolRegistry } from '../tools/tool-registry.js';
import { DEFAULT_PRICES, type PriceTable } from '../usage/price-table.js';
import { emptyUsage } from '../usage/usage-totals.js';
import { DEFAULT_MAX_ITERATIONS, runAgentLoop } from './agent-loop.js';
import { type ApprovalDecision, ApprovalGate, type ApprovalHandler } from './approval-gate.js';
import { EventChannel } from './event-channel.js';
import type { RunContext } from './run-context.js';
import { executeTask, personaPrompt } from './task-execution.js';

/** Saved after each task; pass them back as `completedTasks` to resume without re-running those tasks. */
export interface TaskCheckpoint {
  runId: string;
  taskName: string;
  agentName: string;
  output: string;
  structuredOutput?: unknown;
  usage: UsageTotals;
}

const DEFAULT_TOOL_TIMEOUT_MS = 120_000;
const DEFAULT_MAX_TOOL_RESULT_CHARS = 20_000;

export interface RunCrewOptions {
  crew: CrewDefinition;
  /** Values for `{{placeholders}}`; non-strings are JSON-encoded. */
  inputs?: Readonly<Record<string, unknown>>;
  providers?: ProviderSettings;
  /** Tools agents may use, by name. `http_request` is built in (override it by registering your own). */
  tools?: ToolRegistry | ReadonlyArray<ToolInput>;
  /** Options of the built-in `http_request` tool (e.g. `allowHosts`). */
  httpRequest?: HttpRequestToolOptions;
  /** Aborting cancels the run: in-flight LLM calls and tools are aborted and the stream ends with RUN_CANCELLED. */
  signal?: AbortSignal;
  /** Outputs of tasks finished in an earlier attempt; they are not executed again. */
  completedTasks?: Readonly<Record<string, TaskOutput>>;
  /** PARALLEL crews: how many tasks may run at once. Default 4. */
  concurrency?: number;
  /** Decides `requiresApproval` tasks. Without it, call `run.respond()`. */
  onApproval?: ApprovalHandler;
  /** Awaited after each TASK_COMPLETED and before dependent tasks start; use it to checkpoint. */
  onTaskCompleted?: (checkpoint: TaskCheckpoint) => void | Promise<void>;
  /** Sees every event synchronously as it is emitted (also when nobody iterates the run). */
  onEvent?: (event: RunEvent) => void;
  retry?: RetryOptions;
  /**
   * How long one tool call may take (ms) before it is stopped (its signal aborted) and the model is
   * told so, as a tool error. Default 120000; 0: no limit. `delegate_work` is not limited: its
   * coworker's LLM calls have their own timeouts (`retry.timeoutMs`).
   */
  toolTimeoutMs?: number;
  /**
   * The most characters of a tool's result the model gets (default 20000, about 5,000 tokens); a
   * longer result is cut, with a note saying so. Every later call of the loop carries it again.
   */
  maxToolResultChars?: number;
  /** Merged over `DEFAULT_PRICES`. */
  prices?: PriceTable;
  /** Default: a random UUID. */
  runId?: string;
  /** Sequence number of the first event. Default 1 (a resumed run can continue numbering). */
  firstSequence?: number;
  /**
   * Earlier turns of a chat, oldest first: every agent sees them between its persona and its task,
   * so a crew can answer in context. The caller windows them to the model's context.
   */
  conversation?: ReadonlyArray<ConversationTurn>;
}

export type RunResult =
  | {
      status: 'succeeded';
      runId: string;
      output: string;
      structuredOutput?: unknown;
      tasks: Record<string, TaskOutput>;
      usage: UsageTotals;
    }
  | {
      status: 'failed';
      runId: string;
      error: AgentsError;
      tasks: Record<string, TaskOutput>;
      usage: UsageTotals;
    }
  | {
      status: 'cancelled';
      runId: string;
      reason: string;
      tasks: Record<string, TaskOutput>;
      usage: UsageTotals;
    };

/** A running crew: iterate it for events, or await `result()`. It starts on the first of the two. */
export interface CrewRun extends AsyncIterable<RunEvent> {
  readonly runId: string;
  /** Answers a pending approval. Returns false when that task is not waiting. */
  respond(decision: ApprovalDecision & { taskName: string }): boolean;
  /** Same as aborting `signal`. */
  cancel(reason?: string): void;
  /** Resolves when the run ends (never rejects). */
  result(): Promise<RunResult>;
}

function isRegistry(value: RunCrewOptions['tools']): value is ToolRegistry {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && 'register' in value;
}

function stringifyInput(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/**
 * Runs a crew and streams its events. Never throws: invalid crews, missing inputs and provider
 * failures end the stream with RUN_FAILED; cancellation ends it with RUN_CANCELLED.
 */
export function runCrew(options: RunCrewOptions): CrewRun {
  const runId = options.runId ?? crypto.randomUUID();
  const controller = new AbortController();
  const channel = new EventChannel(runId, options.firstSequence ?? 1, options.onEvent, (error) =>
    fail(error),
  );
  const approvals = new ApprovalGate(options.onApproval);
  const usage = emptyUsage();
  const outputs = new Map<string, TaskOutput>();
  let finished = false;
  let started = false;
  let iterated = false;
  let resolveResult!: (result: RunResult) => void;
  const resultPromise = new Promise<RunResult>((resolve) => {
    resolveResult = resolve;
  });

  const tasksRecord = (): Record<string, TaskOutput> => Object.fromEntries(outputs);
  const emit = (event: RunEventInput): void => {
    channel.emit(event);
  };

  const fail = (error: unknown): void => {
    if (finished) return;
    finished = true;
    const agentsError = isAgentsError(error)
      ? error
      : new AgentsError(
          'INTERNAL_ERROR',
          `Unexpected error: ${error instanceof Error ? error.message : String(error)}`,
          {
            cause: error,
          },
        );
    emit({ type: 'RUN_FAILED', error: agentsError.toJSON(), usage: { ...usage } });
    channel.close();
    resolveResult({ status: 'failed', runId, error: agentsError, tasks: tasksRecord(), usage: { ...usage } });
    // Stop sibling tasks and in-flight calls.
    controller.abort(agentsError);
  };

  const onAbort = (): void => {
    if (finished) return;
    finished = true;
    const reason = cancelledError(controller.signal).message;
    emit({ type: 'RUN_CANCELLED', reason, usage: { ...usage } });
    channel.close();
    resolveResult({ status: 'cancelled', runId, reason, tasks: tasksRecord(), usage: { ...usage } });
  };
  controller.signal.addEventListener('abort', onAbort, { once: true });

  const cancel = (reason?: string): void => {
    if (!controller.signal.aborted) {
      controller.abort(new AgentsError('CANCELLED', reason ?? 'The run was cancelled.'));
    }
  };
  const external = options.signal;
  if (external) {
    const onExternalAbort = (): void => cancel(reasonText(external.reason));
    if (external.aborted) onExternalAbort();
    else {
      external.addEventListener('abort', onExternalAbort, { once: true });
      // A long-lived signal shared by many runs must not collect one listener per finished run.
      void resultPromise.then(() => external.removeEventListener('abort', onExternalAbort));
    }
  }

  async function execute(): Promise<void> {
    let crew: ValidatedCrew;
    let registry: ToolRegistry;
    let providerFor: (agent: AgentDefinition) => ChatProvider;
    const completed = options.completedTasks ?? {};
    try {
      const base = options.tools;
      registry = isRegistry(base)
        ? createToolRegistry(base.names().map((name) => base.get(name)!))
        : createToolRegistry(base ?? []);
      const wantsHttp = [
        ...options.crew.agents,
        ...(typeof options.crew.manager === 'object' ? [options.crew.manager] : []),
      ].some((agent) => agent?.tools?.includes('http_request'));
      if (wantsHttp && !registry.has('http_request'))
        registry.register(createHttpRequestTool(options.httpRequest));
      crew = validateCrew(options.crew, {
        inputs: options.inputs ?? {},
        tools: registry,
        completedTaskNames: Object.keys(completed),
      });
      providerFor = createProviderResolver(options.providers);
      for (const agent of crew.agents.values()) providerFor(agent);
      if (crew.manager) providerFor(crew.manager);
    } catch (error) {
      fail(error);
      return;
    }
    if (finished) return;

    const redactText = crew.redaction
      ? (text: string): string => redactPii(text, crew.redaction!.types).text
      : undefined;
    const inputs: Record<string, string> = {};
    for (const [key, value] of Object.entries(options.inputs ?? {})) {
      const text = stringifyInput(value);
      inputs[key] = redactText && crew.redaction?.inputs ? redactText(text) : text;
    }
    for (const task of crew.tasks) {
      const done = completed[task.name];
      if (done) outputs.set(task.name, done);
    }
    const toolCache = new Map<string, AgentTool[]>();
    const ctx: RunContext = {
      runId,
      signal: controller.signal,
      emit,
      retry: options.retry ?? {},
      toolTimeoutMs: options.toolTimeoutMs ?? DEFAULT_TOOL_TIMEOUT_MS,
      maxToolResultChars: options.maxToolResultChars ?? DEFAULT_MAX_TOOL_RESULT_CHARS,
      prices: { ...DEFAULT_PRICES, ...(options.prices ?? {}) },
      usage,
      providerFor,
      conversation: options.conversation ?? [],
      redactStream: crew.redaction?.outputs ? redactText : undefined,
      toolsFor(agent) {
        let tools = toolCache.get(agent.name);
        if (!tools) {
          tools = (agent.tools ?? [])
            .filter((name) => name !== 'delegate_work')
            .map((name) => registry.get(name)!);
          toolCache.set(agent.name, tools);
        }
        return tools;
      },
    };

    emit({
      type: 'RUN_STARTED',
      crewName: crew.name,
      process: crew.process,
      taskNames: crew.tasks.map((task) => task.name),
      resumedTaskNames: crew.tasks.filter((task) => outputs.has(task.name)).map((task) => task.name),
    });

    const runTask = async (task: TaskDefinition): Promise<void> => {
      const hierarchical = crew.process === 'HIERARCHICAL';
      const agent = hierarchical ? crew.manager! : crew.agents.get(task.agent!)!;
      const taskUsage = emptyUsage();
      const coworkers = [...crew.agents.values()].filter((other) => other.name !== agent.name);
      const tools = [...ctx.toolsFor(agent)];
      if ((hierarchical || agent.allowDelegation) && coworkers.length > 0) {
        tools.push(
          createDelegationTool(coworkers, async (request) => {
            const worker = crew.agents.get(request.agent)!;
            const messages = [
              new SystemMessage(personaPrompt(worker)),
              new HumanMessage(
                `Task: ${request.task}${request.context ? `\n\nContext:\n${request.context}` : ''}\n\nAnswer with your complete result.`,
              ),
            ];
            return runAgentLoop(ctx, {
              agent: worker,
              taskName: task.name,
              messages,
              tools: ctx.toolsFor(worker),
              maxIterations: worker.maxIterations ?? DEFAULT_MAX_ITERATIONS,
              usage: taskUsage,
            });
          }),
        );
      }
      const contextNames =
        crew.process === 'PARALLEL'
          ? (task.dependsOn ?? [])
          : crew.tasks.slice(0, crew.tasks.indexOf(task)).map((earlier) => earlier.name);
      const context = contextNames
        .map((name) => ({ taskName: name, output: outputs.get(name)?.output }))
        .filter((entry): entry is { taskName: string; output: string } => entry.output !== undefined);
      const description = renderTemplate(task.description, inputs);
      emit({ type: 'TASK_STARTED', taskName: task.name, agentName: agent.name, description });
      const result = await executeTask(ctx, {
        task,
        agent,
        description,
        expectedOutput: task.expectedOutput ? renderTemplate(task.expectedOutput, inputs) : undefined,
        context,
        tools,
        ...(hierarchical
          ? {
              extraInstructions:
                'You manage a crew. Plan the work, delegate parts of it to your coworkers with the delegate_work tool, review what they return, and then give the final answer yourself.',
            }
          : {}),
        approvals,
        redact: crew.redaction?.outputs ? redactText : undefined,
        usage: taskUsage,
      });
      if (controller.signal.aborted) throw cancelledError(controller.signal);
      const taskOutput: TaskOutput = {
        output: result.output,
        ...(result.structuredOutput !== undefined ? { structuredOutput: result.structuredOutput } : {}),
      };
      outputs.set(task.name, taskOutput);
      emit({
        type: 'TASK_COMPLETED',
        taskName: task.name,
        agentName: agent.name,
        ...taskOutput,
        usage: { ...taskUsage },
        ...(result.approval ? { approval: result.approval } : {}),
      });
      await options.onTaskCompleted?.({
        runId,
        taskName: task.name,
        agentName: agent.name,
        ...taskOutput,
        usage: taskUsage,
      });
    };

    try {
      const pending = crew.tasks.filter((task) => !outputs.has(task.name));
      if (crew.process === 'PARALLEL') {
        await runDag(pending, outputs, Math.max(1, options.concurrency ?? 4), runTask, controller.signal);
      } else {
        for (const task of pending) {
          if (controller.signal.aborted) throw cancelledError(controller.signal);
          await runTask(task);
        }
      }
    } catch (error) {
      if (!finished) fail(error);
      return;
    }
    if (finished) return;
    finished = true;
    const lastTask = options.crew.tasks.at(-1)!;
    const final = outputs.get(lastTask.name)!;
    emit({
      type: 'RUN_SUCCEEDED',
      output: final.output,
      ...(final.structuredOutput !== undefined ? { structuredOutput: final.structuredOutput } : {}),
      tasks: tasksRecord(),
      usage: { ...usage },
    });
    channel.close();
    resolveResult({
      status: 'succeeded',
      runId,
      output: final.output,
      ...(final.structuredOutput !== undefined ? { structuredOutput: final.structuredOutput } : {}),
      tasks: tasksRecord(),
      usage: { ...usage },
    });
  }

  const start = (): void => {
    if (started) return;
    started = true;
    if (finished) return;
    execute().catch(fail);
  };

  return {
    runId,
    respond: ({ taskName, ...decision }) => approvals.respond(taskName, decision),
    cancel,
    result() {
      if (!iterated) channel.discard();
      start();
      return resultPromise;
    },
    [Symbol.asyncIterator](): AsyncIterator<RunEvent> {
      if (iterated) throw new AgentsError('INTERNAL_ERROR', 'A run can be iterated only once.');
      if (started) {
        throw new AgentsError(
          'INTERNAL_ERROR',
          'Iterate the run before calling result(); its events were not kept.',
        );
      }
      iterated = true;
      start();
      return {
        next: () => channel.next(),
        return: async () => {
          // The consumer stopped listening: stop the work too.
          cancel('The event consumer stopped iterating.');
          channel.stop();
          return { done: true, value: undefined };
        },
      };
    },
  };
}

function reasonText(reason: unknown): string | undefined {
  if (reason instanceof Error)
    return reason.message === 'This operation was aborted' ? undefined : reason.message;
  return typeof reason === 'string' ? reason : undefined;
}

/** Runs tasks whose dependencies are done, at most `concurrency` at a time. */
function runDag(
  pending: TaskDefinition[],
  outputs: ReadonlyMap<string, TaskOutput>,
  concurrency: number,
  runTask: (task: TaskDefinition) => Promise<void>,
  signal: AbortSignal,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const waiting = [...pending];
    let running = 0;
    let failed = false;
    const launch = (): void => {
      if (failed) return;
      if (signal.aborted) {
        failed = true;
        reject(cancelledError(signal));
        return;
      }
      if (waiting.length === 0 && running === 0) {
        resolve();
        return;
      }
      for (let i = 0; i < waiting.length && running < concurrency; ) {
        const task = waiting[i]!;
        if ((task.dependsOn ?? []).every((dep) => outputs.has(dep))) {
          waiting.splice(i, 1);
          running++;
          runTask(task).then(
            () => {
              running--;
              launch();
            },
            (error: unknown) => {
              failed = true;
              reject(error);
            },
          );
        } else {
          i++;
        }
      }
    };
    launch();
  });
}
