import type { AgentDefinition } from '../crew/crew-definition.js';
import { AgentsError } from '../errors/agents-error.js';
import { type AgentTool, defineTool, type ToolContext } from './define-tool.js';

export const DELEGATION_TOOL_NAME = 'delegate_work';

export interface DelegationRequest {
  agent: string;
  task: string;
  context?: string;
}

/**
 * The built-in delegation tool: hands a piece of work to a coworker agent and returns its answer.
 * `perform` runs the coworker (the runtime streams its tokens and usage under the current task).
 */
export function createDelegationTool(
  coworkers: readonly AgentDefinition[],
  perform: (request: DelegationRequest, context: ToolContext) => Promise<string>,
): AgentTool {
  const names = coworkers.map((agent) => agent.name);
  const roster = coworkers.map((agent) => `- ${agent.name}: ${agent.role}. Goal: ${agent.goal}`).join('\n');
  return defineTool<DelegationRequest>({
    name: DELEGATION_TOOL_NAME,
    description: `Delegate a piece of work to a coworker and get their answer back. Give them everything they need: they see only what you pass in "task" and "context". Coworkers:\n${roster}`,
    input: {
      type: 'object',
      properties: {
        agent: { type: 'string', enum: names, description: 'Name of the coworker' },
        task: { type: 'string', description: 'What the coworker should do' },
        context: { type: 'string', description: 'Everything the coworker needs to know' },
      },
      required: ['agent', 'task'],
      additionalProperties: false,
    },
    async handler(args, context) {
      if (!names.includes(args.agent)) {
        throw new AgentsError(
          'TOOL_ERROR',
          `No coworker named "${args.agent}". Coworkers: ${names.join(', ')}.`,
        );
      }
      return perform(args, context);
    },
  });
}
