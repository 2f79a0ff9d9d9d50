import type { CrewDefinition as RuntimeCrew } from '@troupe/agents';
import type { CrewDefinition } from '../crews/crew-definition.js';

/** The pinned crew version as @troupe/agents executes it. */
export function toRuntimeCrew(def: CrewDefinition): RuntimeCrew {
  return {
    name: def.name,
    process: def.process,
    ...(def.manager ? { manager: def.manager } : {}),
    agents: def.agents.map((a) => ({
      name: a.name,
      role: a.role,
      goal: a.goal,
      backstory: a.backstory,
      instructions: a.instructions,
      model: {
        provider:
          a.model.provider === 'OLLAMA' ? 'ollama' : a.model.provider === 'SCRIPTED' ? 'scripted' : 'openai',
        name: a.model.name,
        ...(a.model.temperature != null ? { temperature: a.model.temperature } : {}),
        ...(a.model.maxTokens != null ? { maxTokens: a.model.maxTokens } : {}),
      },
      tools: a.tools,
      maxIterations: a.maxIterations,
      allowDelegation: a.allowDelegation,
    })),
    tasks: def.tasks.map((t) => ({
      name: t.name,
      description: t.description,
      expectedOutput: t.expectedOutput,
      agent: t.agent,
      dependsOn: t.dependsOn,
      ...(t.outputSchema ? { outputSchema: t.outputSchema as never } : {}),
      requiresApproval: t.requiresApproval,
    })),
  };
}
