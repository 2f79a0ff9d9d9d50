import { AIMessage, type BaseMessage, HumanMessage, SystemMessage } from '@langchain/core/messages';
import type { AgentDefinition, TaskDefinition } from '../crew/crew-definition.js';
import { AgentsError } from '../errors/agents-error.js';
import type { UsageTotals } from '../events/run-event.js';
import { redactValue } from '../guardrails/redact-value.js';
import type { AgentTool } from '../tools/define-tool.js';
import { DEFAULT_MAX_ITERATIONS, runAgentLoop } from './agent-loop.js';
import type { ApprovalGate } from './approval-gate.js';
import type { RunContext } from './run-context.js';
import { parseStructuredOutput } from './structured-output.js';

export interface TaskExecutionInput {
  task: TaskDefinition;
  /** The agent answering (the manager in HIERARCHICAL crews). */
  agent: AgentDefinition;
  description: string;
  expectedOutput: string | undefined;
  context: Array<{ taskName: string; output: string }>;
  tools: AgentTool[];
  extraInstructions?: string;
  approvals: ApprovalGate;
  redact: ((text: string) => string) | undefined;
  /** Task totals (delegated work adds to the same object). */
  usage: UsageTotals;
}

export interface TaskExecutionResult {
  output: string;
  structuredOutput?: unknown;
  usage: UsageTotals;
  approval?: { approved: true; feedback?: string };
}

/** System prompt that gives an agent its persona. */
export function personaPrompt(agent: AgentDefinition, extra?: string): string {
  return [
    `You are ${agent.name}. Role: ${agent.role}.`,
    `Goal: ${agent.goal}`,
    agent.backstory,
    agent.instructions,
    extra,
  ]
    .filter((part): part is string => Boolean(part?.trim()))
    .join('\n\n');
}

function taskPrompt(input: TaskExecutionInput): string {
  const parts = [`Task: ${input.description}`];
  if (input.expectedOutput) parts.push(`Expected output: ${input.expectedOutput}`);
  if (input.context.length > 0) {
    parts.push(
      `Context from other tasks:\n${input.context.map((entry) => `## ${entry.taskName}\n${entry.output}`).join('\n\n')}`,
    );
  }
  if (input.task.outputSchema) {
    parts.push(
      `Your final answer must be only a JSON value (no prose, no code fences) that validates against this JSON Schema:\n${JSON.stringify(input.task.outputSchema)}`,
    );
  }
  return parts.join('\n\n');
}

/**
 * Runs one task: tool loop, structured output (one repair round), output validators,
 * PII redaction of the answer and the approval pause with revisions.
 */
export async function executeTask(ctx: RunContext, input: TaskExecutionInput): Promise<TaskExecutionResult> {
  const { task, agent } = input;
  const usage = input.usage;
  const messages: BaseMessage[] = [
    new SystemMessage(personaPrompt(agent, input.extraInstructions)),
    ...ctx.conversation.map((turn) =>
      turn.role === 'user' ? new HumanMessage(turn.content) : new AIMessage(turn.content),
    ),
    new HumanMessage(taskPrompt(input)),
  ];
  const maxIterations = agent.maxIterations ?? DEFAULT_MAX_ITERATIONS;
  const schema = task.outputSchema;

  const answer = async (): Promise<{ output: string; structuredOutput?: unknown }> => {
    // With tools, a provider-enforced format would stop the model from calling them: ask for JSON
    // in the prompt, then enforce the schema natively only in the repair round.
    let text = await runAgentLoop(ctx, {
      agent,
      taskName: task.name,
      messages,
      tools: input.tools,
      maxIterations,
      usage,
      ...(schema && input.tools.length === 0 ? { responseSchema: schema } : {}),
    });
    if (!schema) return { output: text };
    let parsed = parseStructuredOutput(text, schema);
    if (!parsed.ok) {
      messages.push(new AIMessage(text));
      messages.push(
        new HumanMessage(
          `Your answer does not match the required JSON Schema:\n${parsed.issues.map((issue) => `- ${issue}`).join('\n')}\nReply with only the corrected JSON value.`,
        ),
      );
      text = await runAgentLoop(ctx, {
        agent,
        taskName: task.name,
        messages,
        tools: [],
        maxIterations: 1,
        usage,
        responseSchema: schema,
      });
      parsed = parseStructuredOutput(text, schema);
      if (!parsed.ok) {
        throw new AgentsError(
          'STRUCTURED_OUTPUT_INVALID',
          `Task "${task.name}": the answer still does not match outputSchema after one repair round: ${parsed.issues.join('; ')}`,
          { details: { taskName: task.name, agentName: agent.name, issues: parsed.issues } },
        );
      }
    }
    return { output: JSON.stringify(parsed.value), structuredOutput: parsed.value };
  };

  const validated = async (): Promise<{ output: string; structuredOutput?: unknown }> => {
    const maxRetries = task.maxValidationRetries ?? 1;
    for (let attempt = 0; ; attempt++) {
      let result = await answer();
      if (input.redact) {
        const redact = input.redact;
        result = {
          output: redact(result.output),
          ...(result.structuredOutput !== undefined
            ? { structuredOutput: redactValue(result.structuredOutput, redact) }
            : {}),
        };
      }
      const feedback: string[] = [];
      for (const validator of task.validators ?? []) {
        const verdict = await validator(result.output, {
          taskName: task.name,
          agentName: agent.name,
          structuredOutput: result.structuredOutput,
        });
        if (!verdict.ok) feedback.push(verdict.feedback);
      }
      if (feedback.length === 0) return result;
      if (attempt >= maxRetries) {
        throw new AgentsError(
          'GUARDRAIL_FAILED',
          `Task "${task.name}": the answer failed its output checks ${attempt + 1} time(s): ${feedback.join('; ')}`,
          { details: { taskName: task.name, agentName: agent.name, issues: feedback } },
        );
      }
      messages.push(new AIMessage(result.output));
      messages.push(
        new HumanMessage(
          `Your answer was rejected by a check:\n${feedback.map((f) => `- ${f}`).join('\n')}\nTry again.`,
        ),
      );
    }
  };

  const maxRevisions = task.maxRevisions ?? 1;
  for (let revision = 0; ; revision++) {
    const result = await validated();
    if (!task.requiresApproval) return { ...result, usage };
    const decision = await input.approvals.wait(
      {
        runId: ctx.runId,
        taskName: task.name,
        agentName: agent.name,
        output: result.output,
        structuredOutput: result.structuredOutput,
        revision,
        signal: ctx.signal,
      },
      () =>
        ctx.emit({
          type: 'APPROVAL_REQUESTED',
          taskName: task.name,
          agentName: agent.name,
          output: result.output,
          ...(result.structuredOutput !== undefined ? { structuredOutput: result.structuredOutput } : {}),
          revision,
        }),
    );
    if (decision.approved) {
      return {
        ...result,
        usage,
        approval: { approved: true, ...(decision.feedback ? { feedback: decision.feedback } : {}) },
      };
    }
    if (revision >= maxRevisions) {
      throw new AgentsError(
        'APPROVAL_REJECTED',
        `Task "${task.name}" was rejected by the reviewer${decision.feedback ? `: ${decision.feedback}` : ''}.`,
        { details: { taskName: task.name, agentName: agent.name } },
      );
    }
    messages.push(new AIMessage(result.output));
    messages.push(
      new HumanMessage(
        `A reviewer rejected your answer.${decision.feedback ? ` Feedback: ${decision.feedback}` : ''}\nRevise your answer accordingly.`,
      ),
    );
  }
}
