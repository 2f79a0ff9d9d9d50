import type { CrewDefinition } from '../crews/crew-definition.js';

/** The one task of a chat with a single agent; its TaskRun carries this name. */
export const CHAT_TASK_NAME = 'reply';

/** The run input that carries the user's message in chat runs (`{{message}}` in task templates). */
export const CHAT_MESSAGE_INPUT = 'message';

/**
 * What a chat with one agent of a crew executes: that agent alone, answering the user's latest
 * message in the light of the conversation before it.
 */
export function agentChatCrew(def: CrewDefinition, agentName: string): CrewDefinition {
  const agent = def.agents.find((a) => a.name === agentName);
  if (!agent) throw new Error(`agent "${agentName}" is not part of crew version "${def.name}"`);
  return {
    name: `${def.name} / ${agent.name}`,
    description: def.description,
    process: 'SEQUENTIAL',
    agents: [{ ...agent, allowDelegation: false }],
    tasks: [
      {
        name: CHAT_TASK_NAME,
        description: `Reply to the user's latest message:\n\n{{${CHAT_MESSAGE_INPUT}}}`,
        expectedOutput: '',
        agent: agent.name,
        dependsOn: [],
        requiresApproval: false,
      },
    ],
  };
}

/** A rough token count (about four characters per token) for windowing a thread's history. */
export function estimateTokens(text: string): number {
  return Math.ceil(text.length / 4);
}
