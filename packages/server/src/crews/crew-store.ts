import type { Tx } from '../db/database.js';
import { TroupeServerError } from '../errors.js';
import type { Prisma } from '../generated/prisma/client.js';
import type { CrewDefinition } from './crew-definition.js';

function agentData(a: CrewDefinition['agents'][number], position: number) {
  return {
    position,
    name: a.name,
    role: a.role,
    goal: a.goal,
    backstory: a.backstory,
    instructions: a.instructions,
    modelProvider: a.model.provider,
    modelName: a.model.name,
    temperature: a.model.temperature ?? null,
    maxTokens: a.model.maxTokens ?? null,
    tools: a.tools,
    maxIterations: a.maxIterations,
    allowDelegation: a.allowDelegation,
  };
}

/**
 * Writes agents, tasks and the dependency graph of a crew to match `def`: agents and tasks are
 * matched by name (kept ids stay stable for threads and history), new ones created, missing ones
 * deleted. Then snapshots the definition as the crew's current version.
 */
async function syncMembers(
  tx: Tx,
  tenantId: string,
  crewId: string,
  def: CrewDefinition,
  version: number,
): Promise<void> {
  const existingAgents = await tx.agent.findMany({ where: { crewId }, select: { id: true, name: true } });
  const agentIds = new Map(existingAgents.map((a) => [a.name, a.id]));
  const wantedAgents = new Set(def.agents.map((a) => a.name));
  // An agent with chat threads is not removed (nor renamed: agents are matched by name): its
  // threads, their messages and the messages waiting their turn would go with it.
  const leaving = existingAgents.filter((a) => !wantedAgents.has(a.name));
  if (leaving.length) {
    const chats = await tx.thread.groupBy({
      by: ['agentId'],
      where: { agentId: { in: leaving.map((a) => a.id) } },
      _count: { _all: true },
    });
    if (chats.length) {
      const named = chats.map((c) => {
        const n = c._count._all;
        return `"${leaving.find((a) => a.id === c.agentId)!.name}" (${n} thread${n === 1 ? '' : 's'})`;
      });
      throw new TroupeServerError(
        'CONFLICT',
        `input.agents: agents with chat threads cannot be removed or renamed: ${named.join(', ')}. Delete their threads (deleteThread) first, or keep the agent's name.`,
        { field: 'input.agents' },
      );
    }
  }
  const existingTasks = await tx.task.findMany({ where: { crewId }, select: { id: true, name: true } });
  const taskIds = new Map(existingTasks.map((t) => [t.name, t.id]));
  const wantedTasks = new Set(def.tasks.map((t) => t.name));

  // Tasks first: they reference agents.
  const goneTasks = existingTasks.filter((t) => !wantedTasks.has(t.name)).map((t) => t.id);
  if (goneTasks.length) await tx.task.deleteMany({ where: { id: { in: goneTasks } } });
  const newAgents = def.agents.map((a, i) => ({ a, i })).filter(({ a }) => !agentIds.has(a.name));
  if (newAgents.length) {
    const created = await tx.agent.createManyAndReturn({
      data: newAgents.map(({ a, i }) => ({ tenantId, crewId, ...agentData(a, i) })),
      select: { id: true, name: true },
    });
    for (const a of created) agentIds.set(a.name, a.id);
  }
  for (const [i, a] of def.agents.entries()) {
    if (newAgents.some((n) => n.a === a)) continue;
    await tx.agent.update({ where: { id: agentIds.get(a.name)! }, data: agentData(a, i) });
  }

  const taskData = (t: CrewDefinition['tasks'][number], position: number) => ({
    position,
    name: t.name,
    description: t.description,
    expectedOutput: t.expectedOutput,
    agentId: agentIds.get(t.agent)!,
    outputSchema: (t.outputSchema ?? undefined) as Prisma.InputJsonValue | undefined,
    requiresApproval: t.requiresApproval,
  });
  const newTasks = def.tasks.map((t, i) => ({ t, i })).filter(({ t }) => !taskIds.has(t.name));
  if (newTasks.length) {
    const created = await tx.task.createManyAndReturn({
      data: newTasks.map(({ t, i }) => ({ tenantId, crewId, ...taskData(t, i) })),
      select: { id: true, name: true },
    });
    for (const t of created) taskIds.set(t.name, t.id);
  }
  for (const [i, t] of def.tasks.entries()) {
    if (newTasks.some((n) => n.t === t)) continue;
    const data = taskData(t, i);
    await tx.task.update({
      where: { id: taskIds.get(t.name)! },
      data: { ...data, outputSchema: data.outputSchema ?? (null as unknown as Prisma.InputJsonValue) },
    });
  }

  await tx.taskDependency.deleteMany({ where: { task: { crewId } } });
  const edges = def.tasks.flatMap((t) =>
    t.dependsOn.map((d) => ({ tenantId, taskId: taskIds.get(t.name)!, dependsOnId: taskIds.get(d)! })),
  );
  if (edges.length) await tx.taskDependency.createMany({ data: edges });

  await tx.crew.update({
    where: { id: crewId },
    data: { managerAgentId: def.manager ? agentIds.get(def.manager)! : null },
  });
  // Agents last: deleting one cascades to the tasks that still point at it, so kept tasks must
  // have been moved to their new agents first (and the manager to a kept agent).
  const goneAgents = existingAgents.filter((a) => !wantedAgents.has(a.name)).map((a) => a.id);
  if (goneAgents.length) await tx.agent.deleteMany({ where: { id: { in: goneAgents } } });
  await tx.crewVersion.create({
    data: { tenantId, crewId, version, definition: def as unknown as Prisma.InputJsonValue },
  });
}

export async function createCrewRecords(
  tx: Tx,
  tenantId: string,
  def: CrewDefinition,
): Promise<{ id: string }> {
  const crew = await tx.crew.create({
    data: { tenantId, name: def.name, description: def.description, process: def.process, version: 1 },
    select: { id: true },
  });
  await syncMembers(tx, tenantId, crew.id, def, 1);
  return crew;
}

export async function updateCrewRecords(
  tx: Tx,
  tenantId: string,
  crewId: string,
  def: CrewDefinition,
): Promise<void> {
  const crew = await tx.crew.update({
    where: { id: crewId },
    data: { name: def.name, description: def.description, process: def.process, version: { increment: 1 } },
    select: { version: true },
  });
  await syncMembers(tx, tenantId, crewId, def, crew.version);
}

/** Reads a crew back as a definition (the base an update's partial input is applied to). */
export async function readCrewDefinition(tx: Tx, crewId: string): Promise<CrewDefinition | null> {
  const crew = await tx.crew.findUnique({
    where: { id: crewId },
    include: {
      manager: { select: { name: true } },
      agents: { orderBy: { position: 'asc' } },
      tasks: {
        orderBy: { position: 'asc' },
        include: {
          agent: { select: { name: true } },
          dependsOn: { include: { dependsOn: { select: { name: true } } } },
        },
      },
    },
  });
  if (!crew) return null;
  return {
    name: crew.name,
    description: crew.description,
    process: crew.process,
    ...(crew.manager ? { manager: crew.manager.name } : {}),
    agents: crew.agents.map((a) => ({
      name: a.name,
      role: a.role,
      goal: a.goal,
      backstory: a.backstory,
      instructions: a.instructions,
      model: {
        provider: a.modelProvider,
        name: a.modelName,
        ...(a.temperature != null ? { temperature: a.temperature } : {}),
        ...(a.maxTokens != null ? { maxTokens: a.maxTokens } : {}),
      },
      tools: a.tools,
      maxIterations: a.maxIterations,
      allowDelegation: a.allowDelegation,
    })),
    tasks: crew.tasks.map((t) => ({
      name: t.name,
      description: t.description,
      expectedOutput: t.expectedOutput,
      agent: t.agent.name,
      dependsOn: t.dependsOn.map((d) => d.dependsOn.name),
      ...(t.outputSchema != null ? { outputSchema: t.outputSchema as Record<string, unknown> } : {}),
      requiresApproval: t.requiresApproval,
    })),
  };
}
