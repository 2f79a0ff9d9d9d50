import { AgentsError } from '../errors/agents-error.js';
import { DELEGATION_TOOL_NAME } from '../tools/delegation-tool.js';
import type { ToolRegistry } from '../tools/tool-registry.js';
import type {
  AgentDefinition,
  CrewDefinition,
  CrewProcess,
  PiiType,
  ProviderName,
  TaskDefinition,
} from './crew-definition.js';
import { orderTasks } from './task-graph.js';
import { templateVariables } from './template-variables.js';

/** A crew after validation: names resolved, enums normalised, tasks in execution order. */
export interface ValidatedCrew {
  name: string;
  process: CrewProcess;
  agents: Map<string, AgentDefinition>;
  tasks: TaskDefinition[];
  manager: AgentDefinition | undefined;
  redaction: { inputs: boolean; outputs: boolean; types: PiiType[] } | undefined;
}

const PROVIDERS: readonly ProviderName[] = ['openai', 'ollama', 'scripted'];
const PROCESSES: readonly CrewProcess[] = ['SEQUENTIAL', 'PARALLEL', 'HIERARCHICAL'];

function invalid(
  message: string,
  field: string,
  extra: { taskName?: string; agentName?: string } = {},
): AgentsError {
  return new AgentsError('INVALID_CREW', message, { details: { field, ...extra } });
}

function normaliseAgent(agent: AgentDefinition, field: string): AgentDefinition {
  if (!agent || typeof agent.name !== 'string' || agent.name.trim() === '') {
    throw invalid('Every agent needs a non-empty name.', `${field}.name`);
  }
  const provider = String(agent.model?.provider ?? '').toLowerCase() as ProviderName;
  if (!PROVIDERS.includes(provider)) {
    throw invalid(
      `Agent "${agent.name}" has model.provider "${String(agent.model?.provider)}"; use one of openai, ollama, scripted.`,
      `${field}.model.provider`,
      { agentName: agent.name },
    );
  }
  if (!agent.model.name) {
    throw invalid(`Agent "${agent.name}" needs model.name.`, `${field}.model.name`, {
      agentName: agent.name,
    });
  }
  if (
    agent.maxIterations !== undefined &&
    (!Number.isInteger(agent.maxIterations) || agent.maxIterations < 1)
  ) {
    throw invalid(
      `Agent "${agent.name}": maxIterations must be a positive integer.`,
      `${field}.maxIterations`,
      {
        agentName: agent.name,
      },
    );
  }
  return { ...agent, model: { ...agent.model, provider } };
}

/**
 * Checks a crew definition and run inputs without calling any model. Agents' tool names are
 * checked only when `tools` is given.
 * Throws `AgentsError` (INVALID_CREW, MISSING_INPUT) naming the field and the rule.
 */
export function validateCrew(
  crew: CrewDefinition,
  options: {
    inputs?: Readonly<Record<string, unknown>>;
    tools?: ToolRegistry;
    completedTaskNames?: string[];
  } = {},
): ValidatedCrew {
  if (!crew || typeof crew.name !== 'string' || crew.name.trim() === '') {
    throw invalid('The crew needs a non-empty name.', 'name');
  }
  const process = String(crew.process ?? 'SEQUENTIAL').toUpperCase() as CrewProcess;
  if (!PROCESSES.includes(process)) {
    throw invalid(
      `Unknown process "${String(crew.process)}"; use SEQUENTIAL, PARALLEL or HIERARCHICAL.`,
      'process',
    );
  }
  if (!Array.isArray(crew.tasks) || crew.tasks.length === 0)
    throw invalid('The crew needs at least one task.', 'tasks');
  const agents = new Map<string, AgentDefinition>();
  for (const [index, raw] of (crew.agents ?? []).entries()) {
    const agent = normaliseAgent(raw, `agents[${index}]`);
    if (agents.has(agent.name))
      throw invalid(`Agent name "${agent.name}" is used twice.`, `agents[${index}].name`);
    agents.set(agent.name, agent);
  }
  let manager: AgentDefinition | undefined;
  if (process === 'HIERARCHICAL') {
    if (crew.manager === undefined) {
      throw invalid(
        'A HIERARCHICAL crew needs a manager (an agent definition or the name of one of its agents).',
        'manager',
      );
    }
    if (typeof crew.manager === 'string') {
      manager = agents.get(crew.manager);
      if (!manager) throw invalid(`Manager "${crew.manager}" is not one of the crew's agents.`, 'manager');
    } else {
      manager = normaliseAgent(crew.manager, 'manager');
    }
    if ([...agents.values()].filter((agent) => agent.name !== manager?.name).length === 0) {
      throw invalid('A HIERARCHICAL crew needs at least one agent besides the manager.', 'agents');
    }
  } else if (agents.size === 0) {
    throw invalid('The crew needs at least one agent.', 'agents');
  }

  for (const [index, task] of crew.tasks.entries()) {
    if (!task || typeof task.name !== 'string' || task.name.trim() === '') {
      throw invalid('Every task needs a non-empty name.', `tasks[${index}].name`);
    }
    if (typeof task.description !== 'string' || task.description.trim() === '') {
      throw invalid(`Task "${task.name}" needs a description.`, `tasks[${index}].description`, {
        taskName: task.name,
      });
    }
    if (task.agent === undefined) {
      if (process !== 'HIERARCHICAL') {
        throw invalid(`Task "${task.name}" needs an agent.`, `tasks[${index}].agent`, {
          taskName: task.name,
        });
      }
    } else if (!agents.has(task.agent)) {
      throw invalid(`Task "${task.name}" uses unknown agent "${task.agent}".`, `tasks[${index}].agent`, {
        taskName: task.name,
      });
    }
  }
  const ordered = orderTasks(crew.tasks);
  if (process === 'SEQUENTIAL' || process === 'HIERARCHICAL') {
    const seen = new Set<string>();
    for (const task of crew.tasks) {
      for (const dep of task.dependsOn ?? []) {
        if (!seen.has(dep)) {
          throw invalid(
            `Task "${task.name}" depends on "${dep}", which comes later; in a ${process} crew dependencies must come first.`,
            'tasks.dependsOn',
            { taskName: task.name },
          );
        }
      }
      seen.add(task.name);
    }
  }

  const everyAgent =
    manager && !agents.has(manager.name) ? [...agents.values(), manager] : [...agents.values()];
  // Tool names are checked when a registry is given (runCrew always passes one, with the built-in
  // http_request registered when an agent asks for it).
  for (const agent of options.tools ? everyAgent : []) {
    for (const toolName of agent.tools ?? []) {
      if (toolName === DELEGATION_TOOL_NAME) continue;
      if (!options.tools?.has(toolName)) {
        throw invalid(
          `Agent "${agent.name}" uses tool "${toolName}", which is not in the tool registry (available: ${
            options.tools?.names().join(', ') || 'none'
          }).`,
          'agents.tools',
          { agentName: agent.name },
        );
      }
    }
  }

  const completed = new Set(options.completedTaskNames ?? []);
  for (const name of completed) {
    if (!crew.tasks.some((task) => task.name === name)) {
      throw invalid(`completedTasks names unknown task "${name}".`, 'completedTasks');
    }
  }
  const inputs = options.inputs ?? {};
  for (const task of crew.tasks) {
    if (completed.has(task.name)) continue;
    const variables = [
      ...templateVariables(task.description),
      ...templateVariables(task.expectedOutput ?? ''),
    ];
    for (const variable of variables) {
      if (inputs[variable] === undefined || inputs[variable] === null) {
        throw new AgentsError(
          'MISSING_INPUT',
          `Task "${task.name}" needs input "${variable}" ({{${variable}}} in its template), but the run inputs do not provide it.`,
          { details: { taskName: task.name, field: `inputs.${variable}` } },
        );
      }
    }
  }

  const pii = crew.guardrails?.redactPii;
  const redaction =
    pii === undefined || pii === false
      ? undefined
      : pii === true
        ? { inputs: true, outputs: true, types: ['email', 'phone', 'card', 'iban', 'ssn'] as PiiType[] }
        : {
            inputs: pii.inputs ?? true,
            outputs: pii.outputs ?? true,
            types: pii.types ?? (['email', 'phone', 'card', 'iban', 'ssn'] as PiiType[]),
          };

  return {
    name: crew.name,
    process,
    agents,
    tasks: process === 'PARALLEL' ? ordered : [...crew.tasks],
    manager,
    redaction,
  };
}
