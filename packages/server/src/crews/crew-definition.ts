import { badInput } from '../errors.js';
import type { CrewProcess, ModelProvider } from '../generated/prisma/enums.js';
import { intInRange, LIMITS, nameText, numberInRange, optionalText, requiredText } from './input-rules.js';

export interface AgentDefinition {
  name: string;
  role: string;
  goal: string;
  backstory: string;
  instructions: string;
  model: { provider: ModelProvider; name: string; temperature?: number; maxTokens?: number };
  tools: string[];
  maxIterations: number;
  allowDelegation: boolean;
}

export interface TaskDefinition {
  name: string;
  description: string;
  expectedOutput: string;
  agent: string;
  dependsOn: string[];
  outputSchema?: Record<string, unknown>;
  requiresApproval: boolean;
}

/** A whole crew as it is stored in a CrewVersion snapshot and executed by workers. */
export interface CrewDefinition {
  name: string;
  description: string;
  process: CrewProcess;
  manager?: string;
  agents: AgentDefinition[];
  tasks: TaskDefinition[];
}

export interface AgentInputShape {
  name: string;
  role: string;
  goal?: string | null;
  backstory?: string | null;
  instructions?: string | null;
  model: { provider: ModelProvider; name: string; temperature?: number | null; maxTokens?: number | null };
  tools?: string[] | null;
  maxIterations?: number | null;
  allowDelegation?: boolean | null;
}

export interface TaskInputShape {
  name: string;
  description: string;
  expectedOutput?: string | null;
  agent: string;
  dependsOn?: string[] | null;
  outputSchema?: unknown;
  requiresApproval?: boolean | null;
}

export interface CrewInputShape {
  name: string;
  description?: string | null;
  process?: CrewProcess | null;
  manager?: string | null;
  agents: AgentInputShape[];
  tasks: TaskInputShape[];
}

const TOOL_RE = /^[a-zA-Z][a-zA-Z0-9_-]{0,63}$/;

function agent(a: AgentInputShape, f: string): AgentDefinition {
  const tools = (a.tools ?? []).map((t, j) => {
    if (!TOOL_RE.test(t))
      throw badInput(
        `${f}.tools[${j}]`,
        'must be a tool name: a letter, then letters, digits, _ or -, at most 64',
      );
    return t;
  });
  if (tools.length > LIMITS.tools) throw badInput(`${f}.tools`, `at most ${LIMITS.tools} tools`);
  if (new Set(tools).size !== tools.length) throw badInput(`${f}.tools`, 'must not repeat a tool');
  return {
    name: nameText(`${f}.name`, a.name),
    role: requiredText(`${f}.role`, a.role, LIMITS.name * 5),
    goal: optionalText(`${f}.goal`, a.goal),
    backstory: optionalText(`${f}.backstory`, a.backstory),
    instructions: optionalText(`${f}.instructions`, a.instructions),
    model: {
      provider: a.model.provider,
      name: requiredText(`${f}.model.name`, a.model.name, LIMITS.name),
      ...(a.model.temperature != null
        ? { temperature: numberInRange(`${f}.model.temperature`, a.model.temperature, 0, 2)! }
        : {}),
      ...(a.model.maxTokens != null
        ? { maxTokens: intInRange(`${f}.model.maxTokens`, a.model.maxTokens, 1, 1_000_000)! }
        : {}),
    },
    tools,
    maxIterations: intInRange(`${f}.maxIterations`, a.maxIterations, 1, 100) ?? 10,
    allowDelegation: a.allowDelegation ?? false,
  };
}

function outputSchema(field: string, v: unknown): Record<string, unknown> | undefined {
  if (v === null || v === undefined) return undefined;
  if (typeof v !== 'object' || Array.isArray(v)) throw badInput(field, 'must be a JSON Schema object');
  if (JSON.stringify(v).length > LIMITS.schemaBytes)
    throw badInput(field, `must be at most ${LIMITS.schemaBytes} bytes`);
  const t = (v as { type?: unknown }).type;
  if (t !== undefined && typeof t !== 'string' && !Array.isArray(t))
    throw badInput(`${field}.type`, 'must be a JSON Schema type');
  return v as Record<string, unknown>;
}

/** Finds a dependency cycle, returned as the task names along it (first name repeated at the end). */
export function findCycle(tasks: { name: string; dependsOn: string[] }[]): string[] | undefined {
  const deps = new Map(tasks.map((t) => [t.name, t.dependsOn]));
  const state = new Map<string, 1 | 2>();
  const stack: string[] = [];
  const visit = (n: string): string[] | undefined => {
    if (state.get(n) === 2) return undefined;
    if (state.get(n) === 1) return [...stack.slice(stack.indexOf(n)), n];
    state.set(n, 1);
    stack.push(n);
    for (const d of deps.get(n) ?? []) {
      const c = visit(d);
      if (c) return c;
    }
    stack.pop();
    state.set(n, 2);
    return undefined;
  };
  for (const t of tasks) {
    const c = visit(t.name);
    if (c) return c;
  }
  return undefined;
}

/**
 * Validates a crew definition as a whole: field rules, unique names, references to agents and
 * tasks that exist, an acyclic task graph, a manager for hierarchical crews. Throws BAD_INPUT
 * naming the field and the rule; returns the normalised definition.
 */
export function validateCrew(input: CrewInputShape, prefix = 'input'): CrewDefinition {
  const name = requiredText(`${prefix}.name`, input.name, LIMITS.name);
  if (input.agents.length === 0) throw badInput(`${prefix}.agents`, 'a crew needs at least one agent');
  if (input.agents.length > LIMITS.agents)
    throw badInput(`${prefix}.agents`, `at most ${LIMITS.agents} agents`);
  if (input.tasks.length === 0) throw badInput(`${prefix}.tasks`, 'a crew needs at least one task');
  if (input.tasks.length > LIMITS.tasks) throw badInput(`${prefix}.tasks`, `at most ${LIMITS.tasks} tasks`);
  const agents = input.agents.map((a, i) => agent(a, `${prefix}.agents[${i}]`));
  const agentNames = new Set<string>();
  agents.forEach((a, i) => {
    if (agentNames.has(a.name))
      throw badInput(`${prefix}.agents[${i}].name`, `"${a.name}" is used by another agent of this crew`);
    agentNames.add(a.name);
  });
  const taskNames = new Set<string>();
  const tasks: TaskDefinition[] = input.tasks.map((t, i) => {
    const f = `${prefix}.tasks[${i}]`;
    const n = nameText(`${f}.name`, t.name);
    if (taskNames.has(n)) throw badInput(`${f}.name`, `"${n}" is used by another task of this crew`);
    taskNames.add(n);
    const agentName = requiredText(`${f}.agent`, t.agent, LIMITS.name);
    if (!agentNames.has(agentName)) {
      throw badInput(
        `${f}.agent`,
        `no agent named "${agentName}" in this crew (agents: ${[...agentNames].join(', ')})`,
      );
    }
    return {
      name: n,
      description: requiredText(`${f}.description`, t.description),
      expectedOutput: optionalText(`${f}.expectedOutput`, t.expectedOutput),
      agent: agentName,
      dependsOn: [...new Set(t.dependsOn ?? [])],
      ...(t.outputSchema != null ? { outputSchema: outputSchema(`${f}.outputSchema`, t.outputSchema)! } : {}),
      requiresApproval: t.requiresApproval ?? false,
    };
  });
  tasks.forEach((t, i) => {
    t.dependsOn.forEach((d, j) => {
      if (d === t.name)
        throw badInput(`${prefix}.tasks[${i}].dependsOn[${j}]`, 'a task cannot depend on itself');
      if (!taskNames.has(d))
        throw badInput(`${prefix}.tasks[${i}].dependsOn[${j}]`, `no task named "${d}" in this crew`);
    });
  });
  const cycle = findCycle(tasks);
  if (cycle)
    throw badInput(`${prefix}.tasks`, `task dependencies must not form a cycle: ${cycle.join(' -> ')}`);
  const process = input.process ?? 'SEQUENTIAL';
  let manager: string | undefined;
  if (input.manager != null) {
    manager = requiredText(`${prefix}.manager`, input.manager, LIMITS.name);
    if (!agentNames.has(manager))
      throw badInput(`${prefix}.manager`, `no agent named "${manager}" in this crew`);
  }
  if (process === 'HIERARCHICAL' && !manager) {
    throw badInput(`${prefix}.manager`, 'a HIERARCHICAL crew needs a manager: the name of one of its agents');
  }
  if (process !== 'HIERARCHICAL' && manager)
    throw badInput(`${prefix}.manager`, 'only HIERARCHICAL crews have a manager');
  return {
    name,
    description: optionalText(`${prefix}.description`, input.description),
    process,
    ...(manager ? { manager } : {}),
    agents,
    tasks,
  };
}
